import { Type, type Static } from 'typebox';
import { CnameRecordSchema, DOMAIN_PATTERN, Nullable, SUBDOMAIN_PATTERN, Timestamp, Uuid } from '../../schemas/common.js';
import { TagStatusSchema } from '../merchants/schemas.js';


const TAG_ID_EXAMPLE = '4d00dcfa-fb3d-4495-88bc-9112aedb2046';

export const GenerateBodySchema = Type.Object(
  {
    merchantId: Uuid('Merchant identifier', '01d1f5db-848d-4410-bb38-7e2c5b084ec8'),
    domain: Type.String({
      maxLength: 253,
      pattern: DOMAIN_PATTERN,
      'x-error-message': 'must be a valid domain without protocol or www prefix',
      description: 'Root domain name only: a valid domain without protocol or www prefix',
      examples: ['example.com'],
    }),
  },
  { additionalProperties: false, examples: [{ merchantId: '01d1f5db-848d-4410-bb38-7e2c5b084ec8', domain: 'example.com' }] },
);
export type GenerateBody = Static<typeof GenerateBodySchema>;

export const GENERATE_MESSAGES = { created: 'New tag created successfully', existing: 'Existing tag retrieved' } as const;

export const GenerateResponseSchema = Type.Object(
  {
    tagId: Uuid('Unique identifier for the generated MarkTag', TAG_ID_EXAMPLE),
    record: Type.Object(CnameRecordSchema.properties, { description: 'DNS CNAME record to be added to domain' }),
    status: TagStatusSchema,
    message: Type.Unsafe<(typeof GENERATE_MESSAGES)[keyof typeof GENERATE_MESSAGES]>({
      type: 'string',
      enum: Object.values(GENERATE_MESSAGES),
      description: 'Status message ("New tag created successfully" or "Existing tag retrieved")',
    }),
  },
  {
    examples: [
      {
        tagId: TAG_ID_EXAMPLE,
        record: { type: 'CNAME', name: 'mtag', value: 'mtag.markopolo.ai', ttl: 300 },
        status: 'active',
        message: 'New tag created successfully',
      },
    ],
  },
);
export type GenerateResponse = Static<typeof GenerateResponseSchema>;

export const VerifyBodySchema = Type.Object(
  {
    tagId: Uuid('The ID of the marktag to verify', TAG_ID_EXAMPLE),
    subdomain: Type.String({
      maxLength: 253,
      pattern: SUBDOMAIN_PATTERN,
      'x-error-message': 'must be a valid subdomain without protocol',
      description: 'Subdomain to verify: a valid subdomain without protocol',
      examples: ['shop.example.com'],
    }),
  },
  { additionalProperties: false, examples: [{ tagId: TAG_ID_EXAMPLE, subdomain: 'shop.example.com' }] },
);
export type VerifyBody = Static<typeof VerifyBodySchema>;

/** Clients that send an Idempotency-Key on every POST may send one here too; it changes nothing. */
export const VerifyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'Accepted and ignored: verification is naturally idempotent, and every call checks DNS again (a retry after fixing the record succeeds).',
      examples: ['5f0c8e8e-7d0a-4f5e-9d43-0d5f8f1b2c3a'],
    }),
  ),
});

export const VerifyResponseSchema = Type.Object(
  { verified: Type.Boolean({ description: 'Whether the MarkTag installation was successfully verified', examples: [true] }) },
  { examples: [{ verified: true }] },
);
export type VerifyResponse = Static<typeof VerifyResponseSchema>;

export const TagParamsSchema = Type.Object({ tagId: Uuid('MarkTag identifier', TAG_ID_EXAMPLE) }, { additionalProperties: false });
export type TagParams = Static<typeof TagParamsSchema>;

export const TagDiagnosticsSchema = Type.Object(
  {
    ignoredEvents: Type.Object(
      {
        bot: Type.Integer({
          minimum: 0,
          description:
            'Events sent without a browser user agent (bots, crawlers, headless browsers, server-side senders): answered 202 with `accepted: 0` and not stored. Server-side senders must use the server-side events API instead of /v1/collect',
          examples: [0],
        }),
      },
      { description: 'Events the collector answered without storing, by reason. Counted within a few seconds; a server crash may lose the last seconds of counts' },
    ),
    lastIgnoredAt: Nullable(Timestamp('When an event was last ignored (null if never)')),
  },
  { description: 'What the collector saw of this tag beyond the stored events' },
);
export type TagDiagnostics = Static<typeof TagDiagnosticsSchema>;

export const TagDetailsSchema = Type.Object({
  tagId: Uuid('MarkTag identifier', TAG_ID_EXAMPLE),
  merchantId: Uuid('The merchant the tag belongs to'),
  domain: Type.String({ description: 'The domain the tag was generated for', examples: ['example.com'] }),
  hostname: Type.String({ description: 'Where the tag is installed: the verified subdomain, else the domain', examples: ['shop.example.com'] }),
  preverified: Type.Boolean({ description: 'Whether the domain is under your partner domain (no DNS verification needed)' }),
  status: TagStatusSchema,
  isConnected: Type.Boolean({ description: 'Whether the tag currently accepts events' }),
  isVerified: Type.Boolean({ description: 'Whether the DNS configuration has been verified' }),
  record: Nullable(
    Type.Object(CnameRecordSchema.properties, { description: 'The CNAME record the merchant adds (null if the tag lacks its configuration)' }),
  ),
  trackingHost: Nullable(
    Type.String({ description: 'The host that serves the tracker: the name whose CNAME matched (null until verified)', examples: ['mtag.shop.example.com'] }),
  ),
  snippet: Type.String({
    description:
      'The HTML to install on every page of the site: a one-line queue stub (so mtag() calls made before the script loads are kept) and the tracker script from the tracking host',
    examples: [
      `<script>window.mtag=window.mtag||function(){(mtag.q=mtag.q||[]).push(arguments)}</script>\n<script async src="https://mtag.shop.example.com/mtag.js" data-tag-id="${TAG_ID_EXAMPLE}"></script>`,
    ],
  }),
  createdAt: Timestamp('When the tag was generated'),
  verifiedAt: Nullable(Timestamp('When the tag was last verified')),
  lastEventAt: Nullable(Timestamp('When the tag last received an event (to the minute)')),
  diagnostics: TagDiagnosticsSchema,
});
export type TagDetails = Static<typeof TagDetailsSchema>;
