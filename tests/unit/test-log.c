/* SPDX-License-Identifier: MIT */
/*
 * lib/log: lines an event-loop thread holds (log_hold) are written
 * together, whole and in order, at most 4 KiB per write; warnings are
 * never held; a forked child does not write its parent's held lines;
 * a line of log_event_later asks only for the slow flush and goes out
 * with the next line's.
 * log_str keeps UTF-8 and escapes controls and invalid octets. A line's
 * prefix and fields come out as before the stack-buffer formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"

struct capture {
	int saved;		/* the real stderr */
	int rd;			/* the pipe's read end */
};

/* stderr into a non-blocking pipe, so each write(2) arrives as one
 * read here (the pipe is drained between writes by the test) */
static void
capture_start(struct capture *c)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	c->rd = p[0];
}

static void
capture_end(struct capture *c)
{
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	close(c->rd);
}

/* What the pipe holds now (NUL-terminated, static). */
static const char *
captured(struct capture *c, size_t *len_r)
{
	static char buf[65536];
	ssize_t n = read(c->rd, buf, sizeof(buf) - 1);

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if (len_r != NULL)
		*len_r = (size_t)n;
	return buf;
}

static int kicks, slow_kicks;

static void
kick(void *ctx, bool soon)
{
	(void)ctx;
	if (soon)
		kicks++;
	else
		slow_kicks++;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
test_held_until_flush(void **state)
{
	struct capture c;
	const char *out, *a, *b;

	(void)state;
	capture_start(&c);
	kicks = 0;
	log_hold(kick, NULL);
	log_info("ID1", "test", "first", "n=%d", 1);
	log_info("ID2", "test", "second", "n=%d", 2);
	assert_int_equal(kicks, 1);		/* once per turn */
	assert_string_equal(captured(&c, NULL), "");
	log_flush();
	out = captured(&c, NULL);		/* one write: both lines */
	a = strstr(out, "ID1 test first n=1\n");
	b = strstr(out, "ID2 test second n=2\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_int_equal(count_lines(out), 2);
	/* the next turn's first line kicks again */
	log_info("ID3", "test", "third", NULL);
	assert_int_equal(kicks, 2);
	log_release();				/* writes what is held */
	assert_non_null(strstr(captured(&c, NULL), "ID3 test third\n"));
	/* not holding any more: written at once */
	log_info("ID4", "test", "fourth", NULL);
	assert_non_null(strstr(captured(&c, NULL), "ID4 test fourth\n"));
	capture_end(&c);
}

/* A later line (mailauth verdicts) schedules only the slow flush; the
 * next ordinary line schedules the turn's, and both go out in its one
 * write, in order. Not holding: written at once like any line. */
static void
test_later_line(void **state)
{
	struct capture c;
	const char *out, *a, *b;

	(void)state;
	capture_start(&c);
	kicks = slow_kicks = 0;
	log_hold(kick, NULL);
	log_info_later("ID1", "mailauth", "verdicts", "spf=%s", "pass");
	assert_int_equal(kicks, 0);
	assert_int_equal(slow_kicks, 1);
	log_info_later("ID2", "mailauth", "verdicts", "spf=%s", "fail");
	assert_int_equal(slow_kicks, 1);	/* one is scheduled already */
	assert_string_equal(captured(&c, NULL), "");
	log_info("ID1", "smtp", "accepted", NULL);
	assert_int_equal(kicks, 1);
	log_info("ID2", "smtp", "accepted", NULL);
	assert_int_equal(kicks, 1);		/* once per turn */
	log_flush();
	out = captured(&c, NULL);
	a = strstr(out, "ID1 mailauth verdicts spf=pass\n");
	b = strstr(out, "ID2 smtp accepted\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_int_equal(count_lines(out), 4);
	/* after a flush: an ordinary line first, a later one after it asks
	 * for nothing more; a later line alone asks for the slow flush */
	log_info("ID3", "smtp", "accepted", NULL);
	log_info_later("ID4", "mailauth", "verdicts", NULL);
	assert_int_equal(kicks, 2);
	assert_int_equal(slow_kicks, 1);
	log_flush();
	assert_int_equal(count_lines(captured(&c, NULL)), 2);
	log_info_later("ID5", "mailauth", "verdicts", NULL);
	assert_int_equal(slow_kicks, 2);
	log_release();
	assert_non_null(strstr(captured(&c, NULL), "ID5 mailauth verdicts\n"));
	log_info_later("ID6", "mailauth", "verdicts", "x=%d", 6);
	assert_non_null(strstr(captured(&c, NULL), "ID6 mailauth verdicts x=6\n"));
	/* a warning is never held, later or not */
	log_hold(kick, NULL);
	log_event_later(LOG_LEVEL_WARN, "ID7", "t", "w", NULL);
	assert_non_null(strstr(captured(&c, NULL), "warn ID7 t w\n"));
	log_release();
	capture_end(&c);
}

static void
test_warning_not_held(void **state)
{
	struct capture c;
	const char *out, *a, *b;

	(void)state;
	capture_start(&c);
	log_hold(kick, NULL);
	log_info("ID1", "test", "before", NULL);
	log_warn("ID2", "test", "problem", NULL);
	/* the warning is out at once, after the line held before it */
	out = captured(&c, NULL);
	a = strstr(out, "ID1 test before\n");
	b = strstr(out, "warn ID2 test problem\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	log_release();
	assert_string_equal(captured(&c, NULL), "");
	capture_end(&c);
}

static void
test_writes_at_most_4k(void **state)
{
	struct capture c;
	char value[300];
	size_t len, total = 0, lines = 0;
	const char *out;

	(void)state;
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	capture_start(&c);
	log_hold(kick, NULL);
	/* 40 lines of about 360 bytes: more than one 4 KiB write */
	for (int i = 0; i < 40; i++) {
		log_info("ID", "test", "long", "i=%02d v=%s", i, value);
		out = captured(&c, &len);
		if (len > 0) {
			/* written because the hold was full: whole lines */
			assert_true(len <= 4096);
			assert_int_equal(out[len - 1], '\n');
			total += len;
			lines += count_lines(out);
		}
	}
	assert_true(lines > 0);
	log_release();
	out = captured(&c, &len);
	assert_true(len <= 4096);
	lines += count_lines(out);
	total += len;
	assert_int_equal(lines, 40);
	assert_true(total > 40 * 300);
	capture_end(&c);
}

static void
test_fork_child_drops_held(void **state)
{
	struct capture c;
	const char *out;
	int status;
	pid_t pid;

	(void)state;
	capture_start(&c);
	log_hold(kick, NULL);
	log_info("PARENT", "test", "held", NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* not the parent's line, and not held: written at once */
		log_info("CHILD", "test", "line", NULL);
		log_flush();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	out = captured(&c, NULL);
	assert_non_null(strstr(out, "CHILD test line\n"));
	assert_null(strstr(out, "PARENT"));
	log_release();
	out = captured(&c, NULL);
	assert_non_null(strstr(out, "PARENT test held\n"));
	assert_int_equal(count_lines(out), 1);
	capture_end(&c);
}

struct str_case {
	const char *in;
	size_t outsz;
	const char *want;
};

/* Issue 10 2.14: UTF-8 addresses are logged as UTF-8; controls, invalid
 * UTF-8 and what would split or disguise a field stay escaped. */
static const struct str_case str_cases[] = {
	{ "alice@example.test", 64, "alice@example.test" },
	{ "", 64, "\"\"" },
	{ "a b", 64, "\"a b\"" },
	{ "a\"b\\c", 64, "\"a\\\"b\\\\c\"" },
	{ "a\r\nb\x7f", 64, "a\\x0d\\x0ab\\x7f" },
	/* UTF-8 as itself (RFC 6531 addresses, IDN domains) */
	{ "j\xc3\xb6rg@b\xc3\xbc""cher.example", 64,
	  "j\xc3\xb6rg@b\xc3\xbc""cher.example" },
	{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf"
	  "\xe5\x91\x8a", 64,
	  "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf"
	  "\xe5\x91\x8a" },
	{ "\xf0\x9f\x98\x80@x.test", 64, "\xf0\x9f\x98\x80@x.test" },
	/* invalid UTF-8: each octet escaped */
	{ "a\xc3@x", 64, "a\\xc3@x" },
	{ "a\xff\xfe@x", 64, "a\\xff\\xfe@x" },
	{ "\xc0\xaf", 64, "\\xc0\\xaf" },		/* overlong '/' */
	{ "\xed\xa0\x80", 64, "\\xed\\xa0\\x80" },	/* surrogate */
	{ "\xf4\x90\x80\x80", 64, "\\xf4\\x90\\x80\\x80" },
	{ "a\xe2\x82", 64, "a\\xe2\\x82" },	/* truncated */
	/* valid, but a control, a space or a separator: escaped */
	{ "a\xc2\x85""b", 64, "a\\xc2\\x85b" },		/* NEL */
	{ "a\xc2\xa0""b", 64, "a\\xc2\\xa0b" },		/* NBSP */
	{ "a\xe2\x80\xa8""b", 64, "a\\xe2\\x80\\xa8b" },	/* LS */
	{ "a\xe2\x80\xae""b", 64, "a\\xe2\\x80\\xaeb" },	/* RLO */
	{ "a\xe2\x81\xa6""b", 64, "a\\xe2\\x81\\xa6b" },	/* LRI */
	{ "a\xe3\x80\x80""b", 64, "a\\xe3\\x80\\x80b" },	/* ideographic */
	{ "\xef\xbb\xbf""a", 64, "\\xef\\xbb\\xbfa" },	/* BOM */
	/* truncation never cuts a character in two */
	{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10, "\xc3\xa9\xc3\xa9..." },
	{ "abcdefgh\xc3\xa9", 14, "abcdefgh..." },
	/* plain ASCII copied whole (one copy) only where the octet by
	 * octet path would not truncate either */
	{ "abcdefgh", 13, "abcdefgh" },
	{ "abcdefghi", 13, "abcdefgh..." },
	{ "abc\x01", 13, "abc\\x01" },
};

static void
test_log_str(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(str_cases) / sizeof(str_cases[0]); i++) {
		const struct str_case *tc = &str_cases[i];
		char out[64];

		assert_true(tc->outsz <= sizeof(out));
		log_str(out, tc->outsz, tc->in);
		if (strcmp(out, tc->want) != 0)
			fail_msg("case %zu: got [%s] want [%s]", i, out,
				 tc->want);
	}
}

/* The line's shape: the prefix (timestamp, pid, level), the id ("-" for
 * none), subsystem, event and fields; a line longer than the stack buffer
 * log_event formats into comes out whole too. */
static void
test_line_format(void **state)
{
	struct capture c;
	const char *out;
	char want[128], *big;
	size_t len;
	int y, mo, d, h, mi, sec, ms, n = 0;

	(void)state;
	capture_start(&c);
	log_info("ID1", "smtp", "accepted", "size=%d to=<%s>", 42, "a@b");
	out = captured(&c, NULL);
	snprintf(want, sizeof(want),
		 "herald[%d]: info ID1 smtp accepted size=42 to=<a@b>\n",
		 (int)getpid());
	assert_string_equal(out, want);

	log_warn(NULL, "queue", "stopped", NULL);
	out = captured(&c, NULL);
	snprintf(want, sizeof(want), "herald[%d]: warn - queue stopped\n",
		 (int)getpid());
	assert_string_equal(out, want);

	log_set_timestamps(true);
	log_info("ID2", "a", "b", "x=%s", "y");
	out = captured(&c, NULL);
	assert_int_equal(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %n", &y,
				&mo, &d, &h, &mi, &sec, &ms, &n), 7);
	assert_int_equal(n, 25);
	snprintf(want, sizeof(want), "herald[%d]: info ID2 a b x=y\n",
		 (int)getpid());
	assert_string_equal(out + 25, want);
	log_set_timestamps(false);

	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	log_error("ID3", "s", "e", "v=%s end", big);
	out = captured(&c, &len);
	snprintf(want, sizeof(want), "herald[%d]: error ID3 s e v=",
		 (int)getpid());
	assert_int_equal(len, strlen(want) + 4999 + strlen(" end\n"));
	assert_memory_equal(out, want, strlen(want));
	assert_memory_equal(out + len - 5, " end\n", 5);
	free(big);
	capture_end(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_until_flush),
		cmocka_unit_test(test_later_line),
		cmocka_unit_test(test_warning_not_held),
		cmocka_unit_test(test_writes_at_most_4k),
		cmocka_unit_test(test_fork_child_drops_held),
		cmocka_unit_test(test_log_str),
		cmocka_unit_test(test_line_format),
	};

	log_set_timestamps(false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
