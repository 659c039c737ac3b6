import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The baseline: a bare node:http server answering every request with the same small JSON. Run as
 * a child process; reports its port to the parent over IPC.
 *
 * BARE_WORK_US > 0 makes it spin that many microseconds per request before answering: a
 * reference for what any fixed amount of handler work costs in throughput on this machine.
 */
const body = JSON.stringify({ status: 'ok', service: 'bare' });
const workMs = Number(process.env.BARE_WORK_US ?? 0) / 1000;

const server = createServer((req, res) => {
  // Drain the request body like a real endpoint would before answering.
  req.resume();
  req.once('end', () => {
    if (workMs > 0) {
      const until = performance.now() + workMs;
      while (performance.now() < until);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});

process.once('SIGTERM', () => server.close(() => process.exit(0)));
