// SPDX-License-Identifier: MIT
// Run by test_imap_imapflow.py: imapflow connects over implicit TLS,
// lists the mailboxes, fetches every INBOX message (envelope, structure,
// source) and downloads attachments, then IDLEs until a line on stdin says
// "quit". Prints one JSON object a line; {"event":"idling"} once the
// server has answered IDLE with its continuation.
// With a fifth argument "qresync": a sync client with imapflow's
// qresync option (issue 13): it caches INBOX (UIDs, flags, UIDVALIDITY,
// HIGHESTMODSEQ), logs out, waits for "resync" on stdin, then reconnects
// with SELECT (QRESYNC ...) and reports what that told it
// ({"event":"resynced"}); every command it sent and every ENABLED and
// COMPRESS answer it got are reported from its log ({"event":"wire"}).
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ImapFlow } from 'imapflow';

const [host, port, user, pass, mode] = process.argv.slice(2);
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

// the qresync mode's view of imapflow's own log: commands sent (src c)
// and the server lines that say what was enabled and compressed
const wireLogger = {
    ...logger,
    debug(o) {
        if (!o || typeof o.msg !== 'string')
            return;
        if (o.src === 'c' && !/^\S+ (LOGIN|AUTHENTICATE)/i.test(o.msg))
            out({ event: 'wire', src: 'c', msg: o.msg.slice(0, 200) });
        else if (o.src === 's' && /ENABLED|COMPRESS|VANISHED|HIGHESTMODSEQ/.test(o.msg))
            out({ event: 'wire', src: 's', msg: o.msg.slice(0, 200) });
    },
};

const client = mode === 'qresync' ? null : new ImapFlow({
    host, port: Number(port), secure: true,
    // the server's certificate is self-signed
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger,
    disableAutoIdle: true,
});
if (client) {
    client.on('exists', (d) => out({ event: 'exists', path: d.path, count: d.count, prevCount: d.prevCount }));
    client.on('error', (e) => { out({ event: 'error', msg: e.message }); process.exit(2); });
}

function syncClient() {
    const c = new ImapFlow({
        host, port: Number(port), secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user, pass },
        logger: wireLogger,
        disableAutoIdle: true,
        qresync: true,
    });
    c.on('error', (e) => { out({ event: 'error', msg: e.message }); process.exit(2); });
    return c;
}

const big = (v) => (v === undefined || v === null ? null : String(v));

async function qresync() {
    const rl = createInterface({ input: process.stdin });
    const lines = rl[Symbol.asyncIterator]();
    // first session: the full cache
    let c = syncClient();
    await c.connect();
    out({ event: 'enabled', list: [...c.enabled], compress: Boolean(c._deflate) });
    let box = await c.mailboxOpen('INBOX');
    const cache = {};
    for await (const m of c.fetch('1:*', { uid: true, flags: true }))
        cache[m.uid] = [...m.flags].sort();
    out({
        event: 'cached', uidValidity: big(box.uidValidity),
        highestModseq: big(box.highestModseq), exists: box.exists,
        uids: Object.keys(cache).map(Number),
    });
    await c.logout();
    for (;;) {
        const { value, done } = await lines.next();
        if (done || value.trim() === 'quit') return;
        if (value.trim() === 'resync') break;
    }
    // second session: SELECT (QRESYNC (uidvalidity modseq)) and what
    // imapflow reports of it, then a cache brought up to date with it
    c = syncClient();
    const vanished = [];
    const changed = [];
    c.on('expunge', (e) => vanished.push({ uid: e.uid, earlier: Boolean(e.earlier), vanished: Boolean(e.vanished) }));
    c.on('flags', (e) => changed.push({ uid: e.uid, seq: e.seq, flags: [...e.flags].sort(), modseq: big(e.modseq) }));
    await c.connect();
    out({ event: 'enabled', list: [...c.enabled], compress: Boolean(c._deflate) });
    box = await c.mailboxOpen('INBOX', {
        uidValidity: BigInt(box.uidValidity), changedSince: BigInt(box.highestModseq),
    });
    for (const v of vanished)
        delete cache[v.uid];
    for (const f of changed)
        cache[f.uid] = f.flags;
    out({
        event: 'resynced', qresync: Boolean(box.qresync), exists: box.exists,
        highestModseq: big(box.highestModseq), vanished, changed,
        cache,
    });
    await c.logout();
    out({ event: 'done' });
}

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

(mode === 'qresync' ? qresync() : main()).then(() => process.exit(0),
    (e) => { out({ event: 'error', msg: String(e && e.stack || e) }); process.exit(1); });
