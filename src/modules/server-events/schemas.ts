import { Type, type Static } from 'typebox';
import { CollectEventSchema, CollectResponseSchema, ID_PATTERN, LIMITS, UserTraitsSchema } from '../collect/schemas.js';

/** What one request may carry: a back end sends in bulk, unlike a browser. */
export const SERVER_LIMITS = {
  events: 1000,
  bodyBytes: 1024 * 1024,
  /** How far in the past an event's timestamp may be: the deduplication window, so a late retry is still caught. */
  pastMs: 7 * 24 * 60 * 60 * 1000,
} as const;

const idText = (description: string) => Type.String({ pattern: ID_PATTERN, 'x-error-message': 'must be 1-128 letters, digits, "-" or "_"', description });
const { url, ...browserFields } = CollectEventSchema.properties;

export const ServerEventSchema = Type.Object(
  {
    ...browserFields,
    url: Type.Optional(url),
    visitorId: Type.Optional(idText('The visitor (the tracker\'s mtag_vid); an event needs a visitorId or a userId')),
    userId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "The merchant's id for the user; without a visitorId, the event goes to the visitor who identified as this user" })),
    sessionId: Type.Optional(idText('The browser session, when the sender knows it: the event takes the session\'s attribution')),
    user: Type.Optional(UserTraitsSchema),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', 'x-error-message': 'must be an ISO 3166-1 alpha-2 code such as DE', examples: ['DE'] })),
  },
  { additionalProperties: false },
);
export type ServerEvent = Static<typeof ServerEventSchema>;

export const ServerEventsBodySchema = Type.Object(
  {
    tagId: Type.String({ format: 'uuid', description: "One of your merchants' tags, in any state" }),
    events: Type.Array(ServerEventSchema, { minItems: 1, maxItems: SERVER_LIMITS.events }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        tagId: '0c9f3f4e-8a57-4d59-9b0e-2f6f1b7a3c10',
        events: [
          {
            eventId: '5b1e7a52-3f0a-4c5e-9b8e-2d6c1f0a9e47',
            type: 'purchase',
            userId: 'user_8812',
            value: 49.9,
            currency: 'EUR',
            properties: { orderId: 'A-1042' },
            user: { email: 'jane@example.com' },
          },
        ],
      },
    ],
  },
);
export type ServerEventsBody = Static<typeof ServerEventsBodySchema>;

export const ServerEventsResponseSchema = CollectResponseSchema;

export { LIMITS };
