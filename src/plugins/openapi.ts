import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { clientView, liftRequiredHeaders } from './openapi-transforms.js';

export interface OpenApiOptions {
  /** The listener's base URL; the admin document leaves it out, so the reference calls the host it was loaded from. */
  publicUrl?: string;
  version: string;
  /** Which listener's document: the Partners API and collector (public), or the operator's Admin API. */
  audience: 'public' | 'admin';
}

const ADMIN_TAG = 'Admin';

const ENVELOPE =
  'Every error answer carries `{"error": {"code", "message", "requestId", "details"?}}`; the request id is also the `x-request-id` header.';

/**
 * The OpenAPI 3.1 document is generated from the route schemas (so it cannot drift from what the
 * server validates), served at /openapi.json, with an interactive reference at /docs. Each
 * listener has its own: the document lists the routes of the instance it is registered on, and
 * only the tags and security schemes that belong to it.
 */
export const openApiPlugin = fp<OpenApiOptions>(
  async (app: FastifyInstance, { publicUrl, version, audience }) => {
    const admin = audience === 'admin';
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          ...(admin
            ? {
                title: 'MarkTag Admin API',
                description: `The operator's API, on the admin listener only: onboard partners and manage their tokens. ${ENVELOPE}`,
              }
            : {
                title: 'MarkTag Partners API',
                description: `Create merchants, generate and verify MarkTags on their domains, and read the events the tags collect. ${ENVELOPE}`,
              }),
          version,
          // A self-hosted service: whoever runs this server answers for it, at its public address.
          contact: { name: 'The operator of this MarkTag server', ...(publicUrl === undefined ? {} : { url: publicUrl }) },
          license: { name: 'MIT', identifier: 'MIT' },
        },
        // The admin listener has no public address: a relative server is the host the document was loaded from.
        servers: [publicUrl === undefined ? { url: '/', description: 'This admin listener' } : { url: publicUrl, description: 'This server (MARKTAG_PUBLIC_URL)' }],
        tags: [
          { name: 'Partner', description: 'Your partner account' },
          { name: 'Merchants', description: 'Create and manage merchant accounts under your partner account' },
          { name: 'MarkTags', description: 'Generate and verify tracking implementations for merchant domains' },
          { name: 'Events', description: 'Query, summarise, export and stream the events your tags collect' },
          { name: 'Collector', description: 'What the tracker on merchant pages calls' },
          { name: 'Admin', description: 'Operator API: onboard partners and manage their tokens' },
          { name: 'Service', description: 'Health and readiness probes' },
        ].filter((tag) => (tag.name === ADMIN_TAG) === admin),
        components: {
          securitySchemes: admin
            ? {
                adminToken: {
                  type: 'http',
                  scheme: 'bearer',
                  description: 'The operator token (MARKTAG_ADMIN_TOKEN, or the file admin-token in the data directory)',
                },
              }
            : {
                partnerToken: {
                  type: 'http',
                  scheme: 'bearer',
                  bearerFormat: 'mp_live_…',
                  description: 'Your Partners API token: `Authorization: Bearer mp_live_YOUR_TOKEN`',
                },
              },
        },
      },
      transform: ({ schema, url }) => ({ schema: clientView(schema) ?? schema, url }),
      transformObject: (document) => ('openapiObject' in document ? liftRequiredHeaders(document.openapiObject) : document.swaggerObject),
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'openapi' },
);
