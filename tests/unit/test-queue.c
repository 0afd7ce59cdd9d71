/* SPDX-License-Identifier: MIT */
/* The queue runner's pure parts: routes ([transport], relayhost, MX), the
 * retry schedule, which connection may carry another destination's mail
 * and the [transport] section of the config loader. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "lib/mem.h"
#include "queue/queue-private.h"
#include "queue/queue.h"
#include "smtp/smtp-client.h"
#include "smtp/smtp-reply.h"

static void
test_route_parse(void **state)
{
	static const struct {
		const char *text;
		bool relayhost;
		int ok;
		enum queue_route_kind kind;
		bool lmtp;
		const char *host;
		unsigned port;
		const char *key;
	} cases[] = {
		{ "smtp:[192.0.2.1]:2525", false, 0, QUEUE_ROUTE_DIRECT, false,
		  "192.0.2.1", 2525, "smtp:[192.0.2.1]:2525" },
		{ "smtp:[Mail.Example.ORG]", false, 0, QUEUE_ROUTE_DIRECT,
		  false, "mail.example.org", 25, "smtp:[mail.example.org]:25" },
		{ "smtp:example.net", false, 0, QUEUE_ROUTE_MX, false,
		  "example.net", 25, "smtp:mx:example.net:25" },
		{ "smtp:example.net:587", false, 0, QUEUE_ROUTE_MX, false,
		  "example.net", 587, "smtp:mx:example.net:587" },
		{ "lmtp:[::1]:24", false, 0, QUEUE_ROUTE_DIRECT, true, "::1",
		  24, "lmtp:[::1]:24" },
		{ "lmtp:localhost", false, 0, QUEUE_ROUTE_DIRECT, true,
		  "localhost", 24, "lmtp:[localhost]:24" },
		{ "lmtp:unix:/run/dovecot/lmtp", false, 0, QUEUE_ROUTE_UNIX,
		  true, "", 24, "lmtp:unix:/run/dovecot/lmtp" },
		{ "[relay.example.com]:465", true, 0, QUEUE_ROUTE_DIRECT, false,
		  "relay.example.com", 465, "smtp:[relay.example.com]:465" },
		{ "relay.example.com", true, 0, QUEUE_ROUTE_MX, false,
		  "relay.example.com", 25, "smtp:mx:relay.example.com:25" },
		/* refused */
		{ "[relay.example.com]:465", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:unix:/x", false, -1, 0, false, NULL, 0, NULL },
		{ "lmtp:unix:relative", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:[host", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:[]:25", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:host:0", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:host:70000", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:host:25x", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:ho st", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:::1", false, -1, 0, false, NULL, 0, NULL },
		{ "smtp:[h]x", false, -1, 0, false, NULL, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct queue_route r;
		const char *err = NULL;
		char key[512];
		int rc = queue_route_parse(cases[i].text, cases[i].relayhost,
					   &r, &err);

		if (rc != cases[i].ok)
			fail_msg("%s: %d (%s)", cases[i].text, rc,
				 err != NULL ? err : "");
		if (rc < 0) {
			assert_non_null(err);
			continue;
		}
		assert_int_equal(r.kind, cases[i].kind);
		assert_int_equal(r.lmtp, cases[i].lmtp);
		assert_string_equal(r.host, cases[i].host);
		assert_int_equal(r.port, cases[i].port);
		queue_route_key(&r, key, sizeof(key));
		assert_string_equal(key, cases[i].key);
	}
}

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/herald-test-queue-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static struct config *
load(const char *text, char **err_r)
{
	char *path = write_tmp(text);
	struct config *cfg = config_load(path, err_r);

	unlink(path);
	free(path);
	return cfg;
}

static void
test_route_for(void **state)
{
	char *err = NULL;
	struct config *cfg = load("hostname = mx.example.test\n"
				  "data_dir = /tmp/x\n"
				  "[queue]\n"
				  "relayhost = [smarthost.example]:587\n"
				  "relayhost_tls = encrypt\n"
				  "tls = may\n"
				  "[transport]\n"
				  "Lists.Example.COM = lmtp:unix:/run/lmtp\n"
				  "example.org = smtp:[192.0.2.7]:2525\n"
				  "[tls_policy]\n"
				  "example.org = encrypt\n"
				  "bank.example = none\n"
				  "same.example = encrypt\n", &err);
	struct queue_route r;
	char key[512];

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", err);
	queue_route_for(cfg, "lists.example.com", &r);
	assert_int_equal(r.kind, QUEUE_ROUTE_UNIX);
	assert_true(r.lmtp);
	assert_int_equal(r.tls, CONFIG_QUEUE_TLS_NONE);
	queue_route_for(cfg, "example.org", &r);
	assert_int_equal(r.kind, QUEUE_ROUTE_DIRECT);
	assert_string_equal(r.host, "192.0.2.7");
	assert_int_equal(r.port, 2525);
	assert_int_equal(r.tls, CONFIG_QUEUE_TLS_ENCRYPT);
	assert_false(r.relayhost);
	/* [tls_policy] other than the transport's own is in the key: no
	 * other domain on that transport shares its sessions */
	queue_route_key(&r, key, sizeof(key));
	assert_string_equal(key, "smtp:[192.0.2.7]:2525/tls=encrypt");
	/* everything else through the relayhost, with its policy */
	queue_route_for(cfg, "gmail.example", &r);
	assert_true(r.relayhost);
	assert_string_equal(r.host, "smarthost.example");
	assert_int_equal(r.port, 587);
	assert_int_equal(r.tls, CONFIG_QUEUE_TLS_ENCRYPT);
	queue_route_key(&r, key, sizeof(key));
	assert_string_equal(key, "smtp:[smarthost.example]:587");
	/* the relayhost's own policy again: the same destination */
	queue_route_for(cfg, "same.example", &r);
	assert_int_equal(r.tls, CONFIG_QUEUE_TLS_ENCRYPT);
	queue_route_key(&r, key, sizeof(key));
	assert_string_equal(key, "smtp:[smarthost.example]:587");
	/* a weaker policy for one domain: a destination of its own, never
	 * mixed with the relayhost's encrypt sessions */
	queue_route_for(cfg, "bank.example", &r);
	assert_int_equal(r.tls, CONFIG_QUEUE_TLS_NONE);
	queue_route_key(&r, key, sizeof(key));
	assert_string_equal(key, "smtp:[smarthost.example]:587/tls=none");
	config_free(&cfg);

	/* no relayhost: the domain's MX under [queue] tls */
	cfg = load("hostname = mx.example.test\ndata_dir = /tmp/x\n", &err);
	assert_non_null(cfg);
	queue_route_for(cfg, "Example.NET", &r);
	assert_int_equal(r.kind, QUEUE_ROUTE_MX);
	assert_string_equal(r.host, "example.net");
	assert_int_equal(r.port, 25);
	assert_int_equal(r.tls, CONFIG_QUEUE_TLS_MAY);
	config_free(&cfg);
}

static void
test_config_errors(void **state)
{
	static const char *const bad[] = {
		"[transport]\nexample.org = ftp:host\n",
		"[transport]\nexample.org = smtp:[x\n",
		"[transport]\nexample.org = smtp:a\nEXAMPLE.org = smtp:b\n",
		"[tls_policy]\nexample.org = sometimes\n",
		"[queue]\nrelayhost = smtp:unix:/x\n",
		"[queue]\nrelayhost_auth = relative/file\n",
		"[queue]\naddress_family = ipv5\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = xasprintf("hostname = a.example\ndata_dir = /x\n%s",
				       bad[i]);
		char *err = NULL;
		struct config *cfg = load(text, &err);

		if (cfg != NULL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, ":"));
		free(err);
		free(text);
	}
}

static void
test_schedule(void **state)
{
	struct config_queue q = { .retry_min_s = 300, .retry_max_s = 14400,
				  .max_lifetime_s = 5 * 86400,
				  .delay_warning_s = 4 * 3600 };
	static const struct {
		uint32_t attempts;
		uint64_t interval;
	} steps[] = {
		{ 0, 300 }, { 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 },
		{ 5, 4800 }, { 6, 9600 }, { 7, 14400 }, { 8, 14400 },
		{ 1000, 14400 }, { UINT32_MAX, 14400 },
	};
	int64_t created = 1000000;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_int_equal(queue_retry_interval(&q, steps[i].attempts),
				 steps[i].interval);
	assert_int_equal(queue_next_attempt(&q, created, 1, created),
			 created + 300);
	/* the last attempt comes at the deadline, then it bounces */
	assert_int_equal(queue_next_attempt(&q, created, 40,
					    created + 5 * 86400 - 60),
			 created + 5 * 86400);
	assert_int_equal(queue_next_attempt(&q, created, 41,
					    created + 5 * 86400), 0);
	assert_false(queue_delay_warning_due(&q, created, created + 3600));
	assert_true(queue_delay_warning_due(&q, created,
					    created + 4 * 3600));
	q.delay_warning_s = 0;
	assert_false(queue_delay_warning_due(&q, created, created + 86400));
	/* a warning after the give-up would never be sent */
	q.delay_warning_s = 6 * 86400;
	assert_false(queue_delay_warning_due(&q, created,
					     created + 7 * 86400));
	/* seconds for tests: 1 s doubling to 4 s */
	q = (struct config_queue){ .retry_min_s = 1, .retry_max_s = 4,
				   .max_lifetime_s = 10 };
	assert_int_equal(queue_retry_interval(&q, 3), 4);
	assert_int_equal(queue_retry_interval(&q, 4), 4);
}

static void
test_group(void **state)
{
	char *err = NULL;
	struct config *cfg = load("hostname = mx.example.test\n"
				  "data_dir = /tmp/x\n"
				  "[transport]\n"
				  "a.example = smtp:[192.0.2.1]:25\n"
				  "b.example = smtp:[192.0.2.1]:25\n"
				  "c.example = smtp:[192.0.2.1]:2525\n", &err);
	struct store_queue_entry_rcpt r[] = {
		{ .address = "x@a.example", .status = "pending" },
		{ .address = "y@other.example", .status = "deferred",
		  .next_attempt = 100 },
		{ .address = "z@B.example", .status = "pending" },
		{ .address = "w@c.example", .status = "pending" },
		{ .address = "v@a.example", .status = "sent" },
		{ .address = "u@OTHER.example", .status = "deferred",
		  .next_attempt = 1000 },
		{ .address = "t@other.example", .status = "bounced" },
		{ .address = "s@other.example", .status = "pending" },
	};
	struct store_queue_entry e = { .rcpts = r,
				       .n_rcpts = sizeof(r) / sizeof(r[0]) };
	struct queue_group *g;
	size_t n;

	(void)state;
	assert_non_null(cfg);
	/* at 500: a and b share one route (one transaction), c has its own
	 * port, other.example's due ones go together by MX; sent, bounced
	 * and not yet due recipients are left out */
	n = queue_group_due(cfg, &e, 500, &g);
	assert_int_equal(n, 3);
	assert_string_equal(g[0].key, "smtp:[192.0.2.1]:25");
	assert_int_equal(g[0].n, 2);
	assert_int_equal(g[0].idx[0], 0);
	assert_int_equal(g[0].idx[1], 2);
	assert_string_equal(g[1].key, "smtp:mx:other.example:25");
	assert_int_equal(g[1].n, 2);
	assert_int_equal(g[1].idx[0], 1);
	assert_int_equal(g[1].idx[1], 7);
	assert_string_equal(g[2].key, "smtp:[192.0.2.1]:2525");
	assert_int_equal(g[2].n, 1);
	queue_groups_free(&g, n);
	assert_null(g);
	/* later, u is due too, with its domain's group */
	n = queue_group_due(cfg, &e, 1000, &g);
	assert_int_equal(n, 3);
	assert_int_equal(g[1].n, 3);
	queue_groups_free(&g, n);
	/* nothing open */
	for (size_t i = 0; i < e.n_rcpts; i++)
		r[i].status = "sent";
	assert_int_equal(queue_group_due(cfg, &e, 1000, &g), 0);
	assert_null(g);
	config_free(&cfg);
}

/* What each reply means for its recipient (queue-report.c). */
static void
test_outcomes(void **state)
{
	struct queue_runner rn = { 0 };
	struct queue_dest d = { 0 };
	struct queue_msg m = { 0 };
	struct store_queue_entry e = { 0 };
	struct store_queue_entry_rcpt r[4] = {
		{ .id = 11, .address = "a@x.example", .status = "pending",
		  .dsn_notify = "SUCCESS" },
		{ .id = 12, .address = "b@x.example", .status = "deferred",
		  .attempts = 2 },
		{ .id = 13, .address = "c@x.example", .status = "pending" },
		{ .id = 14, .address = "d@x.example", .status = "deferred",
		  .attempts = 9 },
	};
	struct config_queue q = { .retry_min_s = 300, .retry_max_s = 14400,
				  .max_lifetime_s = 86400 };
	size_t idx[4] = { 0, 1, 2, 3 };
	struct queue_tx tx = { .m = &m, .d = &d, .idx = idx, .n = 4 };
	struct smtp_client_rcpt_result rr[4];
	struct smtp_client_send_result res = { .rcpts = rr, .n_rcpts = 4 };
	int64_t now = time(NULL);

	(void)state;
	rn.q = &q;
	m.rn = &rn;
	m.e = &e;
	e.rcpts = r;
	e.n_rcpts = 4;
	e.created = now - 3600;
	memset(rr, 0, sizeof(rr));
	smtp_reply_set(&rr[0].reply, 250, "2.0.0", "Ok: queued as X");
	smtp_reply_set(&rr[1].reply, 451, "4.7.1", "greylisted");
	rr[1].stage = SMTP_CLIENT_STAGE_RCPT;
	smtp_reply_set(&rr[2].reply, 550, "5.1.1", "no such user");
	rr[2].stage = SMTP_CLIENT_STAGE_RCPT;
	smtp_reply_set(&rr[3].reply, 421, NULL, "closing");
	e.created = now - 86400 + 60;	/* d's next try would be too late */
	queue_outcomes_from_send(&tx, &res);

	assert_string_equal(tx.out[0].res.status, STORE_QUEUE_SENT);
	assert_string_equal(tx.out[0].res.dsn_status, "2.0.0");
	/* NOTIFY=SUCCESS and no DSN offered: we report "relayed" */
	assert_int_equal(tx.out[0].res.notify, STORE_QUEUE_NOTIFY_SUCCESS);
	assert_true(tx.out[0].res.attempted);
	assert_int_equal(tx.out[0].res.rcpt_id, 11);

	assert_string_equal(tx.out[1].res.status, STORE_QUEUE_DEFERRED);
	assert_string_equal(tx.out[1].res.dsn_status, "4.7.1");
	assert_string_equal(tx.out[1].res.last_error, "451 4.7.1 greylisted");
	/* its third attempt failed: 20 minutes, but not past the lifetime */
	assert_true(tx.out[1].res.next_attempt == now + 1200 ||
		    tx.out[1].res.next_attempt == e.created + 86400);
	assert_int_equal(tx.out[1].res.notify, STORE_QUEUE_NOTIFY_NONE);
	assert_non_null(strstr(tx.out[1].log_reply, "said: 451 4.7.1 "
			       "greylisted (in reply to RCPT TO command)"));

	assert_string_equal(tx.out[2].res.status, STORE_QUEUE_BOUNCED);
	assert_string_equal(tx.out[2].res.dsn_status, "5.1.1");
	assert_int_equal(tx.out[2].res.notify, STORE_QUEUE_NOTIFY_FAILURE);

	/* a 4xx is at the deadline: bounced, the last error kept */
	e.created = now - 86400;
	queue_outcomes_free(&tx);
	queue_outcomes_from_send(&tx, &res);
	assert_string_equal(tx.out[3].res.status, STORE_QUEUE_BOUNCED);
	assert_string_equal(tx.out[3].res.dsn_status, "4.4.7");
	assert_non_null(strstr(tx.out[3].res.last_error,
			       "delivery time expired; last error: 421"));
	assert_int_equal(tx.out[3].res.notify, STORE_QUEUE_NOTIFY_FAILURE);
	queue_outcomes_free(&tx);

	/* no server reached: every recipient alike */
	e.created = now;
	queue_outcomes_fail(&tx, false, "4.4.3", "MX lookup failed");
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(tx.out[i].res.status, STORE_QUEUE_DEFERRED);
		assert_string_equal(tx.out[i].res.last_error,
				    "MX lookup failed");
	}
	queue_outcomes_free(&tx);
	queue_outcomes_fail(&tx, true, "5.1.10", "null MX");
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(tx.out[i].res.status, STORE_QUEUE_BOUNCED);
	queue_outcomes_free(&tx);
	for (size_t i = 0; i < 4; i++)
		smtp_reply_deinit(&rr[i].reply);
}

static void
test_domain(void **state)
{
	(void)state;
	assert_string_equal(queue_address_domain("bob@example.org"),
			    "example.org");
	assert_string_equal(queue_address_domain("\"a@b\"@example.org"),
			    "example.org");
	assert_string_equal(queue_address_domain("postmaster"), "");
}

static struct queue_target
target(const char *host, const char *ip, unsigned port, unsigned pref)
{
	struct queue_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%s", host);
	snprintf(t.ip, sizeof(t.ip), "%s", ip);
	t.pref = pref;
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t.ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		t.len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t.ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
		t.len = sizeof(*s4);
	}
	return t;
}

static struct queue_route
route(enum queue_route_kind kind, const char *host, unsigned port,
      enum config_queue_tls tls, bool lmtp, bool relayhost)
{
	struct queue_route r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	snprintf(r.host, sizeof(r.host), "%s", host);
	r.port = port;
	r.tls = tls;
	r.lmtp = lmtp;
	r.relayhost = relayhost;
	return r;
}

/* queue_conn_can_serve: a connection opened for one destination carries
 * another's mail only where a new connection of the other would go, and
 * in the same way. */
static void
test_conn_can_serve(void **state)
{
	const enum config_queue_tls MAY = CONFIG_QUEUE_TLS_MAY,
		ENC = CONFIG_QUEUE_TLS_ENCRYPT, NONE = CONFIG_QUEUE_TLS_NONE;
	struct queue_route a = route(QUEUE_ROUTE_MX, "a.example", 25, MAY,
				     false, false);
	struct queue_target have = target("mx.host.example", "192.0.2.25", 25,
					  10);
	/* b.example: the same MX host as a.example's connection */
	struct queue_target same[] = {
		target("mx.host.example", "192.0.2.25", 25, 10),
	};
	/* MX host names in any case (DNS is case-insensitive) */
	struct queue_target upper[] = {
		target("MX.Host.Example", "192.0.2.25", 25, 10),
	};
	/* two equally preferred MX hosts, ours second; a backup after */
	struct queue_target equal[] = {
		target("mx2.host.example", "192.0.2.26", 25, 10),
		target("mx.host.example", "192.0.2.25", 25, 10),
		target("backup.example", "192.0.2.99", 25, 20),
	};
	/* ours only as the backup MX: a new connection goes to the
	 * primary first (RFC 5321 5.1) */
	struct queue_target backup[] = {
		target("mx1.other.example", "192.0.2.30", 25, 10),
		target("mx.host.example", "192.0.2.25", 25, 20),
	};
	/* another address of the same host name, another port, another
	 * name on the same address */
	struct queue_target other_ip[] = {
		target("mx.host.example", "192.0.2.26", 25, 10),
	};
	struct queue_target other_port[] = {
		target("mx.host.example", "192.0.2.25", 2525, 10),
	};
	struct queue_target other_name[] = {
		target("mail.customer.example", "192.0.2.25", 25, 10),
	};
	/* the host has IPv6 too and it comes first: the IPv4 session is not
	 * where a new connection would go */
	struct queue_target v6_first[] = {
		target("mx.host.example", "2001:db8::25", 25, 10),
		target("mx.host.example", "192.0.2.25", 25, 10),
	};
	/* after prefer_ipv4 the same list starts with IPv4 */
	struct queue_target v4_first[] = {
		target("mx.host.example", "192.0.2.25", 25, 10),
		target("mx.host.example", "2001:db8::25", 25, 10),
	};
	struct queue_target have6 = target("mx.host.example", "2001:db8::25",
					   25, 10);
	struct queue_target v6[] = {
		target("mx.host.example", "2001:db8::25", 25, 10),
	};
	struct queue_target v6_other[] = {
		target("mx.host.example", "2001:db8::26", 25, 10),
	};
	struct queue_route b = route(QUEUE_ROUTE_MX, "b.example", 25, MAY,
				     false, false);
	struct queue_route b_enc = route(QUEUE_ROUTE_MX, "b.example", 25, ENC,
					 false, false);
	struct queue_route b_none = route(QUEUE_ROUTE_MX, "b.example", 25,
					  NONE, false, false);
	struct queue_route b_direct = route(QUEUE_ROUTE_DIRECT,
					    "mx.host.example", 25, MAY, false,
					    false);
	struct queue_route b_relay = route(QUEUE_ROUTE_MX, "mx.host.example",
					   25, MAY, false, true);
	struct queue_route b_lmtp = route(QUEUE_ROUTE_DIRECT,
					  "mx.host.example", 25, NONE, true,
					  false);
	struct queue_route a_enc = route(QUEUE_ROUTE_MX, "a.example", 25, ENC,
					 false, false);
	static const size_t N = 1;

	(void)state;
	assert_true(queue_conn_can_serve(&a, &have, &b, same, N));
	assert_true(queue_conn_can_serve(&a, &have, &b, upper, N));
	assert_true(queue_conn_can_serve(&a, &have, &b, equal, 3));
	assert_false(queue_conn_can_serve(&a, &have, &b, backup, 2));
	assert_false(queue_conn_can_serve(&a, &have, &b, other_ip, N));
	assert_false(queue_conn_can_serve(&a, &have, &b, other_port, N));
	assert_false(queue_conn_can_serve(&a, &have, &b, other_name, N));
	assert_false(queue_conn_can_serve(&a, &have, &b, v6_first, 2));
	assert_true(queue_conn_can_serve(&a, &have, &b, v4_first, 2));
	assert_true(queue_conn_can_serve(&a, &have6, &b, v6_first, 2));
	assert_true(queue_conn_can_serve(&a, &have6, &b, v6, N));
	assert_false(queue_conn_can_serve(&a, &have6, &b, v6_other, N));
	assert_false(queue_conn_can_serve(&a, &have, &b, same, 0));
	/* the TLS policy must be the same: an encrypt destination never
	 * takes a "may" session (perhaps unverified, perhaps in clear), a
	 * "may" one never an encrypt one, nor "none" either */
	assert_false(queue_conn_can_serve(&a, &have, &b_enc, same, N));
	assert_false(queue_conn_can_serve(&a_enc, &have, &b, same, N));
	assert_false(queue_conn_can_serve(&a, &have, &b_none, same, N));
	/* encrypt with encrypt: verified against the same MX name */
	assert_true(queue_conn_can_serve(&a_enc, &have, &b_enc, same, N));
	assert_false(queue_conn_can_serve(&a_enc, &have, &b_enc, other_name,
					  N));
	/* not across kinds of route, never the relayhost's (AUTH) session,
	 * never LMTP */
	assert_false(queue_conn_can_serve(&a, &have, &b_direct, same, N));
	assert_false(queue_conn_can_serve(&a, &have, &b_relay, same, N));
	assert_false(queue_conn_can_serve(&b_relay, &have, &a, same, N));
	assert_false(queue_conn_can_serve(&b_lmtp, &have, &b_lmtp, same, N));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_parse),
		cmocka_unit_test(test_route_for),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_conn_can_serve),
	};

	cli_modules_register();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
