import { DrizzleQueryError } from 'drizzle-orm';

/**
 * What the logs may say about an error. Database errors carry data: drizzle's DrizzleQueryError
 * message (and so its stack) lists every bound parameter (merchant names, visitor ids, URLs,
 * idempotency bodies), and PostgreSQL's own message, detail and where can quote values too
 * (`invalid input syntax for type uuid: "…"`, `Key (domain)=(…) already exists`). So database
 * errors are logged by their SQL state, constraint, table, column, routine and statement, with
 * every quoted value in the message replaced by "…", and never their detail, hint, where or
 * parameters. Other errors keep their message and stack.
 */
export interface ErrorSummary {
  type: string;
  message: string;
  /** SQLSTATE, e.g. 23505 for a unique violation. */
  sqlState?: string;
  severity?: string;
  constraint?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  /** The PostgreSQL function that raised it (errors.c's `routine`), e.g. string_to_uuid. */
  routine?: string;
  /** The parameterised SQL text (placeholders, never values), or the name of a prepared statement. */
  statement?: string;
  /** Node errno codes such as ECONNREFUSED. */
  code?: string;
  stack?: string;
  cause?: ErrorSummary;
  errors?: ErrorSummary[];
}

const MAX_DEPTH = 6;
const MAX_STATEMENT = 500;

interface ServerErrorFields {
  code: string;
  severity: string;
  constraint?: unknown;
  schema?: unknown;
  table?: unknown;
  column?: unknown;
  dataType?: unknown;
  routine?: unknown;
}

function isServerError(error: Error): error is Error & ServerErrorFields {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The message with every quoted part replaced, unless it is one of the error's own identifiers. */
export function withoutValues(message: string, identifiers: ReadonlySet<string>): string {
  return message
    .replace(/"((?:[^"]|"")*)"/g, (quoted, inner: string) => (identifiers.has(inner) ? quoted : '"…"'))
    .replace(/'((?:[^']|'')*)'/g, "'…'");
}

/** Stack frames only: the first lines of a stack repeat the message. */
function framesOf(error: Error): string | undefined {
  const frames = error.stack?.split('\n').filter((line) => line.startsWith('    at '));
  return frames && frames.length > 0 ? frames.join('\n') : undefined;
}

function summarizeServerError(error: Error & ServerErrorFields): ErrorSummary {
  const fields = {
    constraint: text(error.constraint),
    schema: text(error.schema),
    table: text(error.table),
    column: text(error.column),
    dataType: text(error.dataType),
  };
  const identifiers = new Set(Object.values(fields).filter((value): value is string => value !== undefined));
  const summary: ErrorSummary = {
    type: error.name,
    message: withoutValues(error.message, identifiers),
    sqlState: error.code,
    severity: error.severity,
    routine: text(error.routine),
  };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) summary[key as keyof typeof fields] = value;
  return summary;
}

function summarize(error: unknown, depth: number): ErrorSummary {
  if (!(error instanceof Error)) return { type: typeof error, message: '[a thrown non-Error value]' };
  let summary: ErrorSummary;
  if (error instanceof DrizzleQueryError) {
    summary = { type: 'DrizzleQueryError', message: 'Failed query', statement: error.query.slice(0, MAX_STATEMENT) };
    const frames = framesOf(error);
    if (frames) summary.stack = frames;
  } else if (isServerError(error)) {
    summary = summarizeServerError(error);
  } else {
    summary = { type: error.name, message: error.message };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') summary.code = code;
    const statement = (error as { statement?: unknown }).statement;
    if (typeof statement === 'string') summary.statement = statement;
    if (error.stack) summary.stack = error.stack;
  }
  if (depth < MAX_DEPTH) {
    if (error.cause !== undefined) summary.cause = summarize(error.cause, depth + 1);
    if (error instanceof AggregateError) summary.errors = error.errors.slice(0, 5).map((inner) => summarize(inner, depth + 1));
  }
  return summary;
}

/** The pino `err` serializer: every `{ err }` the service logs goes through it. */
export function summarizeError(error: unknown): ErrorSummary {
  return summarize(error, 0);
}
