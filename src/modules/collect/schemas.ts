import { Type, type Static } from 'typebox';
import { CURRENCY_PATTERN, EVENT_TYPE_PATTERN, LIMITS, RULE_MESSAGES } from './event-rules.js';

export { EVENT_TYPE_PATTERN, LIMITS };

export const ID_PATTERN = '^[A-Za-z0-9_-]{1,128}$';

export const CollectEventSchema = Type.Object(
  {
    eventId: Type.Optional(Type.String({ format: 'uuid', description: 'Unique per tag: a replay with the same id stores nothing twice. Generated when absent.' })),
    type: Type.String({
      pattern: EVENT_TYPE_PATTERN,
      'x-error-message': RULE_MESSAGES.type,
      description: 'Event type, e.g. page_view, purchase, lead, sign_up, subscribe, start_trial',
      examples: ['purchase'],
    }),
    timestamp: Type.Optional(
      Type.String({ format: 'date-time', description: 'Client time (ISO 8601); replaced by the receive time when more than 5 minutes ahead of it' }),
    ),
    url: Type.String({ minLength: 1, maxLength: LIMITS.url, description: 'Page URL', examples: ['https://shop.example.com/checkout'] }),
    referrer: Type.Optional(Type.String({ maxLength: LIMITS.url })),
    title: Type.Optional(Type.String({ maxLength: LIMITS.title })),
    value: Type.Optional(Type.Number({ minimum: 0, maximum: LIMITS.value, description: 'Conversion value', examples: [49.9] })),
    currency: Type.Optional(
      Type.String({ pattern: CURRENCY_PATTERN, 'x-error-message': RULE_MESSAGES.currency, examples: ['USD'] }),
    ),
    properties: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        maxProperties: LIMITS.propertiesKeys,
        description: `Free-form properties: at most ${LIMITS.propertiesKeys} keys and ${LIMITS.propertiesBytes} bytes of JSON`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type CollectEvent = Static<typeof CollectEventSchema>;

const SHA256_PATTERN = '^[0-9a-f]{64}$';

/** Who the visitor is, for conversion matching: hashed on arrival, never stored in clear. */
export const UserTraitsSchema = Type.Object(
  {
    email: Type.Optional(Type.String({ maxLength: 254, description: 'Trimmed and lower-cased, then kept only as its SHA-256', examples: ['jane@example.com'] })),
    phone: Type.Optional(
      Type.String({ maxLength: 32, description: 'With its country code; kept only as the SHA-256 of its digits', examples: ['+44 20 7946 0958'] }),
    ),
    emailSha256: Type.Optional(Type.String({ pattern: SHA256_PATTERN, 'x-error-message': 'must be 64 lower-case hex digits', description: 'SHA-256 of the normalised email, when the sender hashes it itself' })),
    phoneSha256: Type.Optional(Type.String({ pattern: SHA256_PATTERN, 'x-error-message': 'must be 64 lower-case hex digits', description: 'SHA-256 of the phone digits, when the sender hashes it itself' })),
  },
  { additionalProperties: false },
);
export type UserTraits = Static<typeof UserTraitsSchema>;

export const CollectBodySchema = Type.Object(
  {
    tagId: Type.String({ format: 'uuid', description: 'The MarkTag the events belong to' }),
    visitorId: Type.Optional(Type.String({ pattern: ID_PATTERN, 'x-error-message': 'must be 1-128 letters, digits, "-" or "_"' })),
    sessionId: Type.Optional(Type.String({ pattern: ID_PATTERN, 'x-error-message': 'must be 1-128 letters, digits, "-" or "_"' })),
    userId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: "The merchant's own id for the signed-in user (sent by the tracker after identify)" }),
    ),
    user: Type.Optional(UserTraitsSchema),
    events: Type.Array(CollectEventSchema, { minItems: 1, maxItems: LIMITS.events }),
  },
  { additionalProperties: false },
);
export type CollectBody = Static<typeof CollectBodySchema>;

/** The tag id again, in the URL, for a body the collector cannot read: the tracker sends it. */
export const CollectQuerySchema = Type.Object(
  {
    t: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          "The body's `tagId` (the tracker sends it). Used only when the body cannot be read, so that a request over 64 KiB still counts in that tag's diagnostics (`rejected.PAYLOAD_TOO_LARGE`); anything but a tag id is ignored.",
      }),
    ),
  },
  { additionalProperties: true },
);

export const CollectResponseSchema = Type.Object({
  accepted: Type.Integer({ description: 'Events of the request now stored, replays included', examples: [3] }),
  duplicates: Type.Integer({ description: 'Of those, events that were already stored (replays)', examples: [0] }),
});
export type CollectResponse = Static<typeof CollectResponseSchema>;
