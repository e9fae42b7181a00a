import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { lazyChildLogger } from '../src/lib/lazy-child-logger.js';
import { loggerOptions } from '../src/logger.js';
import { bearer, createTestApp, type TestContext } from './helpers/app.js';
import { withFault } from './helpers/broken-database.js';
import { testDatabase } from './helpers/database.js';
import { createLiveTag, createPartner } from './helpers/factories.js';

const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

interface Line {
  level: number;
  msg?: string;
  requestId?: string;
  listener?: string;
  responseTime?: number;
}

function capture() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { stream, lines };
}

const apps: TestContext[] = [];
afterAll(async () => {
  for (const ctx of apps) await ctx.app.close();
});

describe('request loggers, made only when used', () => {
  it('keep the route level, the request id and the parent bindings, and build no pino child for a request that logs nothing', () => {
    const { stream, lines } = capture();
    const parent = pino({ level: 'info' }, stream).child({ listener: 'public' });
    let children = 0;
    const counting = new Proxy(parent, {
      get(target, property, receiver) {
        if (property === 'child') {
          return (...args: Parameters<typeof parent.child>) => {
            children++;
            return target.child(...args);
          };
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    });

    const quiet = lazyChildLogger(counting, { requestId: 'req_quiet' }, { level: 'warn' });
    expect(quiet.level).toBe('warn');
    quiet.info('not at this route level');
    quiet.debug('nor this');
    expect(children).toBe(0);
    expect(lines).toEqual([]);

    quiet.warn({ detail: 1 }, 'at the route level');
    expect(children).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'at the route level', requestId: 'req_quiet', listener: 'public' })]);
    quiet.error('again, through the same child');
    expect(children).toBe(1);

    const inheriting = lazyChildLogger(counting, { requestId: 'req_info' }, {});
    expect(inheriting.level).toBe('info');
    inheriting.info('an access line');
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: 'an access line', requestId: 'req_info' });
    expect(inheriting.child({ step: 'next' }).level).toBe('info');
  });

  it('in the service: access lines on the API, none for a collected event, and a failed collection logged with its request id', async () => {
    const { stream, lines } = capture();
    const ctx = await createTestApp({}, { logger: { ...loggerOptions('info', false), stream } });
    apps.push(ctx);
    const { token } = await createPartner(ctx.app);
    const me = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(token) });
    const meId = String(me.headers['x-request-id']);
    // One access line a request, with what it asked, how it ended and how long it took.
    const access = lines.filter((line) => line.requestId === meId);
    expect(access.map((line) => line.msg)).toEqual(['request completed']);
    expect(access[0]).toMatchObject({ req: { method: 'GET', url: '/v1/partners/me', route: '/v1/partners/me' }, res: { statusCode: 200 } });
    expect(access[0]?.responseTime).toBeTypeOf('number');

    const { tagId } = await createLiveTag(ctx.app);
    const collect = (target: TestContext) =>
      target.app.inject({
        method: 'POST',
        url: '/v1/collect',
        headers: { 'user-agent': UA, 'content-type': 'application/json' },
        payload: { tagId, events: [{ type: 'page_view', url: 'https://l.test/' }] },
      });
    const collected = await collect(ctx);
    expect(collected.statusCode).toBe(202);
    expect(lines.filter((line) => line.requestId === String(collected.headers['x-request-id']))).toEqual([]);

    const failing = capture();
    const faulty = await createTestApp(
      {},
      { logger: { ...loggerOptions('info', false), stream: failing.stream }, database: withFault(await testDatabase(), { kind: 'batch-write-fails' }) },
    );
    apps.push(faulty);
    const faultyTag = await createLiveTag(faulty.app);
    const refused = await faulty.app.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: { 'user-agent': UA, 'content-type': 'application/json' },
      payload: { tagId: faultyTag.tagId, events: [{ type: 'page_view', url: 'https://l.test/' }] },
    });
    expect(refused.statusCode).toBe(503);
    const own = failing.lines.filter((line) => line.requestId === String(refused.headers['x-request-id']));
    expect(own).toEqual([expect.objectContaining({ level: 50, msg: 'The events could not be stored; retry shortly' })]);
  });
});
