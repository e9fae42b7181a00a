import type { NamedStatement } from '../../db/client.js';
import type { EventRow } from '../../db/schema/index.js';
import type { EventFilters, Position } from './repository.js';

/**
 * The statements that read event rows (a page, a stream's replay, the hub's feed), written as SQL
 * and named by the shape of their filters, so that each shape is prepared once per connection.
 *
 * Measured on a page of 100 events: building the statement and mapping its rows through the query
 * builder cost about 1.2 ms of the server's CPU, more than the rest of the request's own work, and
 * PostgreSQL planned the statement anew each time (1–4 ms over a few weekly partitions). A named
 * statement is planned generically after five runs, and PostgreSQL then prunes the partitions when
 * it executes it ("Subplans Removed"); test/index-plans.test.ts checks that these generic plans read
 * about a page too. Values go in as parameters: a shape never holds one.
 */

/**
 * Every column of an event, with the 64-bit and decimal ones as text so that both engines give the
 * same JavaScript values, and times as epoch milliseconds: parsing PostgreSQL's timestamp text was
 * the biggest single cost of mapping a page (0.2 ms for 100 events). A Date holds milliseconds, so
 * nothing is lost; a float8 of a microsecond time never rounds up to the next millisecond.
 */
const COLUMNS = `e.id::text as id, e.event_id, e.tag_id, e.merchant_id, e.partner_id, e.type,
  (extract(epoch from e.timestamp) * 1000)::float8 as timestamp_ms, (extract(epoch from e.received_at) * 1000)::float8 as received_ms,
  e.url, e.referrer, e.title, e.visitor_id, e.session_id, e.value::text as value, e.currency, e.properties,
  e.device_type, e.device_browser, e.device_os, e.source, e.user_id, e.country, e.attr_source, e.attr_medium, e.attr_campaign,
  e.attr_term, e.attr_content, e.channel, e.click_id_type, e.referrer_host, e.landing_page`;

/** An event as the statements return it. */
export interface RawEventRow {
  id: string;
  event_id: string;
  tag_id: string;
  merchant_id: string;
  partner_id: string;
  type: string;
  timestamp_ms: number;
  received_ms: number;
  url: string | null;
  referrer: string | null;
  title: string | null;
  visitor_id: string;
  session_id: string | null;
  value: string | null;
  currency: string | null;
  properties: Record<string, unknown> | null;
  device_type: string | null;
  device_browser: string | null;
  device_os: string | null;
  source: string;
  user_id: string | null;
  country: string | null;
  attr_source: string | null;
  attr_medium: string | null;
  attr_campaign: string | null;
  attr_term: string | null;
  attr_content: string | null;
  channel: string | null;
  click_id_type: string | null;
  referrer_host: string | null;
  landing_page: string | null;
}

export function toEventRow(raw: RawEventRow): EventRow {
  return {
    id: BigInt(raw.id),
    eventId: raw.event_id,
    tagId: raw.tag_id,
    merchantId: raw.merchant_id,
    partnerId: raw.partner_id,
    type: raw.type,
    timestamp: new Date(raw.timestamp_ms),
    receivedAt: new Date(raw.received_ms),
    url: raw.url,
    referrer: raw.referrer,
    title: raw.title,
    visitorId: raw.visitor_id,
    sessionId: raw.session_id,
    value: raw.value === null ? null : Number(raw.value),
    currency: raw.currency,
    properties: raw.properties,
    deviceType: raw.device_type,
    deviceBrowser: raw.device_browser,
    deviceOs: raw.device_os,
    source: raw.source,
    userId: raw.user_id,
    country: raw.country,
    attrSource: raw.attr_source,
    attrMedium: raw.attr_medium,
    attrCampaign: raw.attr_campaign,
    attrTerm: raw.attr_term,
    attrContent: raw.attr_content,
    channel: raw.channel,
    clickIdType: raw.click_id_type,
    referrerHost: raw.referrer_host,
    landingPage: raw.landing_page,
  };
}

/** A statement with its parameters; `$n` placeholders are numbered as conditions are added. */
class Statement {
  readonly params: unknown[] = [];
  private readonly conditions: string[] = [];
  private readonly shape: string[] = [];

  /** `condition` holds `?` where the value goes; `code` names this condition in the statement's name. */
  where(code: string, condition: string, ...values: unknown[]): this {
    let next = 0;
    this.conditions.push(condition.replace(/\?/g, () => this.placeholder(values[next++])));
    this.shape.push(code);
    return this;
  }

  build(kind: string, select: string, tail: (param: (value: unknown) => string) => string): { statement: NamedStatement; params: unknown[] } {
    const where = this.conditions.length > 0 ? `where ${this.conditions.join(' and ')}` : '';
    const text = `select ${select} from events e ${where} ${tail((value) => this.placeholder(value))}`;
    return { statement: { name: `marktag_events_${kind}_${this.shape.join('')}`, text }, params: this.params };
  }

  /** The next `$n`, bound to `value`. */
  private placeholder(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

function filtered(partnerId: string, filters: EventFilters, latest: Date): Statement {
  const statement = new Statement().where('p', 'e.partner_id = ?', partnerId);
  if (filters.merchantId !== undefined) statement.where('m', 'e.merchant_id = ?', filters.merchantId);
  if (filters.tagId !== undefined) statement.where('g', 'e.tag_id = ?', filters.tagId);
  const [onlyType] = filters.types ?? [];
  // One type keeps its own shape: `= any(array)` on an index's middle column would not return its rows in time order.
  if (filters.types?.length === 1 && onlyType !== undefined) statement.where('t', 'e.type = ?', onlyType);
  else if (filters.types !== undefined) statement.where('T', 'e.type = any(?::text[])', filters.types);
  if (filters.from !== undefined) statement.where('f', 'e.timestamp >= ?', filters.from);
  // Without a `to`, the latest time an event can have: the same rows, and the partitions of the
  // weeks ahead (and the default one) are left out before their indexes are read.
  statement.where('u', 'e.timestamp < ?', filters.to ?? latest);
  if (filters.visitorId !== undefined) statement.where('v', 'e.visitor_id = ?', filters.visitorId);
  if (filters.sessionId !== undefined) statement.where('s', 'e.session_id = ?', filters.sessionId);
  if (filters.userId !== undefined) statement.where('i', 'e.user_id = ?', filters.userId);
  if (filters.source !== undefined) statement.where('o', 'e.source = ?', filters.source);
  return statement;
}

/** One page newest first, after `position` (exclusive); each row also gives its time in microseconds, for the next cursor. */
export function pageStatement(partnerId: string, filters: EventFilters, after: Position | undefined, limit: number, latest: Date) {
  const statement = filtered(partnerId, filters, latest);
  // The row comparison walks the index from the position on.
  if (after !== undefined) {
    statement.where('k', "(e.timestamp, e.id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::bigint)", after.micros.toString(), after.id.toString());
  }
  return statement.build(
    'page',
    `${COLUMNS}, (extract(epoch from e.timestamp) * 1000000)::bigint::text as micros`,
    (param) => `order by e.timestamp desc nulls last, e.id desc nulls last limit ${param(limit)}`,
  );
}

/** A partner's events after an id and below a horizon, in id order: a reconnecting stream's replay. */
export function afterIdStatement(partnerId: string, filters: EventFilters, afterId: bigint, before: bigint, limit: number, latest: Date) {
  return filtered(partnerId, filters, latest)
    .where('a', 'e.id > ?::bigint and e.id < ?::bigint', afterId.toString(), before.toString())
    .build('after', COLUMNS, (param) => `order by e.id limit ${param(limit)}`);
}

/** Every partner's events after an id and below a horizon, in id order: the stream hub's feed. */
export function newSinceStatement(afterId: bigint, before: bigint, limit: number) {
  return new Statement()
    .where('a', 'e.id > ?::bigint and e.id < ?::bigint', afterId.toString(), before.toString())
    .build('new', COLUMNS, (param) => `order by e.id limit ${param(limit)}`);
}
