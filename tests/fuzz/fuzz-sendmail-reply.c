/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes as what the server sends to the local
 * submission client (herald sendmail over [listen] sendmail), read reply
 * by reply until the reader refuses or the bytes end. Every reply read
 * has a code of 100..599 and a last line that starts with it, fits the
 * line limit and has no space-or-end mismatch at its fourth octet.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli-sendmail-socket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[SENDMAIL_REPLY_LINE_MAX];
	int sv[2], code;

	/* well inside a unix socket's buffer: written before reading */
	if (size > 65536)
		size = 65536;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	if (size > 0 && send(sv[1], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	close(sv[1]);
	while ((code = sendmail_socket_read_reply(sv[0], NULL, text)) != -1) {
		size_t len = strlen(text);

		if (code < 100 || code > 599 || len < 3 ||
		    len >= SENDMAIL_REPLY_LINE_MAX ||
		    (text[3] != '\0' && text[3] != ' ') ||
		    (text[0] - '0') * 100 + (text[1] - '0') * 10 +
			    (text[2] - '0') != code)
			abort();
	}
	if (text[0] != '\0')
		abort();
	close(sv[0]);
	return 0;
}
