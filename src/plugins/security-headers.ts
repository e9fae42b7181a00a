import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * For JSON API answers: never cached by a shared cache, never framed, never sniffed as something
 * else, never sending a Referer. (The docs page and the tracker script set their own.)
 */
export async function apiSecurityHeaders(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  void reply.headers({
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  });
}
