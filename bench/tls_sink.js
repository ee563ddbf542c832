'use strict';
// Peer server for bench/tls.sh: Node's smtp-server with TLS, accepting every
// message and draining it (as bench/node/sink.js does for bench/run.sh).
// Usage: node tls_sink.js PORT plain|tls CERT KEY   (127.0.0.1 only)
//   plain: cleartext listener; STARTTLS offered with CERT/KEY (as ternd's
//          --listen offers it), AUTH not offered
//   tls:   `secure: true` (implicit TLS, like ternd --tls-listen); AUTH PLAIN
//          offered and any password accepted (ternd checks a users file)
const fs = require('fs');
const path = require('path');
const { SMTPServer } = require(path.join(__dirname, 'node', 'node_modules', 'smtp-server'));

const [port, mode, certFile, keyFile] = process.argv.slice(2);
const secure = mode === 'tls';

const server = new SMTPServer({
  secure,
  key: fs.readFileSync(keyFile),
  cert: fs.readFileSync(certFile),
  minVersion: 'TLSv1.2', // ternd's default floor; the load client asks for 1.3
  disabledCommands: secure ? [] : ['AUTH'],
  authMethods: ['PLAIN', 'LOGIN'],
  onAuth(auth, session, callback) {
    callback(null, { user: auth.username });
  },
  size: 0,
  disableReverseLookup: true, // ternd does no reverse lookup either
  // Idle sessions must outlive the measurement (ternd: --idle-timeout 3600).
  socketTimeout: 3600 * 1000,
  logger: false,
  onData(stream, session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => callback());
  },
});

server.on('error', (err) => console.error('tls_sink error:', err.message));
server.listen(Number(port), '127.0.0.1', () =>
  console.error(`tls_sink (${mode}) listening on 127.0.0.1:${port}`));

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
