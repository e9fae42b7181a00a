import { Socket } from 'node:net';

/**
 * pg's `stream` option for pool connections: a socket that fails when the server goes silent while
 * an answer is awaited, so a dead or stalled network is a 503 rather than a hung request.
 *
 * Slow queries are not its business: PostgreSQL cancels those itself (statement_timeout) and
 * answers an error, which arrives well before `silentMs`. This only catches the case where no
 * answer can arrive at all. It costs one timer per connection, refreshed by the socket on activity:
 * nothing per query (pg's own query_timeout arms a timer per query, and those kept every query and
 * its rows reachable until a full collection).
 *
 * "Awaiting an answer" means: bytes were written after the last bytes were read. An idle
 * connection (the last thing that happened was the server's answer) is left alone, however long
 * it idles. Over TLS, pg moves the socket under a TLS stream that this socket no longer sees, so
 * the bound does not apply there and TCP keep-alive is what remains.
 */
export function stallGuardedSocket(silentMs: number): () => Socket {
  return () => {
    const socket = new Socket();
    let writtenWhenLastHeard = 0;
    socket.on('data', () => {
      writtenWhenLastHeard = socket.bytesWritten;
    });
    // Not setTimeout's callback, which is a one-time listener: the guard must hear every timeout.
    socket.setTimeout(silentMs);
    socket.on('timeout', () => {
      if (socket.bytesWritten > writtenWhenLastHeard) socket.destroy(new Error('Query read timeout'));
    });
    return socket;
  };
}
