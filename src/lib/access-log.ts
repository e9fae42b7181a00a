import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * One access line per request, when it ends, with what was asked (method, path, route), how it
 * ended and how long it took, instead of Fastify's two (one on arrival, one at the end). Each line
 * cost about 0.2 ms of CPU on an Events API page, and the first said nothing the last does not.
 */
export class AccessLogController extends LogController {
  override incomingRequest(): void {
    // Said by requestCompleted.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
