/* SPDX-License-Identifier: MIT */
/*
 * herald sendmail for users who cannot write the store (PHP as www-data,
 * cron jobs of ordinary users): the message goes to the running server over
 * its local unix socket ([listen] sendmail) as an SMTP dialogue, and the
 * server, which learns the user id from the socket, stores it. The caller
 * has prepared the message (header completed, CRLF lines).
 */
#ifndef HERALD_CLI_CLI_SENDMAIL_SOCKET_H
#define HERALD_CLI_CLI_SENDMAIL_SOCKET_H

#include <stddef.h>

#include "lib/log.h"

/* The socket tried when the config file cannot be read by the caller (a
 * config with secrets kept from other users): the documented default. */
#define SENDMAIL_SOCKET_DEFAULT "/run/herald/sendmail.sock"

struct sendmail_submit_rcpt {
	const char *address;
	const char *notify;	/* DSN NOTIFY value or NULL */
	const char *orcpt;	/* "rfc822;addr" or NULL */
};

struct sendmail_submit {
	const char *prog;		/* "sendmail": prefix of error lines */
	const char *socket_path;
	unsigned timeout_s;		/* per read or write */
	const char *env_from;		/* "" for the null sender */
	const char *dsn_ret;		/* "FULL", "HDRS" or NULL */
	const char *dsn_envid;		/* or NULL */
	const struct sendmail_submit_rcpt *rcpts;
	size_t n_rcpts;
	const char *data;		/* the message, CRLF lines */
	size_t len;
};

/* Submits one message. Returns 0 (stored for every recipient, durably;
 * id_r holds the server's id) or a sysexits code after printing why on
 * stderr: 67 unknown recipient (nothing stored), 65 refused message, 73
 * over quota, 75 server not running or temporary failure, 76 protocol
 * error. */
int sendmail_submit(const struct sendmail_submit *m,
		    char id_r[LOG_ID_LEN + 1]);

/* The host name the server at socket_path greets with ("220 HOST ..."),
 * for a caller that cannot read the config: bare names (root, alice) are
 * qualified with the server's name, not this machine's. NULL when the
 * server does not answer (errors are left to the submission). */
char *sendmail_socket_hostname(const char *socket_path);

/* A reply line longer than this (with its NUL) is cut; RFC 5321
 * 4.5.3.1.5 allows 512 octets. */
#define SENDMAIL_REPLY_LINE_MAX 2048
/* A reply of more lines than this is refused (EHLO's has about a dozen). */
#define SENDMAIL_REPLY_LINES_MAX 1000

/* Reads one SMTP reply, multi-line or not, from fd: returns its code
 * (100..599) with its last line (no CRLF, cut to SENDMAIL_REPLY_LINE_MAX -
 * 1 octets) in text, or -1 on end of file, an error, a timeout, a line
 * that is not an SMTP reply or more than SENDMAIL_REPLY_LINES_MAX lines
 * (said on stderr unless prog is NULL; text is then empty). What the submission reads its replies with; public for the
 * unit test and the fuzz target. */
int sendmail_socket_read_reply(int fd, const char *prog,
			       char text[SENDMAIL_REPLY_LINE_MAX]);

/* -bs for such users: copies standard input to the socket and the server's
 * replies to standard output until either side ends. Returns a sysexits
 * code. */
int sendmail_socket_proxy(const char *prog, const char *socket_path);

#endif
