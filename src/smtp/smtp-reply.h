/* SPDX-License-Identifier: MIT */
/*
 * SMTP replies (RFC 5321 4.2) as a client reads them, enhanced status
 * codes (RFC 3463) and the ESMTP keywords of an EHLO reply, shared by the
 * client and the server (which advertises the same keywords). The reader
 * is a pure state machine over byte slices with limits.
 */
#ifndef HERALD_SMTP_SMTP_REPLY_H
#define HERALD_SMTP_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* ---- one reply -------------------------------------------------------- */

struct smtp_reply {
	unsigned code;		/* 200..599; 0: no reply */
	/* "5.1.1" when the first line carried an enhanced status code
	 * (RFC 2034: only when the server offered ENHANCEDSTATUSCODES, but
	 * read whenever it is well formed and its class matches), else "" */
	char enhanced[16];
	/* The text of every line without the code, the separator and (on
	 * each line) the repeated enhanced code, lines joined with "\n";
	 * control characters other than TAB replaced by '?'. Never NULL
	 * once parsed (owned by the reply). */
	char *text;
	unsigned n_lines;
};

void smtp_reply_init(struct smtp_reply *reply);
void smtp_reply_deinit(struct smtp_reply *reply);
/* Deep copy of src into *dst (dst initialised or deinitialised). */
void smtp_reply_copy(struct smtp_reply *dst, const struct smtp_reply *src);
/* Sets a reply made locally: code, enhanced (may be NULL) and a text. */
void smtp_reply_set(struct smtp_reply *reply, unsigned code,
		    const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends "550 5.1.1 text" on one line (the text's line breaks become
 * spaces), as logs and DSN Diagnostic-Code fields show it. */
void smtp_reply_append_line(const struct smtp_reply *reply, struct buf *out);

static inline bool
smtp_reply_is_positive(const struct smtp_reply *r)
{
	return r->code >= 200 && r->code < 400;
}

static inline bool
smtp_reply_is_permanent(const struct smtp_reply *r)
{
	return r->code >= 500 && r->code < 600;
}

/* ---- the incremental reader -------------------------------------------- */

#define SMTP_REPLY_DEFAULT_LINE_MAX 2048
#define SMTP_REPLY_DEFAULT_LINES_MAX 100

struct smtp_reply_limits {
	size_t line_max;	/* octets of a line with CRLF; >= 8 */
	unsigned lines_max;	/* lines of one reply; >= 1 */
};

enum smtp_reply_result {
	SMTP_REPLY_NEED_MORE,	/* every byte consumed, reply incomplete */
	SMTP_REPLY_DONE,	/* a whole reply: smtp_reply_parser_take() */
	SMTP_REPLY_ERROR,	/* malformed: smtp_reply_parser_error() */
};

struct smtp_reply_parser;

struct smtp_reply_parser *
smtp_reply_parser_new(const struct smtp_reply_limits *limits);
void smtp_reply_parser_free(struct smtp_reply_parser **parser);

/* Reads at most one reply from data[0..len) and sets *consumed_r to the
 * bytes taken (replies pipelined behind it stay with the caller). A line
 * ends in LF (a CR before it is dropped: lenient, as the reply is only
 * read, never forwarded). Accepted: "250 text", "250" alone, "250-text"
 * continuation lines with the same code. Refused (ERROR, and the parser
 * must not be fed again): a line without three digits, a code outside
 * 200..599 (1xx is unused in SMTP), a different code on a continuation
 * line, a fourth octet other than ' ' or '-' ("250text"), a line over
 * line_max, more than lines_max lines, a NUL. After ERROR the
 * connection cannot be trusted to be in step: close it. */
enum smtp_reply_result smtp_reply_parser_feed(struct smtp_reply_parser *parser,
					      const uint8_t *data, size_t len,
					      size_t *consumed_r);
/* Moves the completed reply into *reply_r (deinitialised first) and
 * starts the next. Only after DONE. */
void smtp_reply_parser_take(struct smtp_reply_parser *parser,
			    struct smtp_reply *reply_r);
/* Static text for the last ERROR: "line too long", ... */
const char *smtp_reply_parser_error(const struct smtp_reply_parser *parser);
/* Lines of the reply being read (for EHLO: one keyword per line);
 * valid after DONE until take: line i's text without code and
 * separator, NUL-terminated. */
unsigned smtp_reply_parser_line_count(const struct smtp_reply_parser *parser);
const char *smtp_reply_parser_line(const struct smtp_reply_parser *parser,
				   unsigned i);

/* ---- ESMTP keywords ---------------------------------------------------- */

#define SMTP_EXT_PIPELINING	0x0001u	/* RFC 2920 */
#define SMTP_EXT_SIZE		0x0002u	/* RFC 1870 */
#define SMTP_EXT_8BITMIME	0x0004u	/* RFC 6152 */
#define SMTP_EXT_SMTPUTF8	0x0008u	/* RFC 6531 */
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x0010u /* RFC 2034 */
#define SMTP_EXT_CHUNKING	0x0020u	/* RFC 3030 */
#define SMTP_EXT_BINARYMIME	0x0040u	/* RFC 3030 */
#define SMTP_EXT_STARTTLS	0x0080u	/* RFC 3207 */
#define SMTP_EXT_AUTH		0x0100u	/* RFC 4954 */
#define SMTP_EXT_DSN		0x0200u	/* RFC 3461 */

/* The keyword's name as advertised ("PIPELINING") for one bit. */
const char *smtp_ext_name(unsigned bit);

/* What an EHLO/LHLO reply offers: the bits, SIZE's value and the AUTH
 * mechanisms. */
struct smtp_ehlo {
	unsigned ext;
	uint64_t size_max;	/* 0: SIZE without a value, or none */
	bool auth_plain, auth_login;
};

/* Reads one line of an EHLO reply's text after the first ("SIZE
 * 1000000", "AUTH PLAIN LOGIN", "AUTH=LOGIN" from old servers) into
 * *ehlo; unknown keywords are ignored. */
void smtp_ehlo_parse_line(const char *line, struct smtp_ehlo *ehlo);

/* ---- enhanced status codes --------------------------------------------- */

/* Whether s[0..len) starts with an enhanced status code (RFC 3463:
 * class "2"/"4"/"5", subject 1-3 digits, detail 1-3 digits) followed by
 * a space or the end; *code_len_r gets its length. */
bool smtp_enhanced_code_scan(const char *s, size_t len, size_t *code_len_r);

#endif
