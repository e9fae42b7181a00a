import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestContext } from './helpers/app.js';

/**
 * A client generated from the served document (openapi-typescript, as integrators do) must let
 * callers leave out every parameter that has a default, and see the real media types and headers.
 * The generated types and a small caller are compiled with TypeScript; any diagnostic fails.
 */
let ctx: TestContext;
let directory: string;
beforeAll(async () => {
  ctx = await createTestApp();
  directory = mkdtempSync(path.join(tmpdir(), 'marktag-client-'));
});
afterAll(async () => {
  await ctx.app.close();
  rmSync(directory, { recursive: true, force: true });
});

const CALLER = `
import type { operations } from './api.js';
import type { operations as adminOperations } from './admin-api.js';

type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;
type AdminQuery<Op extends keyof adminOperations> = NonNullable<adminOperations[Op]['parameters']['query']>;

// Every defaulted parameter may be left out.
export const merchants: Query<'listMerchants'> = {};
export const partners: AdminQuery<'listPartners'> = {};
export const events: Query<'listEvents'> = {};
export const exported: Query<'exportEvents'> = {};
export const summary: Query<'summarizeEvents'> = { merchantId: '550e8400-e29b-41d4-a716-446655440000' };
// @ts-expect-error a parameter without a default stays required
export const noMerchant: Query<'summarizeEvents'> = {};

// Non-JSON answers are text of their own media type; headers are typed.
export const csv: operations['exportEvents']['responses'][200]['content']['text/csv'] = 'id,eventId';
export const ndjson: operations['exportEvents']['responses'][200]['content']['application/x-ndjson'] = '{}';
export const sse: operations['streamEvents']['responses'][200]['content']['text/event-stream'] = 'id: 1';
export const script: operations['trackerScript']['responses'][200]['content']['application/javascript'] = '';
export const requestId: operations['listMerchants']['responses'][200]['headers']['x-request-id'] = 'req_1';
export const retryAfter: operations['getMe']['responses'][503]['headers']['retry-after'] = '5';
export const disposition: operations['exportEvents']['responses'][200]['headers']['content-disposition'] = 'attachment';
`;

describe('a client generated with openapi-typescript', () => {
  it('makes defaulted parameters optional and types media types and headers', { timeout: 60_000 }, async () => {
    // Each listener serves its own document: the Partners API (public) and the Admin API.
    for (const [file, listener] of [['api.ts', ctx.app], ['admin-api.ts', ctx.admin]] as const) {
      const document = (await listener.inject({ method: 'GET', url: '/openapi.json' })).json<OpenAPI3>();
      writeFileSync(path.join(directory, file), astToString(await openapiTS(document)));
    }
    const caller = path.join(directory, 'caller.ts');
    writeFileSync(caller, CALLER);
    const program = ts.createProgram([caller], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: [],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  });
});
