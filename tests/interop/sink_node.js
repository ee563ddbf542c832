// Node's smtp-server as a delivery target for the interop tests, on loopback.
//
//   node sink_node.js '{"port": N, "dir": "/tmp/x", "hideSMTPUTF8": true, ...}'
//
// Any smtp-server option can be given in the JSON (hideSMTPUTF8,
// hide8BITMIME, hideSTARTTLS, size, key/cert as file paths). Every message
// goes to DIR as NNNN.json (envelope, TLS) and NNNN.eml. Prints "ready PORT".
"use strict";
const fs = require("fs");
const path = require("path");
const { SMTPServer } = require("smtp-server");

const conf = JSON.parse(process.argv[2]);
const dir = conf.dir;
let n = 0;
const opts = Object.assign({}, conf, {
  authOptional: true,
  disabledCommands: conf.key ? ["AUTH"] : ["AUTH", "STARTTLS"],
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", () => {
      n += 1;
      const base = path.join(dir, String(n).padStart(4, "0"));
      fs.writeFileSync(base + ".eml", Buffer.concat(chunks));
      fs.writeFileSync(base + ".json", JSON.stringify({
        mail_from: session.envelope.mailFrom.address,
        mail_args: session.envelope.mailFrom.args || {},
        rcpt_tos: session.envelope.rcptTo.map((r) => r.address),
        rcpt_args: session.envelope.rcptTo.map((r) => r.args || {}),
        tls: !!session.secure,
      }));
      callback(null, "Stored as " + n);
    });
  },
});
delete opts.dir;
delete opts.port;
if (conf.key) {
  opts.key = fs.readFileSync(conf.key);
  opts.cert = fs.readFileSync(conf.cert);
}
const server = new SMTPServer(opts);
server.listen(conf.port, "127.0.0.1", () => console.log("ready " + conf.port));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
