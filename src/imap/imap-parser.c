/* SPDX-License-Identifier: MIT */
/*
 * IMAP command parser: one octet at a time through a state machine (literal
 * data in bulk), the argument tree kept as a flat array of nodes with
 * offsets into one text buffer while the command grows, and turned into
 * pointers once it is complete.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/utf8.h"

/* RFC 9051 9: number64 is at most 2^63 - 1. */
#define NUMBER64_MAX ((uint64_t)INT64_MAX)
/* A buffer grown by one big command is given back when the next starts. */
#define KEEP_TEXT_MAX 65536
#define KEEP_NODES_MAX 256

enum state {
	S_LINE_START,	/* before a tag; empty lines are dropped here */
	S_EMPTY_CR,	/* CR of an empty line */
	S_TAG,
	S_NAME,
	S_ARG_START,	/* an argument must follow (after SP) */
	S_LIST_OPEN,	/* after "(": an argument or ")" */
	S_ARG_END,	/* after an argument: SP, ")" or the line end */
	S_ATOM,
	S_TILDE,	/* "~": literal8 or an atom starting with "~" */
	S_SECTION,	/* inside BODY[...] */
	S_SECTION_Q,
	S_SECTION_QESC,
	S_QUOTED,
	S_QESC,
	S_LIT_OPEN,	/* after "{": first digit */
	S_LIT_NUM,
	S_LIT_PLUS,
	S_LIT_CR,	/* after "}" */
	S_LIT_LF,
	S_LIT_WAIT,	/* IMAP_PARSE_LITERAL returned */
	S_LIT_DATA,
	S_CR,		/* CR at the end of a command line */
	S_SKIP,		/* after an error: up to the end of the line */
	S_SKIP_LIT,	/* after an error: data of a non-sync literal */
	S_RAW,		/* imap_parser_feed_line: a line half-read */
};

struct node {
	enum imap_arg_type type;
	uint32_t parent;	/* index + 1 of the list holding it; 0: top */
	uint32_t ordinal;	/* position among its siblings */
	uint32_t count;		/* LIST: members so far */
	uint32_t child_start;	/* LIST: slot of its first member */
	size_t off, len;	/* text in p->text */
};

struct imap_parser {
	struct imap_parser_limits limits;
	struct imap_parser_limits next_limits;
	bool limits_pending;	/* next_limits apply from the next command */
	enum state state;
	bool reset_pending;	/* a result was returned: clear on next feed */

	struct buf text;	/* tag NUL name NUL then each argument NUL */
	size_t name_off;
	bool tag_done, name_done;

	struct node *nodes;
	size_t n_nodes, nodes_cap;
	uint32_t cur_list;	/* index + 1 of the open list; 0: none */
	uint32_t top_count;
	unsigned int depth;
	size_t line_len;	/* command text octets so far */

	uint64_t lit_total;
	uint64_t lit_size;
	uint64_t lit_left;
	bool lit8, lit_nonsync, lit_overflow, section_done;

	/* skip mode: a "{n+}" or "~{n+}" that ends the skipped line */
	int sk;			/* 0 none, 1 digits, 2 "+", 3 "}", 4 "}" CR */
	uint64_t sk_num;
	uint64_t skip_left;
	bool skip_raw;		/* skipping a raw line: no literals follow */

	struct imap_parser_error err;
	struct imap_command cmd;
	struct imap_arg *args;
	size_t args_cap;
};

void
imap_parser_limits_default(struct imap_parser_limits *limits_r)
{
	limits_r->line_max = 65536;
	limits_r->literal_max = 64 * 1024 * 1024;
	limits_r->literal_nonsync_max = 4096;
	limits_r->depth_max = 32;
	limits_r->args_max = 4096;
}

static void
limits_set(struct imap_parser_limits *dest,
	   const struct imap_parser_limits *limits)
{
	if (limits != NULL)
		*dest = *limits;
	else
		imap_parser_limits_default(dest);
	if (dest->line_max < 16)
		dest->line_max = 16;
	if (dest->depth_max == 0)
		dest->depth_max = 1;
	if (dest->args_max == 0)
		dest->args_max = 1;
}

struct imap_parser *
imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	limits_set(&p->limits, limits);
	buf_init(&p->text);
	return p;
}

void
imap_parser_set_limits(struct imap_parser *p,
		       const struct imap_parser_limits *limits)
{
	/* a command half-read keeps the limits it started under */
	if (imap_parser_has_partial(p))
		limits_set(&p->next_limits, limits);
	else
		limits_set(&p->limits, limits);
	p->limits_pending = imap_parser_has_partial(p);
}

void
imap_parser_free(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;

	if (p == NULL)
		return;
	/* a LOGIN password may be in there */
	if (p->text.cap > 0)
		mem_wipe(p->text.data, p->text.cap);
	buf_deinit(&p->text);
	free(p->nodes);
	free(p->args);
	xfree(parser);
}

static void
command_reset(struct imap_parser *p)
{
	if (p->text.cap > KEEP_TEXT_MAX) {
		mem_wipe(p->text.data, p->text.cap);
		buf_deinit(&p->text);
		buf_init(&p->text);
	} else {
		mem_wipe(p->text.data, p->text.len);
		buf_reset(&p->text);
	}
	if (p->nodes_cap > KEEP_NODES_MAX) {
		xfree(&p->nodes);
		xfree(&p->args);
		p->nodes_cap = 0;
		p->args_cap = 0;
	}
	p->n_nodes = 0;
	p->cur_list = 0;
	p->top_count = 0;
	p->depth = 0;
	p->line_len = 0;
	p->lit_total = 0;
	p->tag_done = false;
	p->name_done = false;
	p->name_off = 0;
	memset(&p->cmd, 0, sizeof(p->cmd));
	memset(&p->err, 0, sizeof(p->err));
	p->reset_pending = false;
}

void
imap_parser_reset(struct imap_parser *p)
{
	command_reset(p);
	p->state = S_LINE_START;
	p->sk = 0;
	p->skip_left = 0;
	p->skip_raw = false;
}

void
imap_parser_wipe(struct imap_parser *p)
{
	/* the whole capacity: a longer earlier command left bytes too */
	mem_wipe(p->text.data, p->text.cap);
	p->text.len = 0;
}

bool
imap_parser_has_partial(const struct imap_parser *p)
{
	return p->state != S_LINE_START;
}

static const char *const error_texts[] = {
	[IMAP_PARSE_ERR_NONE] = "",
	[IMAP_PARSE_ERR_TAG] = "Missing or invalid tag",
	[IMAP_PARSE_ERR_COMMAND] = "Missing or invalid command name",
	[IMAP_PARSE_ERR_SYNTAX] = "Syntax error",
	[IMAP_PARSE_ERR_CHAR] = "Invalid character in command",
	[IMAP_PARSE_ERR_LINE_TOO_LONG] = "Command line too long",
	[IMAP_PARSE_ERR_LITERAL_TOO_BIG] = "Literal too big",
	[IMAP_PARSE_ERR_TOO_DEEP] = "Too many nested parentheses",
	[IMAP_PARSE_ERR_TOO_MANY_ARGS] = "Too many arguments",
};

/*
 * Whether a line ends in a non-synchronising literal header "{n+}" (or
 * "~{n+}"), tracked over every octet of command text whatever state the
 * parser is in: when the line is refused, its n octets of literal data
 * follow anyway (RFC 7888 4) and must be skipped, or a client's literal
 * would be read as commands.
 */
static void
sk_track(struct imap_parser *p, uint8_t c)
{
	if (c == '{') {
		p->sk = 1;
		p->sk_num = 0;
	} else if (p->sk == 1 && c >= '0' && c <= '9') {
		if (p->sk_num > (UINT64_MAX - 9) / 10)
			p->sk_num = UINT64_MAX;
		else
			p->sk_num = p->sk_num * 10 + (c - '0');
	} else if (p->sk == 1 && c == '+') {
		p->sk = 2;
	} else if (p->sk == 2 && c == '}') {
		p->sk = 3;
	} else if (p->sk == 3 && c == '\r') {
		p->sk = 4;
	} else {
		p->sk = 0;
	}
}

/* A line being refused or skipped has ended. */
static void
skip_line_end(struct imap_parser *p)
{
	if (p->sk >= 3) {
		p->skip_left = p->sk_num;
		p->state = S_SKIP_LIT;
	} else {
		p->state = S_LINE_START;
	}
	p->sk = 0;
}

static void
skip_octet(struct imap_parser *p, uint8_t c)
{
	if (c == '\n') {
		skip_line_end(p);
		p->skip_raw = false;
	} else if (!p->skip_raw) {
		sk_track(p, c);
	}
}

/* Records an error found at octet c (already consumed). Unless the line
 * ended with it, the rest of the line is skipped. */
static enum imap_parse_result
fail(struct imap_parser *p, enum imap_parse_error code, const char *text,
     uint8_t c)
{
	p->err.code = code;
	p->err.text = text != NULL ? text : error_texts[code];
	p->err.tag = p->tag_done ? p->text.data : NULL;
	if (c == '\n') {
		skip_line_end(p);
		p->err.skip_line = p->state == S_SKIP_LIT;
	} else {
		p->err.skip_line = true;
		p->state = S_SKIP;
	}
	p->reset_pending = true;
	return IMAP_PARSE_ERROR;
}

/* RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+"> */
static bool
is_tag_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

/* ATOM-CHAR plus list-wildcards and "]": atoms, LIST patterns and
 * sequence sets share one token; the command decides what it accepts. */
static bool
is_atom_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){\"\\", c) == NULL;
}

static bool
is_ctl_or_8bit(uint8_t c)
{
	return c < 0x20 || c >= 0x7f;
}

static struct node *
node_add(struct imap_parser *p, enum imap_arg_type type,
	 enum imap_parse_result *res_r, uint8_t c)
{
	struct node *n;

	if (p->n_nodes >= p->limits.args_max) {
		*res_r = fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, NULL, c);
		return NULL;
	}
	if (p->n_nodes == p->nodes_cap) {
		p->nodes_cap = p->nodes_cap == 0 ? 16 : p->nodes_cap * 2;
		p->nodes = xreallocarray(p->nodes, p->nodes_cap,
					 sizeof(*p->nodes));
	}
	n = &p->nodes[p->n_nodes++];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->parent = p->cur_list;
	if (p->cur_list == 0)
		n->ordinal = p->top_count++;
	else
		n->ordinal = p->nodes[p->cur_list - 1].count++;
	n->off = p->text.len;
	return n;
}

static struct node *
node_last(struct imap_parser *p)
{
	return &p->nodes[p->n_nodes - 1];
}

/* Ends the string argument whose text runs to the end of p->text. */
static void
node_close_text(struct imap_parser *p)
{
	struct node *n = node_last(p);

	n->len = p->text.len - n->off;
	buf_putc(&p->text, '\0');
}

static const char *const section_atts[] = {
	"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
};

/* RFC 9051 9 fetch-att: only these take a [section] with spaces inside. */
static bool
atom_takes_section(struct imap_parser *p)
{
	const struct node *n = node_last(p);
	const char *s = p->text.data + n->off;
	size_t len = p->text.len - n->off, i;

	if (p->section_done)
		return false;
	for (i = 0; i < sizeof(section_atts) / sizeof(section_atts[0]); i++) {
		if (strlen(section_atts[i]) == len &&
		    strncasecmp(section_atts[i], s, len) == 0)
			return true;
	}
	return false;
}

static void
atom_close(struct imap_parser *p)
{
	struct node *n = node_last(p);

	node_close_text(p);
	if (n->len == 3 && strcasecmp(p->text.data + n->off, "NIL") == 0)
		n->type = IMAP_ARG_NIL;
}

static void
build_command(struct imap_parser *p)
{
	uint32_t next_free = p->top_count;
	size_t i;

	if (p->n_nodes > p->args_cap) {
		p->args_cap = p->nodes_cap;
		free(p->args);
		p->args = xcalloc(p->args_cap, sizeof(*p->args));
	}
	/* nodes are in preorder: a list's slot is known before its members */
	for (i = 0; i < p->n_nodes; i++) {
		struct node *n = &p->nodes[i];
		uint32_t slot = n->ordinal;
		struct imap_arg *a;

		if (n->parent != 0)
			slot += p->nodes[n->parent - 1].child_start;
		a = &p->args[slot];
		memset(a, 0, sizeof(*a));
		a->type = n->type;
		if (n->type == IMAP_ARG_LIST) {
			n->child_start = next_free;
			next_free += n->count;
			a->list_count = n->count;
			a->list = n->count > 0 ? &p->args[n->child_start] : NULL;
		} else {
			a->str = p->text.data + n->off;
			a->len = n->len;
		}
	}
	p->cmd.tag = p->text.data;
	p->cmd.name = p->text.data + p->name_off;
	p->cmd.args = p->n_nodes > 0 ? p->args : NULL;
	p->cmd.n_args = p->top_count;
	p->reset_pending = true;
	p->state = S_LINE_START;
}

/* The line ends (LF) after the command name or an argument. */
static enum imap_parse_result
line_end(struct imap_parser *p, uint8_t c)
{
	if (p->depth > 0)
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing )", c);
	build_command(p);
	return IMAP_PARSE_DONE;
}

static enum imap_parse_result
literal_header_done(struct imap_parser *p, uint8_t c)
{
	struct node *n = node_last(p);
	bool too_big = p->lit_overflow ||
		p->lit_size > p->limits.literal_max - p->lit_total ||
		(p->lit_nonsync &&
		 p->lit_size > p->limits.literal_nonsync_max);

	if (too_big) {
		return fail(p, IMAP_PARSE_ERR_LITERAL_TOO_BIG, NULL, c);
	}
	p->lit_total += p->lit_size;
	p->lit_left = p->lit_size;
	n->off = p->text.len;
	if (p->lit_nonsync) {
		p->state = S_LIT_DATA;
		return IMAP_PARSE_NEED_MORE;
	}
	p->state = S_LIT_WAIT;
	return IMAP_PARSE_LITERAL;
}

static enum imap_parse_result
start_argument(struct imap_parser *p, uint8_t c)
{
	enum imap_parse_result res = IMAP_PARSE_NEED_MORE;
	struct node *n;

	switch (c) {
	case '(':
		if (p->depth >= p->limits.depth_max)
			return fail(p, IMAP_PARSE_ERR_TOO_DEEP, NULL, c);
		if ((n = node_add(p, IMAP_ARG_LIST, &res, c)) == NULL)
			return res;
		p->depth++;
		p->cur_list = (uint32_t)p->n_nodes;
		p->state = S_LIST_OPEN;
		return res;
	case '"':
		if (node_add(p, IMAP_ARG_STRING, &res, c) == NULL)
			return res;
		p->state = S_QUOTED;
		return res;
	case '{':
		if (node_add(p, IMAP_ARG_LITERAL, &res, c) == NULL)
			return res;
		p->lit8 = false;
		p->state = S_LIT_OPEN;
		return res;
	case '~':
		if (node_add(p, IMAP_ARG_ATOM, &res, c) == NULL)
			return res;
		buf_putc(&p->text, '~');
		p->section_done = false;
		p->state = S_TILDE;
		return res;
	default:
		break;
	}
	/* "\" starts a flag (RFC 9051 9 flag-extension) */
	if (!is_atom_char(c) && c != '\\') {
		if (c == '\n' || c == '\r' || c == ' ' || c == ')')
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Missing argument", c);
		return fail(p, IMAP_PARSE_ERR_CHAR, NULL, c);
	}
	if (node_add(p, IMAP_ARG_ATOM, &res, c) == NULL)
		return res;
	buf_putc(&p->text, (char)c);
	p->section_done = false;
	p->state = S_ATOM;
	return res;
}

/* After an argument (or inside an atom, at its end): SP, ")" or EOL. */
static enum imap_parse_result
end_argument(struct imap_parser *p, uint8_t c)
{
	switch (c) {
	case ' ':
		p->state = S_ARG_START;
		return IMAP_PARSE_NEED_MORE;
	case ')':
		if (p->cur_list == 0)
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unexpected )",
				    c);
		p->cur_list = p->nodes[p->cur_list - 1].parent;
		p->depth--;
		p->state = S_ARG_END;
		return IMAP_PARSE_NEED_MORE;
	case '\r':
		p->state = S_CR;
		return IMAP_PARSE_NEED_MORE;
	case '\n':
		return line_end(p, c);
	default:
		if (is_ctl_or_8bit(c))
			return fail(p, IMAP_PARSE_ERR_CHAR, NULL, c);
		return fail(p, IMAP_PARSE_ERR_SYNTAX,
			    "Missing space between arguments", c);
	}
}

static bool
is_name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static enum imap_parse_result
octet(struct imap_parser *p, uint8_t c)
{
	switch (p->state) {
	case S_LINE_START:
		if (c == '\n')
			return IMAP_PARSE_NEED_MORE;
		if (c == '\r') {
			p->state = S_EMPTY_CR;
			return IMAP_PARSE_NEED_MORE;
		}
		p->state = S_TAG;
		/* fall through */
	case S_TAG:
		if (c == ' ' && p->text.len > 0) {
			buf_putc(&p->text, '\0');
			p->tag_done = true;
			p->name_off = p->text.len;
			p->state = S_NAME;
			return IMAP_PARSE_NEED_MORE;
		}
		if ((c == '\r' || c == '\n') && p->text.len > 0) {
			p->tag_done = true;
			return fail(p, IMAP_PARSE_ERR_COMMAND, NULL, c);
		}
		if (!is_tag_char(c))
			return fail(p, IMAP_PARSE_ERR_TAG, NULL, c);
		buf_putc(&p->text, (char)c);
		return IMAP_PARSE_NEED_MORE;
	case S_EMPTY_CR:
		if (c == '\n') {
			p->state = S_LINE_START;
			return IMAP_PARSE_NEED_MORE;
		}
		return fail(p, IMAP_PARSE_ERR_CHAR, "Bare CR", c);
	case S_NAME:
		if (is_name_char(c)) {
			if (c >= 'a' && c <= 'z')
				c = (uint8_t)(c - 32);
			buf_putc(&p->text, (char)c);
			return IMAP_PARSE_NEED_MORE;
		}
		if (p->text.len == p->name_off ||
		    (c != ' ' && c != '\r' && c != '\n'))
			return fail(p, IMAP_PARSE_ERR_COMMAND, NULL, c);
		buf_putc(&p->text, '\0');
		p->name_done = true;
		return end_argument(p, c);
	case S_ARG_START:
		return start_argument(p, c);
	case S_LIST_OPEN:
		if (c == ')')
			return end_argument(p, c);
		return start_argument(p, c);
	case S_ARG_END:
		return end_argument(p, c);
	case S_TILDE:
		if (c == '{') {
			struct node *n = node_last(p);

			buf_truncate(&p->text, n->off);
			n->type = IMAP_ARG_LITERAL8;
			p->lit8 = true;
			p->state = S_LIT_OPEN;
			return IMAP_PARSE_NEED_MORE;
		}
		p->state = S_ATOM;
		/* fall through */
	case S_ATOM:
		if (c == '[' && atom_takes_section(p)) {
			buf_putc(&p->text, '[');
			p->state = S_SECTION;
			return IMAP_PARSE_NEED_MORE;
		}
		if (is_atom_char(c)) {
			buf_putc(&p->text, (char)c);
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
			atom_close(p);
			return end_argument(p, c);
		}
		if (is_ctl_or_8bit(c))
			return fail(p, IMAP_PARSE_ERR_CHAR, NULL, c);
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Invalid atom", c);
	case S_SECTION:
		if (c == '{')
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Literal inside [section]", c);
		if (c == '\r' || c == '\n')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing ]", c);
		if (is_ctl_or_8bit(c))
			return fail(p, IMAP_PARSE_ERR_CHAR, NULL, c);
		buf_putc(&p->text, (char)c);
		if (c == ']') {
			p->section_done = true;
			p->state = S_ATOM;
		} else if (c == '"') {
			p->state = S_SECTION_Q;
		}
		return IMAP_PARSE_NEED_MORE;
	case S_SECTION_Q:
	case S_SECTION_QESC:
		if (is_ctl_or_8bit(c))
			return fail(p, IMAP_PARSE_ERR_CHAR, NULL, c);
		if (p->state == S_SECTION_QESC && c != '"' && c != '\\')
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Invalid escape in quoted string", c);
		buf_putc(&p->text, (char)c);
		if (p->state == S_SECTION_QESC)
			p->state = S_SECTION_Q;
		else if (c == '\\')
			p->state = S_SECTION_QESC;
		else if (c == '"')
			p->state = S_SECTION;
		return IMAP_PARSE_NEED_MORE;
	case S_QUOTED:
		if (c == '"') {
			struct node *n = node_last(p);

			node_close_text(p);
			/* RFC 9051 9 quoted: UTF8-2..4 only (RFC 6855) */
			if (!utf8_is_valid((const uint8_t *)p->text.data +
					   n->off, n->len))
				return fail(p, IMAP_PARSE_ERR_CHAR,
					    "Invalid UTF-8 in quoted string",
					    c);
			p->state = S_ARG_END;
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '\\') {
			p->state = S_QESC;
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '\r' || c == '\n' || c == '\0')
			return fail(p, IMAP_PARSE_ERR_CHAR,
				    "CR, LF or NUL in quoted string", c);
		buf_putc(&p->text, (char)c);
		return IMAP_PARSE_NEED_MORE;
	case S_QESC:
		if (c != '"' && c != '\\')
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Invalid escape in quoted string", c);
		buf_putc(&p->text, (char)c);
		p->state = S_QUOTED;
		return IMAP_PARSE_NEED_MORE;
	case S_LIT_OPEN:
	case S_LIT_NUM:
		if (c >= '0' && c <= '9') {
			if (p->state == S_LIT_OPEN) {
				p->lit_size = 0;
				p->lit_overflow = false;
				p->lit_nonsync = false;
				p->state = S_LIT_NUM;
			}
			if (p->lit_size > (NUMBER64_MAX - (c - '0')) / 10)
				p->lit_overflow = true;
			else
				p->lit_size = p->lit_size * 10 + (c - '0');
			return IMAP_PARSE_NEED_MORE;
		}
		if (p->state == S_LIT_NUM && c == '+') {
			p->lit_nonsync = true;
			p->state = S_LIT_PLUS;
			return IMAP_PARSE_NEED_MORE;
		}
		if (p->state == S_LIT_NUM && c == '}') {
			p->state = S_LIT_CR;
			return IMAP_PARSE_NEED_MORE;
		}
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Invalid literal", c);
	case S_LIT_PLUS:
		if (c == '}') {
			p->state = S_LIT_CR;
			return IMAP_PARSE_NEED_MORE;
		}
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Invalid literal", c);
	case S_LIT_CR:
		if (c == '\r') {
			p->state = S_LIT_LF;
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '\n')
			return literal_header_done(p, c);
		return fail(p, IMAP_PARSE_ERR_SYNTAX,
			    "A literal must end the line", c);
	case S_LIT_LF:
		if (c == '\n')
			return literal_header_done(p, c);
		return fail(p, IMAP_PARSE_ERR_CHAR, "Bare CR", c);
	case S_CR:
		if (c == '\n')
			return line_end(p, c);
		return fail(p, IMAP_PARSE_ERR_CHAR, "Bare CR", c);
	case S_SKIP:
	case S_RAW:
	case S_LIT_WAIT:
	case S_LIT_DATA:
	case S_SKIP_LIT:
		break;
	}
	panic("imap parser: octet in state %d", (int)p->state);
}

/* Literal data: as much of it as is there, in one copy. */
static enum imap_parse_result
literal_data(struct imap_parser *p, const uint8_t *data, size_t len,
	     size_t *used_r)
{
	size_t n = p->lit_left < len ? (size_t)p->lit_left : len;

	*used_r = n;
	/* RFC 9051 9: a literal is CHAR8 (no NUL); literal8 may hold any */
	if (!p->lit8 && n > 0 && memchr(data, '\0', n) != NULL) {
		const uint8_t *z = memchr(data, '\0', n);
		enum imap_parse_result res;

		*used_r = (size_t)(z - data) + 1;
		p->skip_left = p->lit_left - *used_r;
		res = fail(p, IMAP_PARSE_ERR_CHAR, "NUL in literal", 0);
		p->state = S_SKIP_LIT;
		return res;
	}
	buf_append(&p->text, data, n);
	p->lit_left -= n;
	if (p->lit_left == 0) {
		node_close_text(p);
		p->state = S_ARG_END;
	}
	return IMAP_PARSE_NEED_MORE;
}

enum imap_parse_result
imap_parser_feed(struct imap_parser *p, const uint8_t *data, size_t len,
		 size_t *consumed_r)
{
	enum imap_parse_result res = IMAP_PARSE_NEED_MORE;
	size_t i = 0;

	if (p->state == S_LIT_WAIT)
		panic("imap parser: fed before the literal was accepted or "
		      "refused");
	if (p->state == S_RAW)
		panic("imap parser: command fed while a raw line is read");
	if (p->reset_pending)
		command_reset(p);
	while (res == IMAP_PARSE_NEED_MORE &&
	       (i < len || (p->state == S_LIT_DATA && p->lit_left == 0))) {
		size_t used;

		if (p->state == S_LIT_DATA) {
			res = literal_data(p, data + i, len - i, &used);
			i += used;
			continue;
		}
		if (p->state == S_SKIP_LIT) {
			used = p->skip_left < len - i ? (size_t)p->skip_left :
				len - i;
			p->skip_left -= used;
			i += used;
			if (p->skip_left == 0)
				p->state = S_SKIP;
			continue;
		}
		if (p->state == S_SKIP) {
			skip_octet(p, data[i++]);
			continue;
		}
		if (p->limits_pending && p->state == S_LINE_START) {
			p->limits = p->next_limits;
			p->limits_pending = false;
		}
		if (data[i] != '\n')
			sk_track(p, data[i]);
		if (p->state != S_EMPTY_CR &&
		    (p->state != S_LINE_START ||
		     (data[i] != '\r' && data[i] != '\n'))) {
			/* the text of one command, CRLFs counted */
			if (++p->line_len > p->limits.line_max) {
				res = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG,
					   NULL, data[i]);
				i++;
				break;
			}
		}
		res = octet(p, data[i]);
		if (data[i++] == '\n')
			p->sk = 0;
	}
	*consumed_r = i;
	return res;
}

enum imap_parse_result
imap_parser_feed_line(struct imap_parser *p, const uint8_t *data, size_t len,
		      size_t *consumed_r, const char **line_r, size_t *len_r)
{
	const uint8_t *lf;
	size_t take, line_len;

	*line_r = NULL;
	*len_r = 0;
	if (p->state != S_LINE_START && p->state != S_RAW &&
	    p->state != S_SKIP)
		panic("imap parser: raw line asked for inside a command");
	if (p->state == S_SKIP) {
		/* the rest of an over-long line; raw lines carry no
		 * literals */
		enum imap_parse_result res;
		size_t more;

		lf = memchr(data, '\n', len);
		if (lf == NULL) {
			*consumed_r = len;
			return IMAP_PARSE_NEED_MORE;
		}
		take = (size_t)(lf - data) + 1;
		p->state = S_LINE_START;
		p->sk = 0;
		p->skip_raw = false;
		res = imap_parser_feed_line(p, data + take, len - take, &more,
					    line_r, len_r);
		*consumed_r = take + more;
		return res;
	}
	if (len == 0) {
		*consumed_r = 0;
		return IMAP_PARSE_NEED_MORE;
	}
	if (p->reset_pending)
		command_reset(p);
	p->state = S_RAW;
	lf = memchr(data, '\n', len);
	take = lf != NULL ? (size_t)(lf - data) + 1 : len;
	/* line_max counts the CRLF like a command line */
	if (p->text.len + take > p->limits.line_max) {
		size_t room = p->limits.line_max - p->text.len;
		enum imap_parse_result res;

		p->sk = 0;
		res = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, NULL,
			   data[room]);
		p->skip_raw = p->state == S_SKIP;
		*consumed_r = room + 1;
		return res;
	}
	*consumed_r = take;
	buf_append(&p->text, data, take);
	if (lf == NULL)
		return IMAP_PARSE_NEED_MORE;
	line_len = p->text.len - 1;
	if (line_len > 0 && p->text.data[line_len - 1] == '\r')
		line_len--;
	buf_truncate(&p->text, line_len);
	if (memchr(p->text.data, '\0', line_len) != NULL ||
	    memchr(p->text.data, '\r', line_len) != NULL)
		return fail(p, IMAP_PARSE_ERR_CHAR, NULL, '\n');
	p->state = S_LINE_START;
	p->reset_pending = true;
	*line_r = p->text.data;
	*len_r = line_len;
	return IMAP_PARSE_DONE;
}

const struct imap_command *
imap_parser_command(const struct imap_parser *p)
{
	return &p->cmd;
}

const char *
imap_parser_tag(const struct imap_parser *p)
{
	return p->tag_done ? p->text.data : NULL;
}

const char *
imap_parser_name(const struct imap_parser *p)
{
	return p->name_done ? p->text.data + p->name_off : NULL;
}

uint64_t
imap_parser_literal_size(const struct imap_parser *p)
{
	return p->lit_size;
}

void
imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		panic("imap parser: no literal to accept");
	p->state = S_LIT_DATA;
}

void
imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		panic("imap parser: no literal to refuse");
	p->state = S_LINE_START;
	p->reset_pending = true;
}

const struct imap_parser_error *
imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

bool
imap_arg_get_astring(const struct imap_arg *arg, const char **str_r,
		     size_t *len_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_STRING:
	case IMAP_ARG_LITERAL:
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	default:
		return false;
	}
}

bool
imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && strlen(word) == arg->len &&
		strcasecmp(arg->str, word) == 0;
}

bool
imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r)
{
	uint64_t v = 0;
	size_t i;

	if (arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return false;
	for (i = 0; i < arg->len; i++) {
		char c = arg->str[i];

		if (c < '0' || c > '9')
			return false;
		if (v > (NUMBER64_MAX - (uint64_t)(c - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*num_r = v;
	return true;
}

bool
imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r)
{
	uint64_t v;

	if (!imap_arg_get_number64(arg, &v) || v > UINT32_MAX)
		return false;
	*num_r = (uint32_t)v;
	return true;
}

/* seq-number = nz-number / "*" */
static bool
seq_number(const char *s, size_t len, uint32_t *num_r)
{
	uint64_t v = 0;
	size_t i;

	if (len == 1 && s[0] == '*') {
		*num_r = IMAP_SEQ_STAR;
		return true;
	}
	if (len == 0 || s[0] == '0' || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	/* 4294967295 is a valid nz-number but also our "*": RFC 9051 2.3.1.1
	 * caps UIDs at 4294967295 and "*" resolves to the largest one in
	 * use, so the two never need telling apart. */
	if (v > UINT32_MAX)
		return false;
	*num_r = (uint32_t)v;
	return true;
}

int
imap_seqset_parse(const char *s, size_t len, size_t max_ranges,
		  struct imap_seqset *set_r, const char **error_r)
{
	size_t i, count = 1, start;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		set_r->saved = true;
		return 0;
	}
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == ',')
			count++;
	}
	if (count > max_ranges) {
		*error_r = "Too many ranges in sequence set";
		return -1;
	}
	set_r->ranges = xcalloc(count, sizeof(*set_r->ranges));
	start = 0;
	for (i = 0; i <= len; i++) {
		struct imap_seq_range *r;
		const char *part, *colon;
		size_t plen;

		if (i < len && s[i] != ',')
			continue;
		part = s + start;
		plen = i - start;
		r = &set_r->ranges[set_r->count];
		colon = memchr(part, ':', plen);
		if (colon == NULL) {
			if (!seq_number(part, plen, &r->first))
				goto bad;
			r->last = r->first;
		} else {
			size_t flen = (size_t)(colon - part);

			if (!seq_number(part, flen, &r->first) ||
			    !seq_number(colon + 1, plen - flen - 1, &r->last))
				goto bad;
		}
		set_r->count++;
		start = i + 1;
	}
	return 0;
bad:
	imap_seqset_deinit(set_r);
	*error_r = "Invalid sequence set";
	return -1;
}

void
imap_seqset_deinit(struct imap_seqset *set)
{
	xfree(&set->ranges);
	set->count = 0;
	set->saved = false;
}

void
imap_seq_range_bounds(const struct imap_seq_range *range, uint32_t star,
		      uint32_t *lo_r, uint32_t *hi_r)
{
	uint32_t a = range->first == IMAP_SEQ_STAR ? star : range->first;
	uint32_t b = range->last == IMAP_SEQ_STAR ? star : range->last;

	*lo_r = a < b ? a : b;
	*hi_r = a < b ? b : a;
}
