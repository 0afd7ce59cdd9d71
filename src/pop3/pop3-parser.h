/* SPDX-License-Identifier: MIT */
/*
 * POP3 command input (RFC 1939 3, RFC 2449 4): an incremental line splitter
 * with a length cap that survives any split of the input, and the parser
 * that turns one line into a keyword and its arguments. No I/O.
 */
#ifndef HERALD_POP3_PARSER_H
#define HERALD_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Commands we know; POP3_CMD_UNKNOWN for anything else. */
enum pop3_cmd {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_APOP,
	POP3_CMD_AUTH,
	POP3_CMD_CAPA,
	POP3_CMD_STLS,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_COUNT
};

/* Upper-case keyword of a command ("RETR"); "" for UNKNOWN. */
const char *pop3_cmd_name(enum pop3_cmd cmd);

struct pop3_limits {
	/* Longest line accepted, counting its CRLF. RFC 2449 4 sets 255 for
	 * commands; SASL responses (RFC 5034 4) may be longer. */
	size_t line_max;
};

/* Smallest line_max the parser accepts (shorter values are raised). */
#define POP3_LINE_MAX_MIN 16

enum pop3_parse_result {
	POP3_PARSE_NEED_MORE,	/* all input consumed, no complete line yet */
	POP3_PARSE_LINE,	/* *line_r holds one line (without CR LF) */
	POP3_PARSE_TOO_LONG,	/* a line longer than line_max has ended (its
				 * bytes were discarded) */
};

struct pop3_parser;

struct pop3_parser *pop3_parser_new(const struct pop3_limits *limits);
void pop3_parser_free(struct pop3_parser **parser);
/* Changes the cap for the next line (e.g. during a SASL exchange). */
void pop3_parser_set_line_max(struct pop3_parser *parser, size_t line_max);
/* Forgets a partial line (after STLS). */
void pop3_parser_reset(struct pop3_parser *parser);
/* Zeroes the line buffer (a line that carried a password or SASL
 * response) and forgets a partial line; pop3_parser_free() and a change
 * of line_max clear the old buffer too. */
void pop3_parser_wipe(struct pop3_parser *parser);

/*
 * Consumes input up to and including the LF that ends the next line, or
 * all of it. *consumed_r gets how many bytes were used; the caller drops
 * them from its buffer and calls again with the rest. On POP3_PARSE_LINE,
 * *line_r / *len_r is the line without its line ending (a CR before the LF
 * is removed; a bare LF is accepted), NUL-terminated, owned by the parser
 * and valid until the next feed or reset. An over-long line is discarded
 * as it streams in, so memory stays bounded by line_max.
 */
enum pop3_parse_result pop3_parser_feed(struct pop3_parser *parser,
					const uint8_t *data, size_t len,
					size_t *consumed_r, char **line_r,
					size_t *len_r);

/* Most arguments a command line may carry (TOP, APOP, AUTH take two). */
#define POP3_MAX_ARGS 2

struct pop3_command {
	enum pop3_cmd cmd;
	char keyword[5];	/* as sent, upper-cased; "" when not a keyword */
	size_t n_args;
	char *args[POP3_MAX_ARGS];
	/* For PASS: everything after the keyword and one space, so passwords
	 * may contain spaces (also in args[0]). Other commands split it in
	 * place into args. */
	char *rest;
};

/*
 * Parses one line (as returned by pop3_parser_feed; modified in place and
 * referenced by *cmd_r). Keywords are 3-4 letters, case-insensitive;
 * arguments are separated by spaces. Returns 0, or -1 with a static
 * *error_r for an empty line, a NUL or control byte, a keyword that is not
 * 3-4 letters, or more than POP3_MAX_ARGS arguments (rest and keyword are
 * still filled in when the keyword was readable, so PASS works).
 * An unknown but well-formed keyword gives 0 and POP3_CMD_UNKNOWN.
 */
int pop3_command_parse(char *line, size_t len, struct pop3_command *cmd_r,
		       const char **error_r);

/* Parses a message number or line count: decimal digits only, no sign,
 * no overflow of uint32_t. Returns true on success. */
bool pop3_parse_number(const char *s, uint32_t *num_r);

#endif
