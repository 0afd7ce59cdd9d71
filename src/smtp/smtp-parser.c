/* SPDX-License-Identifier: MIT */
/*
 * SMTP command line reader and tokeniser; see smtp-parser.h. The line
 * buffer is allocated once at max_line_len, so a peer can never make it
 * grow: an overlong line is scanned to its LF without being stored.
 */
#include "smtp/smtp-parser.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"

struct smtp_parser {
	struct smtp_parser_limits limits;
	char *line;		/* max_line_len + 1 octets */
	size_t line_len;
	size_t octets;		/* octets of the current line so far */
	bool pending_cr;	/* last octet was CR */
	bool too_long;
	bool saw_nul;
	bool saw_bare_cr;
	enum smtp_line_error error;
};

void
smtp_parser_limits_default(struct smtp_parser_limits *limits_r)
{
	memset(limits_r, 0, sizeof(*limits_r));
	limits_r->max_line_len = SMTP_PARSER_DEFAULT_MAX_LINE;
	limits_r->allow_bare_lf = false;
}

struct smtp_parser *
smtp_parser_new(const struct smtp_parser_limits *limits)
{
	struct smtp_parser *parser;

	parser = xcalloc(1, sizeof(*parser));
	parser->limits = *limits;
	if (parser->limits.max_line_len < 8)
		parser->limits.max_line_len = 8;
	parser->line = xmalloc(parser->limits.max_line_len + 1);
	parser->line[0] = '\0';
	return parser;
}

void
smtp_parser_free(struct smtp_parser **parser)
{
	if (*parser == NULL)
		return;
	mem_wipe((*parser)->line, (*parser)->limits.max_line_len + 1);
	free((*parser)->line);
	xfree(parser);
}

static void
smtp_parser_start_line(struct smtp_parser *parser)
{
	parser->line_len = 0;
	parser->line[0] = '\0';
	parser->octets = 0;
	parser->pending_cr = false;
	parser->too_long = false;
	parser->saw_nul = false;
	parser->saw_bare_cr = false;
}

void
smtp_parser_reset(struct smtp_parser *parser)
{
	smtp_parser_start_line(parser);
	parser->error = SMTP_LINE_ERR_NONE;
}

void
smtp_parser_wipe(struct smtp_parser *parser)
{
	mem_wipe(parser->line, parser->limits.max_line_len + 1);
	smtp_parser_start_line(parser);
}

bool
smtp_parser_has_partial(const struct smtp_parser *parser)
{
	return parser->octets > 0;
}

/* Called on the LF that ends a line; decides what the line was. */
static enum smtp_parser_result
smtp_parser_finish_line(struct smtp_parser *parser)
{
	enum smtp_line_error err = SMTP_LINE_ERR_NONE;
	bool had_cr = parser->pending_cr;

	if (parser->too_long)
		err = SMTP_LINE_ERR_TOO_LONG;
	else if (parser->saw_nul)
		err = SMTP_LINE_ERR_NUL;
	else if (parser->saw_bare_cr)
		err = SMTP_LINE_ERR_BARE_CR;
	else if (!had_cr && !parser->limits.allow_bare_lf)
		err = SMTP_LINE_ERR_BARE_LF;

	parser->error = err;
	if (err != SMTP_LINE_ERR_NONE) {
		smtp_parser_start_line(parser);
		return SMTP_PARSER_ERROR;
	}
	parser->line[parser->line_len] = '\0';
	/* Keep line/line_len for smtp_parser_line(); the next octet starts
	 * a new line. */
	parser->octets = 0;
	parser->pending_cr = false;
	return SMTP_PARSER_LINE;
}

enum smtp_parser_result
smtp_parser_feed(struct smtp_parser *parser, const uint8_t *data, size_t len,
		 size_t *consumed_r)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = data[i];

		if (parser->octets == 0)
			smtp_parser_start_line(parser);
		if (!parser->too_long) {
			parser->octets++;
			if (parser->octets > parser->limits.max_line_len)
				parser->too_long = true;
		}
		if (c == '\n') {
			*consumed_r = i + 1;
			return smtp_parser_finish_line(parser);
		}
		if (parser->pending_cr) {
			parser->saw_bare_cr = true;
			parser->pending_cr = false;
		}
		if (c == '\r') {
			parser->pending_cr = true;
			continue;
		}
		if (c == '\0') {
			parser->saw_nul = true;
			continue;
		}
		if (!parser->too_long) {
			/* UNSAFE: line_len < octets <= max_line_len, and
			 * line holds max_line_len + 1 octets. */
			assert(parser->line_len < parser->limits.max_line_len);
			parser->line[parser->line_len++] = (char)c;
		}
	}
	*consumed_r = len;
	return SMTP_PARSER_NEED_MORE;
}

const char *
smtp_parser_line(const struct smtp_parser *parser, size_t *len_r)
{
	if (len_r != NULL)
		*len_r = parser->line_len;
	return parser->line;
}

enum smtp_line_error
smtp_parser_error(const struct smtp_parser *parser)
{
	return parser->error;
}

const char *
smtp_line_error_str(enum smtp_line_error err)
{
	switch (err) {
	case SMTP_LINE_ERR_NONE:
		return "no error";
	case SMTP_LINE_ERR_TOO_LONG:
		return "line too long";
	case SMTP_LINE_ERR_NUL:
		return "NUL octet in command";
	case SMTP_LINE_ERR_BARE_CR:
		return "bare CR in command";
	case SMTP_LINE_ERR_BARE_LF:
		return "command not terminated by CRLF";
	}
	return "unknown error";
}

static const char *const smtp_cmd_names[SMTP_CMD_COUNT] = {
	[SMTP_CMD_UNKNOWN] = "UNKNOWN",
	[SMTP_CMD_HELO] = "HELO",
	[SMTP_CMD_EHLO] = "EHLO",
	[SMTP_CMD_MAIL] = "MAIL",
	[SMTP_CMD_RCPT] = "RCPT",
	[SMTP_CMD_DATA] = "DATA",
	[SMTP_CMD_BDAT] = "BDAT",
	[SMTP_CMD_RSET] = "RSET",
	[SMTP_CMD_NOOP] = "NOOP",
	[SMTP_CMD_QUIT] = "QUIT",
	[SMTP_CMD_VRFY] = "VRFY",
	[SMTP_CMD_EXPN] = "EXPN",
	[SMTP_CMD_HELP] = "HELP",
	[SMTP_CMD_STARTTLS] = "STARTTLS",
	[SMTP_CMD_AUTH] = "AUTH",
	[SMTP_CMD_LHLO] = "LHLO",
};

const char *
smtp_cmd_name(enum smtp_cmd cmd)
{
	if ((unsigned)cmd >= SMTP_CMD_COUNT)
		return "UNKNOWN";
	return smtp_cmd_names[cmd];
}

void
smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd_r)
{
	size_t i = 0, verb_len, arg_start;
	int c;

	memset(cmd_r, 0, sizeof(*cmd_r));
	while (i < len && line[i] != ' ')
		i++;
	verb_len = i;
	cmd_r->verb = line;
	cmd_r->verb_len = verb_len;
	cmd_r->cmd = SMTP_CMD_UNKNOWN;
	for (c = SMTP_CMD_UNKNOWN + 1; c < SMTP_CMD_COUNT; c++) {
		const char *name = smtp_cmd_names[c];

		if (strlen(name) == verb_len &&
		    strncasecmp(name, line, verb_len) == 0) {
			cmd_r->cmd = (enum smtp_cmd)c;
			break;
		}
	}
	/* RFC 5321 separates verb and argument by one SP; clients that send
	 * more are tolerated. */
	while (i < len && line[i] == ' ')
		i++;
	arg_start = i;
	while (len > arg_start &&
	       (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	cmd_r->arg = line + arg_start;
	cmd_r->arg_len = len - arg_start;
}
