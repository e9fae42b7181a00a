import { Ajv, type Options, type ValidateFunction } from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import * as ajvFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { CASE_INSENSITIVE_PATTERNS } from '../schemas/common.js';

// ajv-formats is CommonJS: under ESM its function arrives as the default export.
const addFormats = ajvFormats.default as unknown as (ajv: Ajv) => Ajv;

/**
 * JSON Schema has no pattern flags, so the documented host patterns keep their text in the OpenAPI
 * document while the validator applies them ignoring case; every other pattern is as written.
 */
const hostAwareRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => new RegExp(pattern, CASE_INSENSITIVE_PATTERNS.has(pattern) ? `${flags}i` : flags),
  { code: 'hostAwareRegExp' },
);

const SHARED: Options = {
  // Unknown fields are refused (a typo is an error, as with Stripe), not silently dropped.
  removeAdditional: false,
  useDefaults: true,
  // One error at a time: allErrors on untrusted input is a denial-of-service vector.
  allErrors: false,
  // Lets the error handler read a field's own error message from its schema.
  verbose: true,
  keywords: ['x-error-message'],
  code: { regExp: hostAwareRegExp },
};

function ajv(options: Options): Ajv {
  const instance = new Ajv({ ...SHARED, ...options });
  addFormats(instance);
  return instance;
}

/**
 * Query strings, paths and headers arrive as text, so they are coerced to the schema's types. JSON
 * bodies are not: `{"name": 42}` is a mistake to report, not a string to invent.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = ajv({ coerceTypes: false });
  const coercing = ajv({ coerceTypes: 'array' });
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict.compile(schema as object) : finiteOnly(coercing.compile(schema as object)));
}

/**
 * Ajv coerces "1e400" to Infinity and then lets it through `integer` and `maximum`; a text part
 * (query, path, header) with a non-finite number is refused here instead.
 */
function finiteOnly(validate: ValidateFunction): ValidateFunction {
  const wrapped = ((data: unknown) => {
    const valid = validate(data);
    wrapped.errors = validate.errors;
    if (!valid || typeof data !== 'object' || data === null) return valid;
    for (const [key, value] of Object.entries(data)) {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        wrapped.errors = [{ keyword: 'type', instancePath: `/${key}`, schemaPath: '', params: { type: 'finite number' } }];
        return false;
      }
    }
    return true;
  }) as ValidateFunction;
  return wrapped;
}
