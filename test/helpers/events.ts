import { randomUUID } from 'node:crypto';
import type { DatabaseHandle } from '../../src/db/client.js';
import { CollectRepository, PLAIN_EVENT_FIELDS, type EventRecord } from '../../src/modules/collect/repository.js';

export interface Owner {
  partnerId: string;
  merchantId: string;
  tagId: string;
}

export type EventSpec = Partial<Omit<EventRecord, 'tagId' | 'merchantId' | 'partnerId'>> & { at: Date | string };

/** Writes events through the collector's own insert, with chosen times, for read-side tests. */
export async function seedEvents(database: DatabaseHandle, owner: Owner, specs: EventSpec[]): Promise<EventRecord[]> {
  const rows: EventRecord[] = specs.map(({ at, ...spec }) => {
    const time = new Date(at);
    return {
      eventId: randomUUID(),
      type: 'page_view',
      timestamp: time,
      receivedAt: time,
      url: 'https://shop.example.test/',
      referrer: null,
      title: null,
      visitorId: 'visitor-1',
      sessionId: null,
      value: null,
      currency: null,
      properties: null,
      deviceType: 'desktop',
      deviceBrowser: 'Chrome',
      deviceOs: 'Linux',
      ...PLAIN_EVENT_FIELDS,
      ...spec,
      tagId: owner.tagId,
      merchantId: owner.merchantId,
      partnerId: owner.partnerId,
    };
  });
  await new CollectRepository(database.db, database.run).insertEvents(rows);
  return rows;
}
