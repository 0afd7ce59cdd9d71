/* SPDX-License-Identifier: MIT */
/*
 * SMTP command line reader and tokeniser (RFC 5321 sections 2.3.8, 4.1,
 * 4.5.3.1.4). Pure state machine: the caller feeds bytes as they arrive and
 * gets back one complete command line at a time, or an error for a line
 * that must be answered with 500 and skipped. No I/O, no allocation per
 * byte; the line is held in a buffer bounded by the limits.
 */
#ifndef HERALD_SMTP_SMTP_PARSER_H
#define HERALD_SMTP_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.4: command line, including the verb and CRLF. */
#define SMTP_PARSER_DEFAULT_MAX_LINE 512

struct smtp_parser_limits {
	/* Longest command line accepted, in octets, including the
	 * terminator (CRLF, or LF when allow_bare_lf). At least 8. */
	size_t max_line_len;
	/* Accept a bare LF as a command terminator. Default false (strict):
	 * a line ending in a bare LF is reported as SMTP_LINE_ERR_BARE_LF.
	 * Commands only; DATA never accepts a bare LF as an ending. */
	bool allow_bare_lf;
};

/* Fills in the defaults: 512 octets, strict CRLF. */
void smtp_parser_limits_default(struct smtp_parser_limits *limits_r);

enum smtp_parser_result {
	SMTP_PARSER_NEED_MORE,	/* all input consumed, no complete line yet */
	SMTP_PARSER_LINE,	/* a line is ready: smtp_parser_line() */
	SMTP_PARSER_ERROR,	/* a bad line was skipped: smtp_parser_error() */
};

enum smtp_line_error {
	SMTP_LINE_ERR_NONE,
	SMTP_LINE_ERR_TOO_LONG,	/* over max_line_len; answer 500 5.5.2 */
	SMTP_LINE_ERR_NUL,	/* NUL octet in the line; 500 5.5.2 */
	SMTP_LINE_ERR_BARE_CR,	/* CR not followed by LF inside the line */
	SMTP_LINE_ERR_BARE_LF,	/* LF without CR while strict */
};

struct smtp_parser;

/* Creates a reader; limits are copied. Free with smtp_parser_free(). */
struct smtp_parser *smtp_parser_new(const struct smtp_parser_limits *limits);
void smtp_parser_free(struct smtp_parser **parser);

/* Consumes input up to and including the end of at most one line and
 * stores the number of octets taken in *consumed_r (always <= len; when
 * the result is NEED_MORE it equals len). Bytes after the line are left
 * for the next call, so pipelined commands and the DATA body that follows
 * a DATA command stay with the caller.
 *
 * LINE: the line (without its terminator) is available through
 * smtp_parser_line() until the next feed call.
 * ERROR: the whole offending line, up to and including its LF, has been
 * consumed and discarded; smtp_parser_error() says why. An overlong line
 * is reported once, when its LF arrives, however long it was; its bytes
 * are not stored. */
enum smtp_parser_result smtp_parser_feed(struct smtp_parser *parser,
					 const uint8_t *data, size_t len,
					 size_t *consumed_r);

/* The last complete line, NUL-terminated, without CR/LF. It contains no
 * NUL, CR or LF octets. *len_r may be NULL. Valid until the next feed. */
const char *smtp_parser_line(const struct smtp_parser *parser, size_t *len_r);

/* The reason for the last SMTP_PARSER_ERROR. */
enum smtp_line_error smtp_parser_error(const struct smtp_parser *parser);
/* A short static text for an error, for replies and logs. */
const char *smtp_line_error_str(enum smtp_line_error err);

/* Whether part of a line has been received but not yet completed. */
bool smtp_parser_has_partial(const struct smtp_parser *parser);

/* Drops any partial line (STARTTLS: nothing received before the
 * handshake may be acted on after it). */
void smtp_parser_reset(struct smtp_parser *parser);

/* Zeroes the whole line buffer (a line that carried an AUTH response,
 * also one refused as too long) and starts a new line. The line of
 * smtp_parser_line() is then empty. smtp_parser_free() does the same. */
void smtp_parser_wipe(struct smtp_parser *parser);

/* ---- tokenising one line ---- */

enum smtp_cmd {
	SMTP_CMD_UNKNOWN,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_LHLO,
	SMTP_CMD_COUNT
};

struct smtp_command {
	enum smtp_cmd cmd;
	const char *verb;	/* points into the line; not NUL-terminated */
	size_t verb_len;
	/* The argument after the verb and its separating space(s), with
	 * trailing spaces and tabs removed; "" when there is none. Points
	 * into the line, which is NUL-terminated, so arg[arg_len] == '\0'
	 * only when nothing was trimmed; use arg_len. */
	const char *arg;
	size_t arg_len;
};

/* Splits a line from smtp_parser_line() into verb and argument. The verb
 * is matched case-insensitively; an unknown verb (or an empty line) gives
 * SMTP_CMD_UNKNOWN with verb/verb_len still set. Pointers refer into line.
 * Never fails. */
void smtp_command_parse(const char *line, size_t len,
			struct smtp_command *cmd_r);

/* Upper-case name of a command ("MAIL"), or "UNKNOWN". */
const char *smtp_cmd_name(enum smtp_cmd cmd);

#endif
