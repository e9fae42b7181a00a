import type { FastifySchema } from 'fastify';

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A parameter with a default is one the client may leave out: the route's TypeBox schema lists it
 * as required because that is what the handler receives (validation fills the default in), but the
 * document describes what a client must send. Without this, generated clients force callers to
 * send `page`, `limit`, … and contract testers refuse the document.
 */
function withoutDefaultedRequired(part: unknown): unknown {
  if (!isObject(part) || !Array.isArray(part.required) || !isObject(part.properties)) return part;
  const properties = part.properties;
  const required = (part.required as string[]).filter((name) => !(isObject(properties[name]) && 'default' in properties[name]));
  return { ...part, required };
}

/** The route schema as the document shows it: defaulted query, header and body fields are optional for the client. */
export function clientView(schema: FastifySchema | undefined): FastifySchema | undefined {
  if (!schema) return schema;
  return {
    ...schema,
    ...(schema.querystring ? { querystring: withoutDefaultedRequired(schema.querystring) } : {}),
    ...(schema.headers ? { headers: withoutDefaultedRequired(schema.headers) } : {}),
    ...(schema.body ? { body: withoutDefaultedRequired(schema.body) } : {}),
  };
}

/**
 * @fastify/swagger copies every keyword of a response header into the header's schema, so the
 * header's own `required` flag cannot be given at the source; the shared header definitions mark
 * it `x-header-required` (schemas/responses.ts), and this moves it where OpenAPI reads it.
 */
export function liftRequiredHeaders<T extends object>(document: T): T {
  const paths = (document as { paths?: unknown }).paths;
  if (!isObject(paths)) return document;
  for (const item of Object.values(paths)) {
    if (!isObject(item)) continue;
    for (const operation of Object.values(item)) {
      if (!isObject(operation) || !isObject(operation.responses)) continue;
      for (const response of Object.values(operation.responses)) {
        if (!isObject(response) || !isObject(response.headers)) continue;
        for (const definition of Object.values(response.headers)) {
          if (!isObject(definition) || !isObject(definition.schema)) continue;
          const { 'x-header-required': required, ...schema } = definition.schema;
          definition.schema = schema;
          if (required === true) definition.required = true;
        }
      }
    }
  }
  return document;
}
