import { Type, type Static } from 'typebox';
import { Nullable, Timestamp } from '../../schemas/common.js';

const count = (description: string) => Type.Integer({ minimum: 0, description, examples: [0] });

export const TagDiagnosticsReportSchema = Type.Object({
  window: Type.Object(
    { from: Timestamp('Start of the first hour counted'), to: Timestamp('Now') },
    { description: 'The last 24 hours, counted by the hour: from the start of the hour 23 hours ago until now' },
  ),
  accepted: count('Events stored (browser and server), replays not counted'),
  duplicates: count('Events received again with an eventId already stored (replays, or pixel + server)'),
  ignored: Type.Object(
    {
      bot: count('Events from a client without a browser user agent: answered 202, not stored'),
      suppressed: count('Events of a suppressed visitor or user: answered, not stored'),
    },
    { description: 'Events answered but not stored' },
  ),
  rejected: Type.Object(
    {
      VALIDATION_ERROR: count('Events of refused malformed batches'),
      ORIGIN_NOT_ALLOWED: count('Events sent from a page outside the tag\'s domain'),
      TAG_NOT_VERIFIED: count('Events sent while the tag was not verified or no longer connected'),
      PAYLOAD_TOO_LARGE: count('Requests over the body limit (their events cannot be read, so each counts as one)'),
      RATE_LIMITED: count('Events of requests over the tag\'s rate limit'),
    },
    { description: 'Events the collector refused, by error code (of requests whose tag could be read)' },
  ),
  lastEventAt: Nullable(Timestamp('When the tag last stored an event of either source')),
  lastBrowserEventAt: Nullable(Timestamp('When the tag last stored an event from the tracker')),
  lastServerEventAt: Nullable(Timestamp('When the tag last stored an event from POST /v1/partners/events')),
});
export type TagDiagnosticsReport = Static<typeof TagDiagnosticsReportSchema>;

export const REJECTION_CODES = ['VALIDATION_ERROR', 'ORIGIN_NOT_ALLOWED', 'TAG_NOT_VERIFIED', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED'] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];
