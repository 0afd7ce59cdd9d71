// SPDX-License-Identifier: MIT
// Run by test_imap_imapflow.py: imapflow connects over implicit TLS,
// lists the mailboxes, fetches every INBOX message (envelope, structure,
// source) and downloads attachments, then IDLEs until a line on stdin says
// "quit". Prints one JSON object a line; {"event":"idling"} once the
// server has answered IDLE with its continuation.
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ImapFlow } from 'imapflow';

const [host, port, user, pass] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// imapflow says it at debug level when the server's "+" has arrived
const logger = {
    trace() {},
    debug(o) {
        if (o && typeof o.msg === 'string' && o.msg.startsWith('Initiated IDLE'))
            out({ event: 'idling' });
    },
    info() {},
    warn(o) { out({ event: 'warn', msg: o && o.msg, err: o && o.err && String(o.err) }); },
    error(o) { out({ event: 'log-error', msg: o && o.msg, err: o && o.err && String(o.err) }); },
    fatal(o) { out({ event: 'log-error', msg: o && o.msg }); },
};

const client = new ImapFlow({
    host, port: Number(port), secure: true,
    // the server's certificate is self-signed
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger,
    disableAutoIdle: true,
});
client.on('exists', (d) => out({ event: 'exists', path: d.path, count: d.count, prevCount: d.prevCount }));
client.on('error', (e) => { out({ event: 'error', msg: e.message }); process.exit(2); });

function parts(node, acc) {
    if (!node) return acc;
    if (node.childNodes) node.childNodes.forEach((c) => parts(c, acc));
    else if (node.disposition === 'attachment') acc.push(node);
    return acc;
}

async function main() {
    await client.connect();
    out({ event: 'capabilities', list: [...client.capabilities.keys()] });
    // COMPRESS=DEFLATE is negotiated by imapflow after login when offered
    out({ event: 'compress', on: Boolean(client._deflate) });
    const boxes = await client.list();
    out({
        event: 'list',
        boxes: boxes.map((b) => ({
            path: b.path, specialUse: b.specialUse || null,
            source: b.specialUseSource || null, flags: [...b.flags],
            subscribed: b.subscribed,
        })),
    });
    const lock = await client.getMailboxLock('INBOX');
    out({ event: 'mailbox', exists: client.mailbox.exists });
    const attachments = [];
    for await (const m of client.fetch('1:*', {
        uid: true, flags: true, envelope: true, bodyStructure: true,
        source: true, size: true, internalDate: true,
    })) {
        const e = m.envelope;
        out({
            event: 'message', seq: m.seq, uid: m.uid, size: m.size,
            flags: [...m.flags], sha256: sha256(m.source), length: m.source.length,
            envelope: {
                subject: e.subject, messageId: e.messageId,
                date: e.date ? e.date.toISOString() : null,
                from: e.from, to: e.to, cc: e.cc || [],
            },
            type: m.bodyStructure.type,
        });
        for (const p of parts(m.bodyStructure, []))
            attachments.push({ uid: m.uid, part: p.part, filename: p.dispositionParameters && p.dispositionParameters.filename });
    }
    for (const a of attachments) {
        const d = await client.download(String(a.uid), a.part, { uid: true });
        const chunks = [];
        for await (const c of d.content) chunks.push(c);
        out({ event: 'part', ...a, sha256: sha256(Buffer.concat(chunks)) });
    }
    // IDLE until told to stop; EXISTS arrives through the 'exists' event
    const idle = client.idle();
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
        if (line.trim() === 'quit') break;
    }
    lock.release();
    await client.logout();
    await idle;
    out({ event: 'done' });
}

main().then(() => process.exit(0),
    (e) => { out({ event: 'error', msg: String(e && e.stack || e) }); process.exit(1); });
