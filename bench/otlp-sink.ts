// The tracing bench's collector: an OTLP/HTTP traces receiver on loopback that reads each export and throws it away,
// in a process of its own so that receiving spans costs the load generator nothing. GET answers what it received, so
// the bench can tell that the traced side really exported. Run by Node itself (its type stripping), no loader.
//   SINK_PORT
import { createServer } from 'node:http';

const port = Number(process.env.SINK_PORT ?? '0');
const received = { exports: 0, bytes: 0 };

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
    return;
  }
  req.on('data', (chunk: Buffer) => (received.bytes += chunk.length));
  req.on('end', () => {
    received.exports++;
    // An empty ExportTraceServiceResponse: every span accepted.
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
