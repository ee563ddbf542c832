// Sends one message through nodemailer's SMTP transport to ternd.
// Input (JSON on stdin): {port, from, to: [...], mode: "message" | "raw", mail: {...}}
//   mail.attachments[i].content is base64 and becomes a Buffer.
//   mode "raw": the message is first built with nodemailer's MailComposer and
//   sent as raw bytes, so the test knows exactly what went over the wire.
// Output (JSON on stdout): {accepted, rejected, response, raw (base64, raw mode)}.
'use strict';

const fs = require('fs');
const nodemailer = require('nodemailer');
const MailComposer = require('nodemailer/lib/mail-composer');

async function main() {
	const input = JSON.parse(fs.readFileSync(0, 'utf8'));
	const transport = nodemailer.createTransport({
		host: '127.0.0.1',
		port: input.port,
		secure: false,
		ignoreTLS: true,
		name: 'nodemailer.example',
		connectionTimeout: 10000,
		greetingTimeout: 10000,
		socketTimeout: 10000,
	});
	const mail = Object.assign({}, input.mail);
	mail.attachments = (mail.attachments || []).map((a) =>
		Object.assign({}, a, {content: Buffer.from(a.content, 'base64')}));
	const out = {};
	let info;
	if (input.mode === 'raw') {
		const raw = await new MailComposer(mail).compile().build();
		out.raw = raw.toString('base64');
		info = await transport.sendMail({envelope: {from: input.from, to: input.to}, raw});
	} else {
		mail.envelope = {from: input.from, to: input.to};
		info = await transport.sendMail(mail);
	}
	transport.close();
	out.accepted = info.accepted;
	out.rejected = info.rejected;
	out.response = info.response;
	process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
	process.stderr.write(String(err && err.stack || err) + '\n');
	process.exit(1);
});
