// The baseline: a bare node:http server that reads the request body and answers 204. The
// collector's throughput is reported as a fraction of this one's, measured in the same run.
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  request.on('data', () => undefined);
  request.on('end', () => {
    response.writeHead(204);
    response.end();
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
