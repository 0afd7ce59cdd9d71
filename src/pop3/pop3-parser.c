/* SPDX-License-Identifier: MIT */
/*
 * POP3 line splitter and command parser. The splitter keeps at most
 * line_max bytes of a line; longer lines are dropped as they arrive and
 * reported once their LF shows up, so a client that never sends LF costs
 * no memory.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "pop3/pop3-parser.h"

struct pop3_parser {
	size_t line_max;
	char *line;		/* line_max + 1 bytes */
	size_t len;
	bool overflow;		/* the current line passed line_max */
};

static const char *const cmd_names[POP3_CMD_COUNT] = {
	[POP3_CMD_UNKNOWN] = "",
	[POP3_CMD_USER] = "USER",
	[POP3_CMD_PASS] = "PASS",
	[POP3_CMD_APOP] = "APOP",
	[POP3_CMD_AUTH] = "AUTH",
	[POP3_CMD_CAPA] = "CAPA",
	[POP3_CMD_STLS] = "STLS",
	[POP3_CMD_QUIT] = "QUIT",
	[POP3_CMD_STAT] = "STAT",
	[POP3_CMD_LIST] = "LIST",
	[POP3_CMD_RETR] = "RETR",
	[POP3_CMD_DELE] = "DELE",
	[POP3_CMD_NOOP] = "NOOP",
	[POP3_CMD_RSET] = "RSET",
	[POP3_CMD_TOP] = "TOP",
	[POP3_CMD_UIDL] = "UIDL",
};

const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	if ((unsigned)cmd >= POP3_CMD_COUNT)
		return "";
	return cmd_names[cmd];
}

struct pop3_parser *
pop3_parser_new(const struct pop3_limits *limits)
{
	struct pop3_parser *p = xcalloc(1, sizeof(*p));

	pop3_parser_set_line_max(p, limits != NULL ? limits->line_max : 512);
	return p;
}

void
pop3_parser_free(struct pop3_parser **parser)
{
	if (*parser == NULL)
		return;
	if ((*parser)->line != NULL)
		mem_wipe((*parser)->line, (*parser)->line_max + 1);
	free((*parser)->line);
	xfree(parser);
}

void
pop3_parser_set_line_max(struct pop3_parser *p, size_t line_max)
{
	if (line_max < POP3_LINE_MAX_MIN)
		line_max = POP3_LINE_MAX_MIN;
	if (line_max == p->line_max)
		return;
	/* A partial line longer than the new cap is an overflow now. */
	if (p->len > line_max) {
		p->overflow = true;
		p->len = 0;
	}
	/* not xrealloc: the old block may hold the AUTH line that asked
	 * for the change, and is cleared before it is freed */
	char *line = xmalloc(line_max + 1);

	if (p->line != NULL) {
		memcpy(line, p->line, p->len);
		mem_wipe(p->line, p->line_max + 1);
		free(p->line);
	}
	p->line = line;
	p->line_max = line_max;
}

void
pop3_parser_wipe(struct pop3_parser *p)
{
	mem_wipe(p->line, p->line_max + 1);
	p->len = 0;
	p->overflow = false;
}

void
pop3_parser_reset(struct pop3_parser *p)
{
	p->len = 0;
	p->overflow = false;
}

enum pop3_parse_result
pop3_parser_feed(struct pop3_parser *p, const uint8_t *data, size_t len,
		 size_t *consumed_r, char **line_r, size_t *len_r)
{
	const uint8_t *lf = memchr(data, '\n', len);
	size_t take = lf != NULL ? (size_t)(lf - data) + 1 : len;

	*consumed_r = take;
	*line_r = NULL;
	*len_r = 0;
	if (!p->overflow) {
		/* line_max counts the CRLF; the LF itself is never stored */
		if (p->len + take > p->line_max) {
			p->overflow = true;
			p->len = 0;
		} else {
			memcpy(p->line + p->len, data, take);
			p->len += take;
		}
	}
	if (lf == NULL)
		return POP3_PARSE_NEED_MORE;
	if (p->overflow) {
		p->overflow = false;
		return POP3_PARSE_TOO_LONG;
	}
	/* drop LF and a CR before it */
	p->len--;
	if (p->len > 0 && p->line[p->len - 1] == '\r')
		p->len--;
	p->line[p->len] = '\0';
	*line_r = p->line;
	*len_r = p->len;
	p->len = 0;
	return POP3_PARSE_LINE;
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int
pop3_command_parse(char *line, size_t len, struct pop3_command *cmd_r,
		   const char **error_r)
{
	size_t i, klen;
	char *p;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->rest = line + len;
	if (len == 0) {
		*error_r = "Empty command";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		/* RFC 1939 3: printable ASCII; we allow 8-bit in arguments
		 * (UTF-8 passwords) but never control bytes. */
		if (c < 0x20 || c == 0x7f) {
			*error_r = "Control characters are not allowed";
			return -1;
		}
	}
	for (klen = 0; klen < len && line[klen] != ' '; klen++) {
		if (!is_alpha(line[klen]) || klen >= 4) {
			*error_r = "Malformed command";
			return -1;
		}
	}
	if (klen < 3) {
		*error_r = "Malformed command";
		return -1;
	}
	for (i = 0; i < klen; i++) {
		char c = line[i];

		cmd_r->keyword[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
	}
	cmd_r->keyword[klen] = '\0';
	for (i = 1; i < POP3_CMD_COUNT; i++) {
		if (strcmp(cmd_names[i], cmd_r->keyword) == 0) {
			cmd_r->cmd = (enum pop3_cmd)i;
			break;
		}
	}
	if (klen == len)
		return 0;
	line[klen] = '\0';
	cmd_r->rest = line + klen + 1;
	if (cmd_r->cmd == POP3_CMD_PASS) {
		/* the whole rest, spaces included (RFC 1939 7 allows it) */
		if (*cmd_r->rest != '\0') {
			cmd_r->args[0] = cmd_r->rest;
			cmd_r->n_args = 1;
		}
		return 0;
	}
	/* Other commands split rest in place (rest then ends at the first
	 * argument); only PASS uses rest itself. */
	p = cmd_r->rest;
	while (*p != '\0') {
		char *start;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (cmd_r->n_args == POP3_MAX_ARGS) {
			*error_r = "Too many arguments";
			return -1;
		}
		start = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
		cmd_r->args[cmd_r->n_args++] = start;
	}
	return 0;
}

bool
pop3_parse_number(const char *s, uint32_t *num_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*num_r = (uint32_t)v;
	return true;
}
