import { Type, type Static } from 'typebox';
import { Nullable, Timestamp, Uuid } from '../../schemas/common.js';
import { EVENT_TYPE_PATTERN } from '../collect/schemas.js';

/** The types that count as conversions in summaries. */
export const CONVERSION_TYPES = ['purchase', 'lead', 'sign_up', 'subscribe', 'start_trial'] as const;

const ISO_8601 = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$';
const isoDate = (description: string) =>
  Type.String({
    pattern: ISO_8601,
    'x-error-message': 'must be an ISO 8601 date or date-time, such as 2025-01-25 or 2025-01-25T10:30:00Z',
    description,
    examples: ['2025-01-25T00:00:00Z'],
  });
const TYPE_LIST = `^${EVENT_TYPE_PATTERN.slice(1, -1)}(,${EVENT_TYPE_PATTERN.slice(1, -1)}){0,19}$`;
const ID = '^[A-Za-z0-9_-]{1,128}$';

const FilterProperties = {
  merchantId: Type.Optional(Uuid('Only this merchant (default: all your merchants)')),
  tagId: Type.Optional(Uuid('Only this tag')),
  type: Type.Optional(
    Type.String({
      pattern: TYPE_LIST,
      'x-error-message': 'must be a comma-separated list of at most 20 event types, such as page_view,purchase',
      description: 'Only these event types, comma-separated',
      examples: ['purchase,lead'],
    }),
  ),
  from: Type.Optional(isoDate('Events at or after this time (default: 30 days ago). A date alone is midnight UTC starting that day; a date-time without a zone is UTC.')),
  to: Type.Optional(isoDate('Events before this time, exclusive (default: no limit). A date alone is midnight UTC starting that day, so `to=2025-01-26` ends with the 25th.')),
  visitorId: Type.Optional(Type.String({ pattern: ID, 'x-error-message': 'must be 1-128 letters, digits, "-" or "_"', description: 'Only this visitor' })),
  sessionId: Type.Optional(Type.String({ pattern: ID, 'x-error-message': 'must be 1-128 letters, digits, "-" or "_"', description: 'Only this session' })),
  userId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "Only this user (the merchant's own user id, from identify or a server event)" })),
  source: Type.Optional(
    Type.Unsafe<'browser' | 'server'>({ type: 'string', enum: ['browser', 'server'], description: 'Only events from the tracker (browser) or from POST /v1/partners/events (server)' }),
  ),
};

export const EventsQuerySchema = Type.Object(
  {
    ...FilterProperties,
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Events per page' }),
    cursor: Type.Optional(Type.String({ maxLength: 512, description: 'pagination.nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuerySchema>;

export const ExportQuerySchema = Type.Object(
  {
    ...FilterProperties,
    format: Type.Unsafe<'ndjson' | 'csv'>({ type: 'string', enum: ['ndjson', 'csv'], default: 'ndjson', description: 'ndjson (one JSON event a line) or csv' }),
  },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuerySchema>;

export const SummaryQuerySchema = Type.Object(
  {
    merchantId: Uuid('The merchant'),
    tagId: Type.Optional(Uuid('Only this tag of the merchant')),
    from: Type.Optional(
      isoDate('Start of the range (default: 30 days before `to`). A date alone is the midnight starting that day in `timezone`; a date-time without a zone is UTC.'),
    ),
    to: Type.Optional(
      isoDate('End of the range, exclusive (default: now). A date alone is the midnight starting that day in `timezone`, so `to=2025-01-26` ends with the 25th.'),
    ),
    interval: Type.Unsafe<'hour' | 'day'>({ type: 'string', enum: ['hour', 'day'], default: 'day', description: 'Bucket size of the series' }),
    timezone: Type.String({
      maxLength: 64,
      default: 'UTC',
      description: 'IANA time zone of the buckets and of date-only `from` and `to`, such as Europe/Paris',
      examples: ['America/New_York'],
    }),
  },
  { additionalProperties: false },
);
export type SummaryQuery = Static<typeof SummaryQuerySchema>;

export const StreamQuerySchema = Type.Object(
  {
    merchantId: FilterProperties.merchantId,
    tagId: FilterProperties.tagId,
    type: FilterProperties.type,
    lastEventId: Type.Optional(
      Type.String({ pattern: '^\\d{1,19}$', 'x-error-message': 'must be an event id', description: 'Resume after this event id (or send the Last-Event-ID header)' }),
    ),
  },
  { additionalProperties: false },
);
export type StreamQuery = Static<typeof StreamQuerySchema>;

export const AttributionSchema = Type.Object(
  {
    source: Type.String({ description: 'utm_source; else the click id\'s platform; else the referrer\'s host; else (direct)', examples: ['google'] }),
    medium: Type.String({ description: 'utm_medium; else cpc for a click id; else organic, social or referral by the referrer; else (none)', examples: ['cpc'] }),
    campaign: Nullable(Type.String({ description: 'utm_campaign', examples: ['black_friday'] })),
    term: Nullable(Type.String({ description: 'utm_term' })),
    content: Nullable(Type.String({ description: 'utm_content' })),
    channel: Type.String({ description: "GA4's default channel group", examples: ['Paid Search'] }),
    clickIdType: Nullable(
      Type.Unsafe<'google' | 'meta' | 'tiktok' | 'microsoft' | 'linkedin' | 'x'>({ type: 'string', enum: ['google', 'meta', 'tiktok', 'microsoft', 'linkedin', 'x'], description: 'The ad platform of the click id in the landing URL' }),
    ),
    referrerHost: Nullable(Type.String({ description: "The referrer's host, unless on the page's own site", examples: ['www.google.com'] })),
    landingPage: Nullable(Type.String({ description: 'The path of the first page of the session (of the event, for a server event without a session)', examples: ['/products/42'] })),
  },
  { description: "Where the visit came from, with session scope: the session's first event, or the latest event of it that brought its own campaign. Null for events stored before attribution existed." },
);
export type ApiAttribution = Static<typeof AttributionSchema>;

export const EventSchema = Type.Object({
  id: Type.String({ description: 'Server-assigned, strictly increasing (as a string: it may exceed 2^53)', examples: ['1042'] }),
  eventId: Uuid('The tracker-assigned id: unique per tag'),
  tagId: Uuid('The tag that collected it'),
  merchantId: Uuid('The merchant of that tag'),
  type: Type.String({ examples: ['purchase'] }),
  timestamp: Timestamp('Event time: the client time unless more than 5 minutes ahead of receivedAt'),
  receivedAt: Timestamp('When the collector received it'),
  url: Nullable(Type.String({ description: 'The page, with only the attribution parameters (and the merchant\'s keepQueryParams) of its query string; null for a server event sent without one', examples: ['https://shop.example.com/checkout?utm_source=news'] })),
  referrer: Nullable(Type.String({ description: 'Origin and path of the referring page' })),
  title: Nullable(Type.String()),
  visitorId: Type.String(),
  sessionId: Nullable(Type.String()),
  value: Nullable(Type.Number({ examples: [49.9] })),
  currency: Nullable(Type.String({ examples: ['EUR'] })),
  properties: Nullable(Type.Record(Type.String(), Type.Unknown())),
  device: Type.Object({
    type: Nullable(Type.String({ examples: ['desktop'] })),
    browser: Nullable(Type.String({ examples: ['Chrome'] })),
    os: Nullable(Type.String({ examples: ['Windows'] })),
  }),
  source: Type.Unsafe<'browser' | 'server'>({ type: 'string', enum: ['browser', 'server'], description: 'browser: the tracker (POST /v1/collect); server: POST /v1/partners/events' }),
  userId: Nullable(Type.String({ description: "The merchant's id for the user: sent with the event, or the visitor's identified user", examples: ['user_8812'] })),
  country: Nullable(Type.String({ description: 'ISO 3166-1 alpha-2 country of the client address (the address is never stored), or as a server sent it', examples: ['DE'] })),
  attribution: Nullable(AttributionSchema),
});
export type ApiEvent = Static<typeof EventSchema>;

export const EventPageSchema = Type.Object({
  events: Type.Array(EventSchema, { description: 'Newest first by event time, ties by id' }),
  pagination: Type.Object({
    limit: Type.Integer(),
    hasMore: Type.Boolean(),
    nextCursor: Nullable(Type.String({ description: 'Pass as `cursor` for the next page; null on the last page' })),
  }),
});
export type EventPage = Static<typeof EventPageSchema>;

export const SummarySchema = Type.Object({
  totals: Type.Object({
    events: Type.Integer(),
    visitors: Type.Integer({ description: 'Distinct visitors' }),
    sessions: Type.Integer({ description: 'Distinct sessions' }),
    pageViews: Type.Integer(),
    conversions: Type.Integer({ description: `Events of the types ${CONVERSION_TYPES.join(', ')}` }),
    conversionValue: Type.Array(Type.Object({ currency: Type.String({ examples: ['EUR'] }), value: Type.Number({ examples: [1249.5] }) }), {
      description: 'Sum of conversion values per currency',
    }),
  }),
  byType: Type.Array(Type.Object({ type: Type.String(), count: Type.Integer() }), { description: 'Most frequent first' }),
  series: Type.Array(
    Type.Object({
      start: Timestamp('Bucket start (midnight or the hour, in the requested time zone)'),
      events: Type.Integer(),
      visitors: Type.Integer(),
      conversions: Type.Integer(),
    }),
    { description: 'One bucket per interval of the range, empty ones included' },
  ),
});
export type Summary = Static<typeof SummarySchema>;
