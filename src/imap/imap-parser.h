/* SPDX-License-Identifier: MIT */
/*
 * IMAP command input (RFC 9051 9, RFC 3501 9): an incremental state machine
 * that turns the client's byte stream into one command at a time (tag, name
 * and a generic argument tree) with literals in any number of pieces, and
 * the sequence-set parser. No I/O; every size is capped by the limits.
 */
#ifndef HERALD_IMAP_PARSER_H
#define HERALD_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits of one command. The defaults (imap_parser_limits_default) are the
 * documented values below; the session will later take them from settings.
 */
struct imap_parser_limits {
	/* Octets of command text, literal data not counted, CRLFs counted,
	 * over all the lines of one command. Default 65536 (RFC 9051 4
	 * asks servers to accept at least 8000). */
	size_t line_max;
	/* Octets of literal data in one command, all its literals together
	 * (APPENDLIMIT later). Default 67108864 (64 MiB). */
	uint64_t literal_max;
	/* Largest non-synchronising literal {n+}: 4096 is LITERAL- (RFC 7888
	 * 5, required by IMAP4rev2); set to literal_max for LITERAL+.
	 * Default 4096. */
	uint64_t literal_nonsync_max;
	/* Parenthesised lists open at once. Default 32. */
	unsigned int depth_max;
	/* Arguments of one command, each list counting as one besides its
	 * members. Default 4096. */
	unsigned int args_max;
};

void imap_parser_limits_default(struct imap_parser_limits *limits_r);

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* atom, flag (\Seen), sequence set, fetch att
				 * with its [section]<partial> */
	IMAP_ARG_NIL,		/* the atom NIL in any case */
	IMAP_ARG_STRING,	/* quoted string, escapes removed */
	IMAP_ARG_LITERAL,	/* {n} or {n+} */
	IMAP_ARG_LITERAL8,	/* ~{n} or ~{n+} (RFC 3516), may hold NUL */
	IMAP_ARG_LIST,		/* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	/* Text of every type but LIST (NULL there): NUL-terminated, len
	 * octets (a LITERAL8 may contain NUL; the others never do). */
	const char *str;
	size_t len;
	/* LIST: its members, list_count of them (list is NULL when 0). */
	const struct imap_arg *list;
	size_t list_count;
};

struct imap_command {
	const char *tag;
	const char *name;	/* upper-cased ("UID", "FETCH", ...) */
	const struct imap_arg *args;	/* n_args top-level arguments */
	size_t n_args;
};

enum imap_parse_result {
	/* All input consumed, no command complete yet. */
	IMAP_PARSE_NEED_MORE,
	/* A synchronising literal was announced ({n} / ~{n} and its CRLF
	 * consumed): the caller answers with imap_parser_literal_accept()
	 * and a "+ " continuation request, or imap_parser_literal_refuse()
	 * and a tagged NO/BAD (the client then sends no literal). */
	IMAP_PARSE_LITERAL,
	/* One command is complete, up to and including its CRLF:
	 * imap_parser_command(). */
	IMAP_PARSE_DONE,
	/* The command is wrong: imap_parser_error(). */
	IMAP_PARSE_ERROR,
};

enum imap_parse_error {
	IMAP_PARSE_ERR_NONE = 0,
	IMAP_PARSE_ERR_TAG,		/* missing or invalid tag */
	IMAP_PARSE_ERR_COMMAND,		/* missing or invalid command name */
	IMAP_PARSE_ERR_SYNTAX,		/* anything else not in the grammar */
	IMAP_PARSE_ERR_CHAR,		/* NUL, CTL, bare CR, 8-bit where not
					 * allowed, invalid UTF-8 */
	IMAP_PARSE_ERR_LINE_TOO_LONG,	/* over line_max */
	IMAP_PARSE_ERR_LITERAL_TOO_BIG,	/* over literal_max or, for {n+},
					 * over literal_nonsync_max */
	IMAP_PARSE_ERR_TOO_DEEP,	/* over depth_max */
	IMAP_PARSE_ERR_TOO_MANY_ARGS,	/* over args_max */
};

struct imap_parser_error {
	enum imap_parse_error code;
	/* Static English text for the BAD response. */
	const char *text;
	/* The tag when it was read (answer "TAG BAD"), else NULL ("* BAD").
	 * Valid until the next feed. */
	const char *tag;
	/* True when the parser discards more input on the next feeds before
	 * it reads the next command: the rest of the line when the error came
	 * before its end, and the n octets of a "{n+}" that ends the refused
	 * line (the client sends them without waiting, RFC 7888 4), even
	 * when that header itself was refused. Literal octets never count
	 * as lines. */
	bool skip_line;
};

struct imap_parser;

/* limits NULL: the defaults. Values of 0 are raised to 1 (line_max to 16). */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **parser);
/* Replaces the limits (tighter before login than after, STYLE.md); they
 * apply from the next command on. Same raising of 0 as imap_parser_new. */
void imap_parser_set_limits(struct imap_parser *parser,
			    const struct imap_parser_limits *limits);
/* Forgets any partial command (after STARTTLS). */
void imap_parser_reset(struct imap_parser *parser);
/* Overwrites the text of the last command or raw line (LOGIN's
 * password, AUTHENTICATE's responses) with zeros. Call it only between
 * commands, after the last one was used. */
void imap_parser_wipe(struct imap_parser *parser);
/* Whether part of a command, or of a line being skipped, has been read. */
bool imap_parser_has_partial(const struct imap_parser *parser);

/*
 * Consumes input until a command is complete, a synchronising literal is
 * announced, an error is found, or the input is used up; *consumed_r gets
 * how many octets were used and the caller offers the rest (pipelined
 * commands) again on the next call. Never allocates for what a client
 * only announces: a literal's size is only compared with the limits.
 * Memory grows with the octets received, up to about twice line_max +
 * literal_max (buffers double); a buffer grown by one big command is
 * given back when the next one starts.
 *
 * Line ends: CRLF, and a bare LF is accepted as CRLF (many servers do, and
 * IMAP carries message data only in counted literals, so no smuggling
 * follows). A CR not followed by LF is an error. Empty lines between
 * commands are ignored. Exactly one SP separates arguments.
 *
 * After IMAP_PARSE_DONE the command (imap_parser_command) stays valid until
 * the next feed or reset. After IMAP_PARSE_LITERAL the caller must call
 * imap_parser_literal_accept() or _refuse() before feeding again.
 */
enum imap_parse_result imap_parser_feed(struct imap_parser *parser,
					const uint8_t *data, size_t len,
					size_t *consumed_r);

/*
 * Reads one raw line instead of a command: IDLE's "DONE" (RFC 2177) or an
 * AUTHENTICATE response, which are not commands. Call it only between
 * commands (not while imap_parser_feed has a command half-read) and until
 * it returns something other than IMAP_PARSE_NEED_MORE. Consumes up to and
 * including the line's LF, so commands a client sends in the same packet
 * (iOS Mail after DONE) stay in the caller's buffer for imap_parser_feed.
 * IMAP_PARSE_DONE: *line_r / *len_r is the line without its CRLF (or bare
 * LF), possibly empty, NUL-terminated, owned by the parser and valid until
 * the next feed. IMAP_PARSE_ERROR (imap_parser_error, tag NULL): a NUL or
 * a CR inside the line (skip_line false), or a line over line_max (the
 * rest of it is skipped, skip_line true). Never IMAP_PARSE_LITERAL.
 */
enum imap_parse_result imap_parser_feed_line(struct imap_parser *parser,
					     const uint8_t *data, size_t len,
					     size_t *consumed_r,
					     const char **line_r,
					     size_t *len_r);

/* The command after IMAP_PARSE_DONE; owned by the parser. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);

/* After IMAP_PARSE_LITERAL: the tag, the upper-cased command name and the
 * announced size, so the session can refuse an APPEND over its limit.
 * Valid until the next feed. */
const char *imap_parser_tag(const struct imap_parser *parser);
const char *imap_parser_name(const struct imap_parser *parser);
uint64_t imap_parser_literal_size(const struct imap_parser *parser);

/* The literal will be read: send "+ ..." now. */
void imap_parser_literal_accept(struct imap_parser *parser);
/* The command ends here (the client sends no literal without "+"): answer
 * it tagged; the parser reads the next command. */
void imap_parser_literal_refuse(struct imap_parser *parser);

/* The error after IMAP_PARSE_ERROR; valid until the next feed. */
const struct imap_parser_error *
imap_parser_error(const struct imap_parser *parser);

/* The text of a string-like argument (atom, quoted, literal; not NIL, not
 * LIST, not a LITERAL8): astring in RFC 9051 terms. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r,
			  size_t *len_r);
/* Whether arg is an atom equal to word, ignoring ASCII case. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word);
/* An atom of digits, no sign, no overflow: number (RFC 9051 9). */
bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r);
bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r);

/*
 * Sequence sets (RFC 9051 9 sequence-set, RFC 5182 "$").
 */
/* "*": the largest number in use, resolved by the command. The number
 * 4294967295 reads the same; UIDs stop there (RFC 9051 2.3.1.1), so the
 * two never need telling apart. */
#define IMAP_SEQ_STAR UINT32_MAX

struct imap_seq_range {
	/* As sent: first may be above last ("*:123" is "123:*", RFC 9051
	 * 9 seq-range); either may be IMAP_SEQ_STAR. A single number has
	 * first == last. */
	uint32_t first;
	uint32_t last;
};

struct imap_seqset {
	bool saved;		/* "$": the saved search result, no ranges */
	size_t count;
	struct imap_seq_range *ranges;
};

/* Default cap on ranges of one set. */
#define IMAP_SEQSET_RANGES_DEFAULT 10000

/*
 * Parses a sequence set: comma-separated nz-numbers, "*" and ranges "a:b",
 * or "$" alone. 0, leading zeros, numbers over 4294967295, empty parts and
 * more than max_ranges ranges are refused (counted before anything is
 * allocated). Returns 0 with set_r filled (free with imap_seqset_deinit),
 * or -1 with a static *error_r and set_r empty.
 */
int imap_seqset_parse(const char *s, size_t len, size_t max_ranges,
		      struct imap_seqset *set_r, const char **error_r);
void imap_seqset_deinit(struct imap_seqset *set);
/* The range with "*" replaced by star, as lo <= hi. */
void imap_seq_range_bounds(const struct imap_seq_range *range, uint32_t star,
			   uint32_t *lo_r, uint32_t *hi_r);

#endif
