// Figure 1c: the floor under figure 1. A minimal batch-committing collector, with none of
// MarkTag's request pipeline (no validation, tag look-up, limits, logging, metrics, UA parsing):
// Fastify, a JSON body, natural batching (a flush at once when none is in flight, a gathered one
// while one is, a second in parallel only when 100 events wait) and a durable commit.
//   FLOOR_STORAGE=simple   one table with one unique index
//   FLOOR_STORAGE=marktag  MarkTag's own storage: its built write statement into the partitioned
//                          events table (8 indexes) and the event_keys of the deduplication window
// It writes to the first tag of the database it is given, whatever tag a request names.
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { openPostgres } from '../dist/db/client.js';
import { CollectRepository, PLAIN_EVENT_FIELDS } from '../dist/modules/collect/repository.js';

const storage = process.env.FLOOR_STORAGE ?? 'simple';
const database = openPostgres(process.env.DATABASE_URL, { max: 10 });
const repository = new CollectRepository(database.db, database.run);
const [tag] = (await database.pool.query('select id, partner_id, merchant_id from marktags order by created_at limit 1')).rows;
if (!tag) throw new Error('no tag: create one first');

const SIMPLE = {
  name: 'floor_write',
  text: `insert into floor_events (tag_id, event_id, type, timestamp, received_at, url, title, visitor_id, session_id)
         select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[])
         on conflict do nothing`,
};
if (storage === 'simple') {
  await database.pool.query(`create table if not exists floor_events (id bigserial primary key, tag_id uuid not null, event_id uuid not null,
    type text not null, timestamp timestamptz not null, received_at timestamptz not null, url text not null, title text,
    visitor_id text not null, session_id text, unique (tag_id, event_id))`);
}

async function write(rows) {
  if (storage === 'marktag') return repository.writeBatch(rows, []);
  const column = (pick) => rows.map(pick);
  await database.run(SIMPLE, [
    column((r) => r.tagId), column((r) => r.eventId), column((r) => r.type), column((r) => r.timestamp.toISOString()),
    column((r) => r.receivedAt.toISOString()), column((r) => r.url), column((r) => r.title), column((r) => r.visitorId), column((r) => r.sessionId),
  ]);
}

let waiting = [];
let waitingEvents = 0;
let inFlight = 0;
function flush() {
  if (waiting.length === 0 || inFlight >= 2 || (inFlight === 1 && waitingEvents < 100)) return;
  const batch = waiting;
  waiting = [];
  waitingEvents = 0;
  inFlight++;
  write(batch.flatMap((b) => b.rows))
    .then(() => batch.forEach((b) => b.resolve()), (error) => batch.forEach((b) => b.reject(error)))
    .finally(() => {
      inFlight--;
      flush();
    });
}
const enqueue = (rows) =>
  new Promise((resolve, reject) => {
    waiting.push({ rows, resolve, reject });
    waitingEvents += rows.length;
    flush();
  });

const app = Fastify({ logger: false });
app.post('/v1/collect', async (request, reply) => {
  const { visitorId, sessionId, events } = request.body;
  const now = new Date();
  const rows = events.map((event) => ({
    eventId: event.eventId ?? randomUUID(), type: event.type, timestamp: now, receivedAt: now, url: event.url, referrer: null,
    title: event.title ?? null, visitorId, sessionId: sessionId ?? null, value: null, currency: null, properties: null,
    deviceType: 'desktop', deviceBrowser: 'Chrome', deviceOs: 'Windows', ...PLAIN_EVENT_FIELDS, tagId: tag.id, merchantId: tag.merchant_id, partnerId: tag.partner_id,
  }));
  await enqueue(rows);
  return reply.code(202).send({ accepted: rows.length });
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => void app.close().then(() => database.close()).then(() => process.exit(0)));
