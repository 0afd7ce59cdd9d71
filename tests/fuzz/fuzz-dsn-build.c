/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the DSN builder (queue/dsn-build.c) on peer text. The
 * first octet picks the action, RET, SMTP or local diagnostic and the
 * limits; the rest is split at NUL octets into the remote's reply, the
 * remote host, the recipient address and the queued message. The report
 * must be a valid message whatever came in: CRLF lines of at most 998
 * octets, no NUL, 7-bit unless a part says 8bit, exactly one per-recipient
 * block, and the boundary nowhere inside a part.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "queue/dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated piece of data, as an allocated string. */
static char *
piece(const uint8_t **p, size_t *left)
{
	const uint8_t *nul = memchr(*p, '\0', *left);
	size_t n = nul != NULL ? (size_t)(nul - *p) : *left;
	char *s = xstrndup((const char *)*p, n);

	*p += n + (nul != NULL);
	*left -= n + (nul != NULL);
	return s;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL;
	     p = strstr(p + 1, needle))
		n++;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dsn_action actions[] = {
		DSN_ACTION_FAILED, DSN_ACTION_DELAYED, DSN_ACTION_DELIVERED,
		DSN_ACTION_RELAYED,
	};
	struct dsn_build_settings set = {
		.hostname = "mail.example.test",
		.now = 1796605200,
		.message_id = "fuzz@mail.example.test",
	};
	struct dsn_rcpt r = { .notify = "SUCCESS,FAILURE,DELAY" };
	struct dsn_report rep = {
		.queue_id = "Q1", .env_from = "alice@example.test",
		.arrival = 1796600000, .rcpts = &r, .n_rcpts = 1,
	};
	char *diag, *mta, *addr, *orig, *status_part, *bnd, *end;
	const uint8_t *p;
	size_t left, olen;
	struct buf out;
	uint8_t flags;

	if (size == 0)
		return 0;
	flags = data[0];
	p = data + 1;
	left = size - 1;
	r.action = actions[flags & 3];
	rep.dsn_ret = (flags & 4) ? "HDRS" : NULL;
	r.diagnostic_smtp = (flags & 8) != 0;
	rep.smtputf8 = (flags & 16) != 0;
	set.return_size_max = (flags & 32) ? 64 : 1 << 20;
	set.headers_max = (flags & 64) ? 40 : 1 << 20;
	diag = piece(&p, &left);
	mta = piece(&p, &left);
	addr = piece(&p, &left);
	/* the message may hold NULs: the rest, as it is */
	olen = left;
	orig = xmalloc(olen + 1);
	memcpy(orig, p, olen);
	r.diagnostic = diag;
	r.remote_mta = mta[0] != '\0' ? mta : NULL;
	r.address = addr[0] != '\0' ? addr : "bob@example.org";
	r.last_attempt = 1796605100;
	r.retry_until = 1797000000;
	rep.size = (flags & 128) ? olen + 1 : olen;	/* a prefix, or all */

	buf_init(&out);
	if (dsn_build(&rep, &set, (const uint8_t *)orig, olen, &out) != 1)
		abort();
	/* CRLF lines, at most 998 octets, no NUL */
	for (size_t i = 0, start = 0; i < out.len; i++) {
		if (out.data[i] == '\0')
			abort();
		if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r'))
			abort();
		if (out.data[i] == '\r') {
			if (i + 1 >= out.len || out.data[i + 1] != '\n')
				abort();
			if (i - start > 998)
				abort();
			start = i + 2;
		}
	}
	if (out.len < 2 || memcmp(out.data + out.len - 2, "\r\n", 2) != 0)
		abort();
	/* 8-bit only where a part says so */
	if (strstr(out.data, "Content-Transfer-Encoding: 8bit") == NULL) {
		for (size_t i = 0; i < out.len; i++) {
			if ((uint8_t)out.data[i] >= 0x80)
				abort();
		}
	}
	/* the boundary: opening, three or four part starts, the end */
	bnd = strstr(out.data, "boundary=\"");
	if (bnd == NULL)
		abort();
	bnd += 10;
	end = strchr(bnd, '"');
	{
		char *delim = xasprintf("\r\n--%.*s", (int)(end - bnd), bnd);
		size_t parts = count(out.data, delim);

		if (parts < 3 || parts > 4)
			abort();
		free(delim);
	}
	/* one recipient block: its fields once each */
	status_part = strstr(out.data, "\r\nContent-Type: message/"
				       "delivery-status\r\n");
	if (status_part == NULL)
		status_part = strstr(out.data, "\r\nContent-Type: message/"
					       "global-delivery-status\r\n");
	if (status_part == NULL)
		abort();
	{
		char *cut = strstr(status_part, "\r\n--");
		size_t actions_n, finals;

		if (cut == NULL)
			abort();
		*cut = '\0';
		actions_n = count(status_part, "\r\nAction: ");
		finals = count(status_part, "\r\nFinal-Recipient: ");
		if (actions_n != 1 || finals != 1)
			abort();
	}
	buf_deinit(&out);
	free(orig);
	free(addr);
	free(mta);
	free(diag);
	return 0;
}
