import { Type, type Static } from 'typebox';
import { Nullable, Uuid } from '../../schemas/common.js';

export const MeSchema = Type.Object({
  partnerId: Uuid('Your partner identifier'),
  name: Type.String({ description: 'Your partner name', examples: ['Acme Commerce'] }),
  domain: Nullable(
    Type.String({ description: 'Your partner domain: tags on it and its subdomains are preverified', examples: ['acme-commerce.com'] }),
  ),
});
export type Me = Static<typeof MeSchema>;
