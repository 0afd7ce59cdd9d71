/* SPDX-License-Identifier: MIT */
/*
 * cli/cli-sendmail-socket: the SMTP reply reader of the local submission
 * client, fed through a socket pair whole and one octet at a time (so a
 * reply arrives over many reads): multi-line replies, bare LF, cut long
 * lines, and each way a reply can be refused (not SMTP, end of file in
 * the middle, too many lines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli-sendmail-socket.h"
#include "lib/buf.h"

struct feeder {
	int fd;
	const char *data;
	size_t len;
	bool by_octet;
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;

	if (f->by_octet) {
		for (size_t i = 0; i < f->len; i++) {
			if (send(f->fd, f->data + i, 1, MSG_NOSIGNAL) != 1)
				break;
			usleep(200);	/* the reader gets it in pieces */
		}
	} else if (f->len > 0) {
		(void)send(f->fd, f->data, f->len, MSG_NOSIGNAL);
	}
	close(f->fd);		/* end of file after the data */
	return NULL;
}

/* The first reply read from data, sent whole or octet by octet. */
static int
read_first(const char *data, size_t len, bool by_octet,
	   char text[SENDMAIL_REPLY_LINE_MAX])
{
	int sv[2];
	struct feeder f;
	pthread_t t;
	int code;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f = (struct feeder){ .fd = sv[1], .data = data, .len = len,
			     .by_octet = by_octet };
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	code = sendmail_socket_read_reply(sv[0], NULL, text);
	close(sv[0]);		/* a feeder still sending gets EPIPE */
	pthread_join(t, NULL);
	return code;
}

/* Both ways give code and last line (want_text NULL: no check). */
static void
check(const char *data, int want_code, const char *want_text)
{
	char text[SENDMAIL_REPLY_LINE_MAX];

	for (int by_octet = 0; by_octet < 2; by_octet++) {
		assert_int_equal(read_first(data, strlen(data), by_octet, text),
				 want_code);
		if (want_text != NULL)
			assert_string_equal(text, want_text);
	}
}

static void
test_replies(void **state)
{
	(void)state;
	check("220 mail.example.test ESMTP Herald\r\n", 220,
	      "220 mail.example.test ESMTP Herald");
	check("250-mail.example.test\r\n250-PIPELINING\r\n250 DSN\r\n"
	      "250 next reply\r\n", 250, "250 DSN");
	check("354\r\n", 354, "354");
	check("221 bye\n", 221, "221 bye");	/* bare LF ends a line too */
	check("452 4.5.3 too many\r\n", 452, "452 4.5.3 too many");
}

static void
test_refused(void **state)
{
	(void)state;
	check("", -1, "");				/* closed at once */
	check("250-more to come\r\n", -1, "");		/* closed in between */
	check("250 no line end", -1, "");
	check("hello\r\n", -1, "");			/* not SMTP */
	check("25\r\n", -1, "");
	check("650 six\r\n", -1, "");
	check("250x\r\n", -1, "");
	check("2a0 x\r\n", -1, "");
}

static void
test_long_line_cut(void **state)
{
	struct buf b;
	char text[SENDMAIL_REPLY_LINE_MAX];

	(void)state;
	buf_init(&b);
	buf_puts(&b, "550 ");
	for (int i = 0; i < 5000; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\r\n");
	for (int by_octet = 0; by_octet < 2; by_octet++) {
		assert_int_equal(read_first(b.data, b.len, by_octet, text), 550);
		assert_int_equal(strlen(text), SENDMAIL_REPLY_LINE_MAX - 1);
		assert_memory_equal(text, "550 xxx", 7);
	}
	buf_deinit(&b);
}

static void
test_too_many_lines(void **state)
{
	struct buf b;
	char text[SENDMAIL_REPLY_LINE_MAX];

	(void)state;
	buf_init(&b);
	for (int i = 0; i < SENDMAIL_REPLY_LINES_MAX - 1; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 last\r\n");
	/* the most lines a reply may have */
	assert_int_equal(read_first(b.data, b.len, false, text), 250);
	assert_string_equal(text, "250 last");
	buf_reset(&b);
	for (int i = 0; i < SENDMAIL_REPLY_LINES_MAX; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 last\r\n");
	/* one more: refused, whatever follows */
	assert_int_equal(read_first(b.data, b.len, false, text), -1);
	assert_string_equal(text, "");
	buf_deinit(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_too_many_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
