import type { ApiEvent } from './schemas.js';

export const CSV_COLUMNS = [
  'id',
  'eventId',
  'tagId',
  'merchantId',
  'type',
  'timestamp',
  'receivedAt',
  'url',
  'referrer',
  'title',
  'visitorId',
  'sessionId',
  'value',
  'currency',
  'properties',
  'deviceType',
  'deviceBrowser',
  'deviceOs',
  'source',
  'userId',
  'country',
  'attributionSource',
  'attributionMedium',
  'attributionCampaign',
  'attributionTerm',
  'attributionContent',
  'channel',
  'clickIdType',
  'referrerHost',
  'landingPage',
] as const;

/**
 * One RFC 4180 field. Text a spreadsheet would run as a formula (=, +, -, @, tab, CR) is prefixed
 * with an apostrophe: an exported URL or title must not become code on the analyst's machine.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(event: ApiEvent): string {
  const values: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
    ...event,
    properties: event.properties === null ? null : JSON.stringify(event.properties),
    deviceType: event.device.type,
    deviceBrowser: event.device.browser,
    deviceOs: event.device.os,
    attributionSource: event.attribution?.source ?? null,
    attributionMedium: event.attribution?.medium ?? null,
    attributionCampaign: event.attribution?.campaign ?? null,
    attributionTerm: event.attribution?.term ?? null,
    attributionContent: event.attribution?.content ?? null,
    channel: event.attribution?.channel ?? null,
    clickIdType: event.attribution?.clickIdType ?? null,
    referrerHost: event.attribution?.referrerHost ?? null,
    landingPage: event.attribution?.landingPage ?? null,
  };
  return `${CSV_COLUMNS.map((column) => csvField(values[column])).join(',')}\r\n`;
}

export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

export function ndjsonRow(event: ApiEvent): string {
  return `${JSON.stringify(event)}\n`;
}
