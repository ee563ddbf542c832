'use strict';
// Peer server for bench/run.sh: Node's smtp-server accepting every message
// and draining it, so the figures measure the protocol path, not storage.
// Usage: node sink.js PORT   (listens on 127.0.0.1 only)
const { SMTPServer } = require('smtp-server');

const port = Number(process.argv[2] || 2526);

const server = new SMTPServer({
  // No TLS or AUTH on either side of the comparison: ternd has neither yet.
  disabledCommands: ['AUTH', 'STARTTLS'],
  size: 0, // unlimited
  // ternd does no reverse DNS lookup; smtp-server does one per connection
  // by default, which would make the comparison about the resolver.
  disableReverseLookup: true,
  logger: false,
  onData(stream, session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => callback());
  },
});

server.on('error', (err) => console.error('sink error:', err.message));
server.listen(port, '127.0.0.1', () => console.error(`sink listening on 127.0.0.1:${port}`));

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
