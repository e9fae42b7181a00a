import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { clientView, liftRequiredHeaders } from './openapi-transforms.js';

export interface OpenApiOptions {
  publicUrl: string;
  version: string;
}

/**
 * The OpenAPI 3.1 document is generated from the route schemas (so it cannot drift from what the
 * server validates), served at /openapi.json, with an interactive reference at /docs.
 */
export const openApiPlugin = fp<OpenApiOptions>(
  async (app: FastifyInstance, { publicUrl, version }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'MarkTag Partners API',
          version,
          description:
            'Create merchants, generate and verify MarkTags on their domains, and read the events the tags collect. ' +
            'Every error answer carries `{"error": {"code", "message", "requestId", "details"?}}`; the request id is also the `x-request-id` header.',
          // A self-hosted service: whoever runs this server answers for it, at its public address.
          contact: { name: 'The operator of this MarkTag server', url: publicUrl },
          license: { name: 'MIT', identifier: 'MIT' },
        },
        servers: [{ url: publicUrl, description: 'This server (MARKTAG_PUBLIC_URL)' }],
        tags: [
          { name: 'Partner', description: 'Your partner account' },
          { name: 'Merchants', description: 'Create and manage merchant accounts under your partner account' },
          { name: 'MarkTags', description: 'Generate and verify tracking implementations for merchant domains' },
          { name: 'Events', description: 'Query, summarise, export and stream the events your tags collect' },
          { name: 'Collector', description: 'What the tracker on merchant pages calls' },
          { name: 'Admin', description: 'Operator API: onboard partners and manage their tokens' },
          { name: 'Service', description: 'Health and readiness probes' },
        ],
        components: {
          securitySchemes: {
            partnerToken: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'mp_live_…',
              description: 'Your Partners API token: `Authorization: Bearer mp_live_YOUR_TOKEN`',
            },
            adminToken: {
              type: 'http',
              scheme: 'bearer',
              description: 'The operator token (MARKTAG_ADMIN_TOKEN, or the file admin-token in the data directory)',
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
