/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/delivery: recipient resolution against a real store
 * in a temp dir (users, case rules, sub-addresses, aliases, catch-all,
 * loops, remote targets, duplicates), golden Received/Return-Path lines,
 * and delivery_run into INBOX and the outbound queue, with quota.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "delivery/delivery.h"
#include "lib/mem.h"
#include "store/store.h"
#include "store-fixture.h"

struct fixture {
	struct test_store ts;
	struct config *cfg;	/* == ts.cfg */
	struct store *store;	/* == ts.store */
	int64_t bob, alice, carol;
};

static void
must(enum store_result r, const char *error)
{
	if (r != STORE_OK)
		fail_msg("store: %s", error != NULL ? error : "?");
}

static const char *const people[] = {
	"domain catch.test",
	"user Bob@example.test",
	"user alice@example.test",
	"user carol@catch.test",
	"alias team@example.test bob@example.test",
	"alias team@example.test alice@example.test",
	"alias team@example.test a1@example.test",
	"alias a1@example.test a2@example.test",
	"alias a2@example.test BOB@example.test",
	"alias l1@example.test l2@example.test",
	"alias l2@example.test l1@example.test",
	"alias fwd@example.test someone@remote.test",
	"alias @catch.test carol@catch.test",
	NULL,
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	test_store_open(&f->ts, "delivery");
	f->cfg = f->ts.cfg;
	f->store = f->ts.store;
	test_store_fill(&f->ts, people);
	f->bob = test_store_user_id(&f->ts, "bob@example.test");
	f->alice = test_store_user_id(&f->ts, "alice@example.test");
	f->carol = test_store_user_id(&f->ts, "carol@catch.test");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_store_close(&f->ts);
	free(f);
	return 0;
}

static void
test_resolve_user_case(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	size_t n = 0;

	assert_int_equal(delivery_resolve(f->store, "bOB@EXAMPLE.test", &d, &n,
					  NULL), DELIVERY_FOUND);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].kind, DELIVERY_LOCAL);
	assert_int_equal(d[0].account_id, f->bob);
	/* the canonical address keeps the case it was created with */
	assert_string_equal(d[0].address, "Bob@example.test");
	assert_string_equal(d[0].delivered_to, "Bob@example.test");
	assert_null(d[0].tag);
	delivery_dests_free(&d, n);
	assert_null(d);
}

static void
test_resolve_subaddress(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	size_t n = 0;

	assert_int_equal(delivery_resolve(f->store, "bob+Lists@example.test",
					  &d, &n, NULL), DELIVERY_FOUND);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].account_id, f->bob);
	assert_string_equal(d[0].tag, "Lists");
	assert_string_equal(d[0].delivered_to, "Bob+Lists@example.test");
	delivery_dests_free(&d, n);

	/* an unknown base with a tag is still unknown */
	assert_int_equal(delivery_resolve(f->store, "nobody+x@example.test",
					  &d, &n, NULL), DELIVERY_UNKNOWN);
	assert_null(d);
}

static void
test_resolve_alias_fanout_dedup(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	size_t n = 0;
	bool bob = false, alice = false;

	/* team -> bob, alice, a1 -> a2 -> BOB: bob only once */
	assert_int_equal(delivery_resolve(f->store, "Team@example.test", &d,
					  &n, NULL), DELIVERY_FOUND);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		bob = bob || d[i].account_id == f->bob;
		alice = alice || d[i].account_id == f->alice;
	}
	assert_true(bob && alice);
	delivery_dests_free(&d, n);
}

static void
test_resolve_catchall(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	size_t n = 0;

	assert_int_equal(delivery_resolve(f->store, "whatever@catch.test", &d,
					  &n, NULL), DELIVERY_FOUND);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].account_id, f->carol);
	delivery_dests_free(&d, n);
	/* a domain without a catch-all stays strict */
	assert_int_equal(delivery_resolve(f->store, "whatever@example.test",
					  &d, &n, NULL), DELIVERY_UNKNOWN);
}

static void
test_resolve_remote_and_loops(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	size_t n = 0;

	assert_int_equal(delivery_resolve(f->store, "x@Remote.test", &d, &n,
					  NULL), DELIVERY_NOT_LOCAL);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].kind, DELIVERY_REMOTE);
	assert_string_equal(d[0].address, "x@Remote.test");
	/* a remote recipient itself is not forwarded by an alias */
	assert_null(d[0].via_alias);
	delivery_dests_free(&d, n);

	assert_int_equal(delivery_resolve(f->store, "fwd@example.test", &d, &n,
					  NULL), DELIVERY_FOUND);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].kind, DELIVERY_REMOTE);
	assert_string_equal(d[0].address, "someone@remote.test");
	/* the alias that forwards it (its domain's key ARC-seals) */
	assert_string_equal(d[0].via_alias, "fwd@example.test");
	delivery_dests_free(&d, n);
	/* and the cached answer says so too */
	assert_true(delivery_resolve_cached(f->store, "fwd@example.test",
					    &(enum delivery_lookup){ 0 }, &d,
					    &n));
	assert_string_equal(d[0].via_alias, "fwd@example.test");
	delivery_dests_free(&d, n);

	/* l1 -> l2 -> l1: no crash, nobody found */
	assert_int_equal(delivery_resolve(f->store, "l1@example.test", &d, &n,
					  NULL), DELIVERY_UNKNOWN);
	assert_int_equal(delivery_resolve(f->store, "no-at-sign", &d, &n,
					  NULL), DELIVERY_UNKNOWN);
}

static void
test_received_golden(void **state)
{
	struct buf b;
	struct delivery_received r = {
		.helo = "client.example",
		.peer_ip = "192.0.2.7",
		.by_host = "mail.example.test",
		.protocol = delivery_protocol_name(false, false, true, true,
						   false),
		.id = "ABCDEFGHJKLM",
		.tls_version = "TLSv1.3",
		.tls_cipher = "TLS_AES_256_GCM_SHA384",
		.tls_bits = 256,
		.auth_user = "alice@example.test",
		.for_rcpt = "bob@example.test",
		.when = 1795425615,	/* 2026-11-23 09:20:15 UTC */
	};

	(void)state;
	buf_init(&b);
	delivery_received_format(&r, &b);
	assert_string_equal(b.data,
		"Received: from client.example ([192.0.2.7])\r\n"
		"\tby mail.example.test (Herald) with ESMTPSA id ABCDEFGHJKLM\r\n"
		"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
		"\t(authenticated as alice@example.test)\r\n"
		"\tfor <bob@example.test>;\r\n"
		"\tMon, 23 Nov 2026 09:20:15 +0000\r\n");
	buf_reset(&b);

	/* plain, several recipients, a hostile HELO */
	struct delivery_received p = {
		.helo = "evil)\r\nX-Injected: 1",
		.peer_ip = "2001:db8::1",
		.by_host = "mail.example.test",
		.protocol = delivery_protocol_name(false, false, false, false,
						   false),
		.id = "ID1",
		.when = 0,
	};

	delivery_received_format(&p, &b);
	assert_string_equal(b.data,
		"Received: from evil___X-Injected:_1 ([2001:db8::1])\r\n"
		"\tby mail.example.test (Herald) with ESMTP id ID1;\r\n"
		"\tThu, 1 Jan 1970 00:00:00 +0000\r\n");
	buf_reset(&b);

	/* local submission: the user id, as Postfix writes it; what the
	 * client said (helo) is not used */
	struct delivery_received l = {
		.helo = "ignored",
		.peer_ip = "unix",
		.by_host = "mail.example.test",
		.id = "ID2",
		.when = 1795425615,
		.local = true,
		.local_uid = 33,
	};

	delivery_received_format(&l, &b);
	assert_string_equal(b.data,
		"Received: by mail.example.test (Herald sendmail, from userid "
		"33)\r\n"
		"\tid ID2; Mon, 23 Nov 2026 09:20:15 +0000\r\n");
	buf_reset(&b);
	delivery_return_path_format("", &b);
	delivery_delivered_to_format("bob+x@example.test", &b);
	assert_string_equal(b.data, "Return-Path: <>\r\n"
				    "Delivered-To: bob+x@example.test\r\n");
	buf_deinit(&b);

	assert_string_equal(delivery_protocol_name(true, false, false, false,
						   false), "LMTP");
	assert_string_equal(delivery_protocol_name(false, true, false, false,
						   false), "SMTP");
	assert_string_equal(delivery_protocol_name(false, false, true, false,
						   true), "UTF8SMTPS");
	assert_string_equal(delivery_protocol_name(true, false, true, true,
						   false), "LMTPSA");
}

static char *
inbox_blob(struct fixture *f, int64_t account, size_t *count_r)
{
	struct store_mailbox *box = NULL;
	struct store_message *msgs = NULL;
	size_t n = 0;
	uint8_t *data = NULL;
	size_t len = 0;
	const char *error = NULL;

	must(store_mailbox_lookup(f->store, account, "INBOX", &box, &error),
	     error);
	must(store_message_list(f->store, box->id, &msgs, &n, &error), error);
	store_mailbox_free(&box);
	*count_r = n;
	if (n == 0)
		return NULL;
	must(store_blob_read(f->store, msgs[n - 1].blob_id, &data, &len,
			     &error), error);
	assert_int_equal(msgs[n - 1].size, len);
	free(msgs);
	return (char *)data;
}

/* delivery_run(), or (async) delivery_start(), waiting for its stored
 * callback from the writer thread, then delivery_finish(). */
struct stored_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	bool on_caller;
	pthread_t caller;
};

static void
stored_cb(void *ctx)
{
	struct stored_wait *w = ctx;

	pthread_mutex_lock(&w->lock);
	w->calls++;
	if (pthread_equal(pthread_self(), w->caller))
		w->on_caller = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static size_t
deliver_msg(struct fixture *f, struct delivery_msg *m, bool async)
{
	struct stored_wait w = { .caller = pthread_self() };
	struct delivery_async *h = NULL;
	size_t ok;

	if (!async)
		return delivery_run(f->store, m);
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	assert_true(delivery_start(f->store, m, stored_cb, &w, &h));
	assert_non_null(h);
	pthread_mutex_lock(&w.lock);
	while (w.calls == 0)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	ok = delivery_finish(&h);
	assert_null(h);
	assert_int_equal(w.calls, 1);
	assert_false(w.on_caller);	/* from the store's writer thread */
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return ok;
}

static void
run_local_and_queue(struct fixture *f, bool async)
{
	struct delivery_dest *d1 = NULL, *d2 = NULL, *d3 = NULL;
	size_t n1 = 0, n2 = 0, n3 = 0, count = 0;
	const char *body = "Subject: hi\r\n\r\nbody\r\n";

	delivery_resolve(f->store, "bob+x@example.test", &d1, &n1, NULL);
	delivery_resolve(f->store, "team@example.test", &d2, &n2, NULL);
	delivery_resolve(f->store, "far@remote.test", &d3, &n3, NULL);

	struct delivery_rcpt rc[3] = {
		{ .address = "bob+x@example.test", .dests = d1, .n_dests = n1 },
		{ .address = "team@example.test", .dests = d2, .n_dests = n2 },
		{ .address = "far@remote.test", .dests = d3, .n_dests = n3,
		  .dsn_notify = "SUCCESS,FAILURE",
		  .dsn_orcpt = "rfc822;far@remote.test" },
	};
	struct delivery_msg m = {
		.id = "MSGID1",
		.env_from = "sender@remote.test",
		.dsn_ret = "HDRS",
		.dsn_envid = "env-1",
		/* both paths pass these on to the queue entry */
		.need_8bitmime = true,
		.need_smtputf8 = async,
		.received = "Received: from x ([192.0.2.1])\r\n\tby y;\r\n\tdate\r\n",
		.data = (const uint8_t *)body,
		.len = strlen(body),
		.internal_date = 1700000000,
		.rcpts = rc,
		.n_rcpts = 3,
	};

	assert_int_equal(deliver_msg(f, &m, async), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(rc[i].result, STORE_OK);
	assert_true(m.queue_id > 0);

	/* bob got it once, with his tagged Delivered-To (first recipient) */
	char *blob = inbox_blob(f, f->bob, &count);

	assert_int_equal(count, 1);
	assert_string_equal(blob,
		"Return-Path: <sender@remote.test>\r\n"
		"Delivered-To: Bob+x@example.test\r\n"
		"Received: from x ([192.0.2.1])\r\n\tby y;\r\n\tdate\r\n"
		"Subject: hi\r\n\r\nbody\r\n");
	free(blob);
	blob = inbox_blob(f, f->alice, &count);
	assert_int_equal(count, 1);
	assert_non_null(strstr(blob, "Delivered-To: alice@example.test\r\n"));
	free(blob);

	struct store_queue_entry *q = NULL;
	size_t nq = 0;
	const char *error = NULL;

	must(store_queue_list(f->store, 0, &q, &nq, &error), error);
	assert_int_equal(nq, 1);
	assert_string_equal(q[0].env_from, "sender@remote.test");
	assert_string_equal(q[0].dsn_ret, "HDRS");
	assert_string_equal(q[0].dsn_envid, "env-1");
	assert_true(q[0].need_8bitmime);
	assert_int_equal(q[0].need_smtputf8, async);
	assert_int_equal(q[0].n_rcpts, 1);
	assert_string_equal(q[0].rcpts[0].address, "far@remote.test");
	assert_string_equal(q[0].rcpts[0].dsn_notify, "SUCCESS,FAILURE");
	assert_string_equal(q[0].rcpts[0].dsn_orcpt, "rfc822;far@remote.test");
	store_queue_entries_free(&q, nq);

	delivery_dests_free(&d1, n1);
	delivery_dests_free(&d2, n2);
	delivery_dests_free(&d3, n3);
}

static void
test_run_local_and_queue(void **state)
{
	run_local_and_queue(*state, false);
}

static void
test_start_local_and_queue(void **state)
{
	run_local_and_queue(*state, true);
}

/* A message too big for memory comes from its spool (fed in pieces, read
 * back in blocks) into every copy, byte for byte, and is not taken by
 * delivery_start(): its copies are written with blocking file I/O. */
static void
test_run_spooled(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d1 = NULL, *d2 = NULL;
	size_t n1 = 0, n2 = 0, count = 0, len = 3 * 1024 * 1024 + 17;
	const char *rec = "Received: x;\r\n\tdate\r\n", *error = NULL;
	struct spool *sp = spool_new(store_tmp_dir(f->store), 65536);
	uint8_t *body = xmalloc(len);
	struct delivery_async *h = NULL;
	int err = 0;

	memcpy(body, "Subject: big\r\n\r\n", 16);
	for (size_t i = 16; i < len; i++)
		body[i] = (uint8_t)("0123456789abcdef\r\n"[i % 18]);
	for (size_t off = 0, n = 1; off < len; off += n, n = n * 3 + 1) {
		if (n > len - off)
			n = len - off;
		spool_write(sp, body + off, n);
	}
	assert_int_equal(spool_finish(sp, &err, &error), 0);
	assert_null(spool_data(sp));
	delivery_resolve(f->store, "bob@example.test", &d1, &n1, NULL);
	delivery_resolve(f->store, "far@remote.test", &d2, &n2, NULL);

	struct delivery_rcpt rc[2] = {
		{ .address = "bob@example.test", .dests = d1, .n_dests = n1 },
		{ .address = "far@remote.test", .dests = d2, .n_dests = n2 },
	};
	struct delivery_msg m = {
		.id = "MSGIDS",
		.env_from = "s@remote.test",
		.received = rec,
		.spool = sp,
		.len = len,
		.rcpts = rc,
		.n_rcpts = 2,
	};

	assert_false(delivery_start(f->store, &m, NULL, NULL, &h));
	assert_null(h);
	assert_int_equal(delivery_run(f->store, &m), 2);

	const char *pre = "Return-Path: <s@remote.test>\r\n"
			  "Delivered-To: Bob@example.test\r\n";
	size_t plen = strlen(pre) + strlen(rec);
	char *blob = inbox_blob(f, f->bob, &count);

	assert_int_equal(count, 1);
	assert_memory_equal(blob, pre, strlen(pre));
	assert_memory_equal(blob + strlen(pre), rec, strlen(rec));
	assert_memory_equal(blob + plen, body, len);
	free(blob);

	struct store_queue_entry *q = NULL;
	size_t nq = 0, qlen = 0;
	uint8_t *qdata = NULL;

	must(store_queue_list(f->store, 0, &q, &nq, &error), error);
	assert_int_equal(nq, 1);
	must(store_blob_read(f->store, q[0].blob_id, &qdata, &qlen, &error),
	     error);
	assert_int_equal(qlen, strlen(rec) + len);
	assert_int_equal(q[0].size, qlen);
	assert_memory_equal(qdata, rec, strlen(rec));
	assert_memory_equal(qdata + strlen(rec), body, len);
	free(qdata);
	store_queue_entries_free(&q, nq);
	delivery_dests_free(&d1, n1);
	delivery_dests_free(&d2, n2);
	spool_free(&sp);
	free(body);
}

/* What the next hop must offer, from what the client declared and what
 * was seen: table of (sender, recipient, remote dest, BODY=, SMTPUTF8,
 * 8-bit seen, 8-bit header) -> (8BITMIME, SMTPUTF8). */
static void
test_set_needs(void **state)
{
	static const struct {
		const char *from, *rcpt, *dest;
		bool body8, utf8, seen8, head8;
		bool want8, wantu;
	} cases[] = {
		{ "a@x.test", "b@y.test", "b@y.test", 0, 0, 0, 0, 0, 0 },
		{ "a@x.test", "b@y.test", "b@y.test", 1, 0, 0, 0, 1, 0 },
		{ "a@x.test", "b@y.test", "b@y.test", 0, 0, 1, 0, 1, 0 },
		/* SMTPUTF8 given, nothing UTF-8: not needed */
		{ "a@x.test", "b@y.test", "b@y.test", 0, 1, 0, 0, 0, 0 },
		{ "a@x.test", "b@y.test", "b@y.test", 0, 1, 1, 1, 1, 1 },
		/* a UTF-8 header without SMTPUTF8: 8BITMIME only */
		{ "a@x.test", "b@y.test", "b@y.test", 0, 0, 1, 1, 1, 0 },
		{ "j\xc3\xb6rg@x.test", "b@y.test", "b@y.test", 0, 1, 0, 0, 0,
		  1 },
		{ "a@x.test", "j\xc3\xb6rg@y.test", "b@y.test", 0, 1, 0, 0, 0,
		  1 },
		/* an ASCII alias that sends to a UTF-8 address elsewhere */
		{ "a@x.test", "fwd@x.test", "j\xc3\xb6rg@y.test", 0, 0, 0, 0,
		  0, 1 },
		{ "", "b@y.test", "b@y.test", 0, 0, 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct delivery_dest d = {
			.kind = DELIVERY_REMOTE,
			.address = (char *)cases[i].dest,
		};
		struct delivery_rcpt r = {
			.address = cases[i].rcpt, .dests = &d, .n_dests = 1,
		};
		struct delivery_msg m = {
			.env_from = cases[i].from, .rcpts = &r, .n_rcpts = 1,
		};

		delivery_msg_set_needs(&m, cases[i].body8, cases[i].utf8,
				       cases[i].seen8, cases[i].head8);
		if (m.need_8bitmime != cases[i].want8 ||
		    m.need_smtputf8 != cases[i].wantu)
			fail_msg("case %zu: 8bitmime %d smtputf8 %d", i,
				 m.need_8bitmime, m.need_smtputf8);
	}
}

static size_t
queue_len(struct fixture *f)
{
	struct store_queue_entry *q = NULL;
	size_t nq = 0;
	const char *error = NULL;

	must(store_queue_list(f->store, 0, &q, &nq, &error), error);
	store_queue_entries_free(&q, nq);
	return nq;
}

/* alice over quota, bob fine: what each mode stores. */
static void
run_over_quota(struct fixture *f, enum delivery_mode mode, bool async)
{
	struct delivery_dest *d1 = NULL, *d2 = NULL;
	size_t n1 = 0, n2 = 0, count = 0;
	const char *error = NULL;
	const char *body = "Subject: big\r\n\r\n0123456789012345678901234567890\r\n";

	must(store_user_set_quota(f->store, "alice@example.test", 10, &error),
	     error);
	delivery_resolve(f->store, "alice@example.test", &d1, &n1, NULL);
	delivery_resolve(f->store, "bob@example.test", &d2, &n2, NULL);

	struct delivery_rcpt rc[2] = {
		{ .address = "alice@example.test", .dests = d1, .n_dests = n1 },
		{ .address = "bob@example.test", .dests = d2, .n_dests = n2 },
	};
	struct delivery_msg m = {
		.id = "MSGID2",
		.mode = mode,
		.env_from = "",
		.received = "Received: x;\r\n\tdate\r\n",
		.data = (const uint8_t *)body,
		.len = strlen(body),
		.rcpts = rc,
		.n_rcpts = 2,
	};

	if (mode == DELIVERY_ALL_OR_NOTHING) {
		/* one reply for both: 552 and nobody has it */
		assert_int_equal(deliver_msg(f, &m, async), 0);
		assert_int_equal(rc[0].result, STORE_E_OVER_QUOTA);
		assert_int_equal(rc[1].result, STORE_E_OVER_QUOTA);
		assert_null(inbox_blob(f, f->bob, &count));
		assert_int_equal(count, 0);
	} else {
		assert_int_equal(delivery_run(f->store, &m), 1);
		assert_int_equal(rc[0].result, STORE_E_OVER_QUOTA);
		assert_int_equal(rc[1].result, STORE_OK);
		char *blob = inbox_blob(f, f->bob, &count);

		assert_non_null(blob);
		assert_true(strncmp(blob, "Return-Path: <>\r\n", 17) == 0);
		free(blob);
	}
	assert_null(inbox_blob(f, f->alice, &count));
	assert_int_equal(count, 0);
	delivery_dests_free(&d1, n1);
	delivery_dests_free(&d2, n2);
}

static void
test_run_over_quota_all(void **state)
{
	run_over_quota(*state, DELIVERY_ALL_OR_NOTHING, false);
}

static void
test_start_over_quota(void **state)
{
	run_over_quota(*state, DELIVERY_ALL_OR_NOTHING, true);
}

/* What delivery_start() leaves to delivery_run(): one reply per recipient
 * (LMTP), and a copy too big for the database (it would block on a file
 * and its fsync). */
static void
test_start_declines(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	struct delivery_async *h = NULL;
	size_t n = 0, big = STORE_BLOB_INLINE_MAX;
	char *body = xmalloc(big);
	struct stored_wait w = { 0 };

	memset(body, 'a', big);
	delivery_resolve(f->store, "bob@example.test", &d, &n, NULL);
	struct delivery_rcpt rc = { .address = "bob@example.test",
				    .dests = d, .n_dests = n };
	struct delivery_msg m = {
		.id = "MSGID9", .mode = DELIVERY_PER_RCPT, .env_from = "",
		.received = "Received: x;\r\n\tdate\r\n",
		.data = (const uint8_t *)"Subject: s\r\n\r\nb\r\n", .len = 18,
		.rcpts = &rc, .n_rcpts = 1,
	};

	assert_false(delivery_start(f->store, &m, stored_cb, &w, &h));
	m.mode = DELIVERY_ALL_OR_NOTHING;
	m.data = (const uint8_t *)body;
	m.len = big - 40;	/* the trace headers push it over */
	assert_false(delivery_start(f->store, &m, stored_cb, &w, &h));
	assert_null(h);
	assert_int_equal(w.calls, 0);
	free(body);
	delivery_dests_free(&d, n);
}

static void
test_run_over_quota_skip(void **state)
{
	run_over_quota(*state, DELIVERY_SKIP_OVER_QUOTA, false);
}

static void
test_run_over_quota_per_rcpt(void **state)
{
	run_over_quota(*state, DELIVERY_PER_RCPT, false);
}

/* bob, then carol (deleted after RCPT, so her delivery fails
 * temporarily), and a remote recipient. */
struct three {
	struct delivery_dest *d[3];
	size_t n[3];
	struct delivery_rcpt rc[3];
	struct delivery_msg m;
};

static void
three_setup(struct fixture *f, struct three *t, enum delivery_mode mode)
{
	static const char *const addrs[3] = {
		"bob@example.test", "carol@catch.test", "far@remote.test",
	};
	const char *error = NULL;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < 3; i++) {
		assert_true(delivery_resolve(f->store, addrs[i], &t->d[i],
					     &t->n[i], NULL) !=
			    DELIVERY_TEMP);
		t->rc[i] = (struct delivery_rcpt){
			.address = addrs[i], .dests = t->d[i],
			.n_dests = t->n[i],
		};
	}
	must(store_user_del(f->store, "carol@catch.test", &error), error);
	t->m = (struct delivery_msg){
		.id = "MSGID3",
		.mode = mode,
		.env_from = "s@remote.test",
		.received = "Received: x;\r\n\tdate\r\n",
		.data = (const uint8_t *)"Subject: t\r\n\r\nx\r\n",
		.len = 18,
		.rcpts = t->rc,
		.n_rcpts = 3,
	};
}

static void
three_free(struct three *t)
{
	for (size_t i = 0; i < 3; i++)
		delivery_dests_free(&t->d[i], t->n[i]);
}

/* Issue 3: a message for several accounts where one fails temporarily
 * leaves no copy anywhere (so the client's retry makes no duplicate),
 * and no queue entry either. */
static void
test_run_atomic_temp_failure(void **state)
{
	struct fixture *f = *state;
	struct three t;
	size_t count = 0;

	for (int mode = DELIVERY_ALL_OR_NOTHING;
	     mode <= DELIVERY_SKIP_OVER_QUOTA; mode++) {
		if (mode == DELIVERY_SKIP_OVER_QUOTA) {
			const char *error = NULL;

			must(store_user_add(f->store, "carol@catch.test",
					    "{PLAIN}x", NULL, 0, &f->carol,
					    &error), error);
		}
		three_setup(f, &t, (enum delivery_mode)mode);
		assert_int_equal(delivery_run(f->store, &t.m), 0);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(t.rc[i].result, STORE_E_TEMP);
		assert_int_equal(t.m.queue_id, 0);
		assert_null(inbox_blob(f, f->bob, &count));
		assert_int_equal(count, 0);
		assert_int_equal(queue_len(f), 0);
		three_free(&t);
	}
}

/* LMTP: the failing recipient fails alone. */
static void
test_run_per_rcpt_temp_failure(void **state)
{
	struct fixture *f = *state;
	struct three t;
	size_t count = 0;

	three_setup(f, &t, DELIVERY_PER_RCPT);
	assert_int_equal(delivery_run(f->store, &t.m), 2);
	assert_int_equal(t.rc[0].result, STORE_OK);
	assert_int_equal(t.rc[1].result, STORE_E_TEMP);
	assert_int_equal(t.rc[2].result, STORE_OK);
	assert_true(t.m.queue_id > 0);
	free(inbox_blob(f, f->bob, &count));
	assert_int_equal(count, 1);
	assert_int_equal(queue_len(f), 1);
	three_free(&t);
}

/* LMTP: an alias to two accounts is one recipient, stored for both or
 * for neither; an account already stored for an earlier recipient is not
 * stored again. */
static void
test_run_per_rcpt_alias(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d1 = NULL, *d2 = NULL;
	size_t n1 = 0, n2 = 0, count = 0;
	const char *error = NULL;

	delivery_resolve(f->store, "bob@example.test", &d1, &n1, NULL);
	delivery_resolve(f->store, "team@example.test", &d2, &n2, NULL);
	must(store_user_set_quota(f->store, "alice@example.test", 10, &error),
	     error);

	struct delivery_rcpt rc[2] = {
		{ .address = "bob@example.test", .dests = d1, .n_dests = n1 },
		{ .address = "team@example.test", .dests = d2, .n_dests = n2 },
	};
	struct delivery_msg m = {
		.id = "MSGID4",
		.mode = DELIVERY_PER_RCPT,
		.env_from = "",
		.received = "Received: x;\r\n\tdate\r\n",
		.data = (const uint8_t *)"Subject: t\r\n\r\nx\r\n",
		.len = 18,
		.rcpts = rc,
		.n_rcpts = 2,
	};

	assert_int_equal(delivery_run(f->store, &m), 1);
	assert_int_equal(rc[0].result, STORE_OK);
	assert_int_equal(rc[1].result, STORE_E_OVER_QUOTA);
	free(inbox_blob(f, f->bob, &count));
	assert_int_equal(count, 1);
	assert_null(inbox_blob(f, f->alice, &count));
	delivery_dests_free(&d1, n1);
	delivery_dests_free(&d2, n2);
}

/* A store that cannot be read: TEMP (451 4.3.0), never NOT_LOCAL (which
 * SMTP answers 550 5.7.1 relay denied) or UNKNOWN (550 5.1.1). */
static void
test_resolve_store_failure(void **state)
{
	struct fixture *f = *state;
	struct delivery_dest *d = NULL;
	size_t n = 0;
	const char *error = NULL;

	store_test_fail_reads(f->store, true);
	assert_int_equal(delivery_resolve(f->store, "bob@example.test", &d, &n,
					  &error), DELIVERY_TEMP);
	assert_null(d);
	assert_non_null(error);
	assert_int_equal(delivery_resolve(f->store, "x@remote.test", &d, &n,
					  &error), DELIVERY_TEMP);
	assert_int_equal(delivery_resolve(f->store, "x@catch.test", &d, &n,
					  NULL), DELIVERY_TEMP);
	store_test_fail_reads(f->store, false);
	assert_int_equal(delivery_resolve(f->store, "x@remote.test", &d, &n,
					  NULL), DELIVERY_NOT_LOCAL);
	delivery_dests_free(&d, n);
}

/* The resolution cache: hits while the directory is unchanged; any
 * change by another store handle (standing in for another process: same
 * database, its own writer and shared generation page) is seen at once;
 * temporary failures are never cached. */
static void
test_resolve_cache(void **state)
{
	struct fixture *f = *state;
	struct store *other = NULL;
	struct delivery_dest *d = NULL;
	enum delivery_lookup r;
	const char *error = NULL;
	int64_t id = 0;
	size_t n = 0;

	delivery_cache_flush();
	assert_false(delivery_resolve_cached(f->store, "nobody@example.test",
					     &r, &d, &n));
	assert_int_equal(delivery_resolve(f->store, "nobody@example.test", &d,
					  &n, NULL), DELIVERY_UNKNOWN);
	assert_true(delivery_resolve_cached(f->store, "nobody@example.test",
					    &r, &d, &n));
	assert_int_equal(r, DELIVERY_UNKNOWN);
	assert_null(d);

	assert_int_equal(delivery_resolve(f->store, "bob+x@example.test", &d,
					  &n, NULL), DELIVERY_FOUND);
	delivery_dests_free(&d, n);
	assert_true(delivery_resolve_cached(f->store, "bob+x@example.test",
					    &r, &d, &n));
	assert_int_equal(r, DELIVERY_FOUND);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].account_id, f->bob);
	assert_string_equal(d[0].delivered_to, "Bob+x@example.test");
	assert_string_equal(d[0].tag, "x");
	delivery_dests_free(&d, n);

	/* Another handle adds the user: the cached "unknown" is gone. */
	must(store_open(f->cfg, &other, &error), error);
	must(store_user_add(other, "nobody@example.test", "{PLAIN}x", NULL, 0,
			    &id, &error), error);
	assert_false(delivery_resolve_cached(f->store, "nobody@example.test",
					     &r, &d, &n));
	assert_false(delivery_resolve_cached(f->store, "bob+x@example.test",
					     &r, &d, &n));
	assert_int_equal(delivery_resolve(f->store, "nobody@example.test", &d,
					  &n, NULL), DELIVERY_FOUND);
	delivery_dests_free(&d, n);
	assert_true(delivery_resolve_cached(f->store, "nobody@example.test",
					    &r, &d, &n));
	assert_int_equal(r, DELIVERY_FOUND);
	assert_int_equal(d[0].account_id, id);
	delivery_dests_free(&d, n);

	/* An alias change too. */
	must(store_alias_del(other, "team@example.test", "a1@example.test",
			     &error), error);
	assert_false(delivery_resolve_cached(f->store, "nobody@example.test",
					     &r, &d, &n));
	store_close(&other);

	/* A temporary failure is not remembered. */
	store_test_fail_reads(f->store, true);
	assert_int_equal(delivery_resolve(f->store, "alice@example.test", &d,
					  &n, NULL), DELIVERY_TEMP);
	store_test_fail_reads(f->store, false);
	assert_false(delivery_resolve_cached(f->store, "alice@example.test",
					     &r, &d, &n));
	delivery_cache_flush();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_needs),
		cmocka_unit_test_setup_teardown(test_resolve_user_case, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_subaddress, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_alias_fanout_dedup,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_catchall, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_remote_and_loops,
						setup, teardown),
		cmocka_unit_test(test_received_golden),
		cmocka_unit_test_setup_teardown(test_run_local_and_queue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_run_over_quota_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_run_over_quota_skip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_over_quota_per_rcpt,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_atomic_temp_failure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_per_rcpt_temp_failure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_per_rcpt_alias, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_run_spooled, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_start_local_and_queue,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_over_quota, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_start_declines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resolve_store_failure,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
