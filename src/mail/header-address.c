/* SPDX-License-Identifier: MIT */
/*
 * RFC 5322 address-list extraction (3.4, obsolete forms of 4.4). A lexer
 * drops CFWS and decodes quoted strings into tokens; a small recursive
 * descent over the tokens finds the addr-specs. See header-address.h.
 */
#include "mail/header-address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/address.h"

enum ha_tok_type {
	HA_TOK_END,
	HA_TOK_ATOM,
	HA_TOK_QSTR,	/* decoded content */
	HA_TOK_DLIT,	/* "[...]" with folding white space removed */
	HA_TOK_SPECIAL,	/* one of < > : ; @ , . */
};

struct ha_tok {
	enum ha_tok_type type;
	char c;		/* HA_TOK_SPECIAL */
	size_t off;	/* text in the lexer's buffer */
	size_t len;
	size_t src_from, src_to;	/* where it stands in the value */
};

struct ha_parser {
	const struct header_address_limits *limits;
	struct ha_tok *toks;
	size_t n_toks, cap_toks;
	size_t pos;
	struct buf text;	/* decoded token text, back to back */
	char **addrs;
	size_t n_addrs, cap_addrs;
	/* header_address_list_parse_full(): what a reader shows */
	bool want_texts;
	char **texts;
	size_t n_texts, cap_texts;
	bool has_route;
	/* header_address_list_parse_entries() */
	bool want_entries;
	struct header_address_entry *entries;
	size_t n_entries, cap_entries;
	char *pending_name;	/* display name of the angle-addr being read */
	char *pending_route;
	enum header_address_error err;
	const char *error;
};

void
header_address_limits_default(struct header_address_limits *limits_r)
{
	limits_r->max_addresses = HEADER_ADDRESS_DEFAULT_MAX_ADDRESSES;
	limits_r->max_value_len = HEADER_ADDRESS_DEFAULT_MAX_VALUE;
	limits_r->max_address_len = HEADER_ADDRESS_DEFAULT_MAX_ADDRESS_LEN;
	limits_r->allow_no_domain = false;
}

const char *
header_address_error_str(enum header_address_error err)
{
	switch (err) {
	case HEADER_ADDRESS_OK:
		return "ok";
	case HEADER_ADDRESS_ERR_SYNTAX:
		return "syntax error";
	case HEADER_ADDRESS_ERR_TOO_MANY:
		return "too many addresses";
	case HEADER_ADDRESS_ERR_TOO_LONG:
		return "too long";
	}
	return "unknown error";
}

static int
ha_fail(struct ha_parser *p, enum header_address_error err, const char *msg)
{
	if (p->err == HEADER_ADDRESS_OK) {
		p->err = err;
		p->error = msg;
	}
	return -1;
}

/* RFC 5322 3.2.3 atext, plus UTF-8 octets (RFC 6532 3.2). */
static bool
ha_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
ha_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A control octet other than folding white space: never in a value. */
static bool
ha_is_ctl(unsigned char c)
{
	return (c < 0x20 && !ha_is_wsp(c)) || c == 0x7f;
}

/* Room for one more element in an array that grows by doubling (IMAP
 * FETCH ENVELOPE parses every address header of every message: one
 * realloc per token was a tenth of its time). */
static void *
ha_grow(void *arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap == 0 ? 8 : *cap * 2;
	return xreallocarray(arr, *cap, size);
}

static void
ha_push(struct ha_parser *p, enum ha_tok_type type, char c, size_t off,
	size_t src_from, size_t src_to)
{
	struct ha_tok *t;

	p->toks = ha_grow(p->toks, p->n_toks, &p->cap_toks, sizeof(*p->toks));
	t = &p->toks[p->n_toks++];
	t->type = type;
	t->c = c;
	t->off = off;
	t->len = p->text.len - off;
	t->src_from = src_from;
	t->src_to = src_to;
	buf_putc(&p->text, '\0');
}

static void
ha_add_text(struct ha_parser *p, struct buf *text)
{
	p->texts = ha_grow(p->texts, p->n_texts, &p->cap_texts,
			   sizeof(*p->texts));
	p->texts[p->n_texts++] = buf_steal(text);
}

/* Skips a comment starting at s[i] == '('; nesting and quoted-pairs per
 * RFC 5322 3.2.2. Returns the index after it, or 0 when unterminated.
 * With want_texts its content (inner parentheses kept, quoted-pairs
 * resolved, folding removed) is kept: clients show a comment as the
 * name of "addr (Name)". */
static size_t
ha_skip_comment(struct ha_parser *p, const unsigned char *s, size_t len,
		size_t i)
{
	size_t depth = 0;
	struct buf text;

	buf_init(&text);
	for (; i < len; i++) {
		if (ha_is_ctl(s[i]))
			break;
		if (s[i] == '\\') {
			if (++i >= len || s[i] == '\0')
				break;
		} else if (s[i] == '(') {
			if (depth++ == 0)
				continue;
		} else if (s[i] == ')') {
			if (--depth == 0) {
				if (p->want_texts)
					ha_add_text(p, &text);
				buf_deinit(&text);
				return i + 1;
			}
		} else if (s[i] == '\r' || s[i] == '\n') {
			continue;
		}
		buf_putc(&text, (char)s[i]);
	}
	buf_deinit(&text);
	return 0;
}

static int
ha_lex(struct ha_parser *p, const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t off = p->text.len, from = i;

		if (ha_is_wsp(c)) {
			i++;
		} else if (ha_is_ctl(c)) {
			return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
				       "control character");
		} else if (c == '(') {
			i = ha_skip_comment(p, s, len, i);
			if (i == 0)
				return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
					       "unterminated comment");
		} else if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				if (ha_is_ctl(s[i]))
					return ha_fail(p,
						       HEADER_ADDRESS_ERR_SYNTAX,
						       "control character");
				/* folding inside a quoted string is removed
				 * (RFC 5322 3.2.4); its WSP stays */
				if (s[i] == '\r' || s[i] == '\n')
					continue;
				buf_putc(&p->text, (char)s[i]);
			}
			if (i >= len)
				return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
					       "unterminated quoted string");
			i++;
			ha_push(p, HA_TOK_QSTR, 0, off, from, i);
		} else if (c == '[') {
			buf_putc(&p->text, '[');
			for (i++; i < len && s[i] != ']'; i++) {
				if (s[i] == '\\' || s[i] == '[')
					return ha_fail(p,
						       HEADER_ADDRESS_ERR_SYNTAX,
						       "bad domain literal");
				if (ha_is_ctl(s[i]))
					return ha_fail(p,
						       HEADER_ADDRESS_ERR_SYNTAX,
						       "control character");
				if (!ha_is_wsp(s[i]))
					buf_putc(&p->text, (char)s[i]);
			}
			if (i >= len)
				return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
					       "unterminated domain literal");
			buf_putc(&p->text, ']');
			i++;
			ha_push(p, HA_TOK_DLIT, 0, off, from, i);
		} else if (strchr("<>:;@,.", c) != NULL) {
			i++;
			ha_push(p, HA_TOK_SPECIAL, (char)c, off, from, i);
		} else if (ha_is_atext(c)) {
			while (i < len && ha_is_atext(s[i]))
				buf_putc(&p->text, (char)s[i++]);
			ha_push(p, HA_TOK_ATOM, 0, off, from, i);
		} else {
			/* ) ] \ outside their context */
			return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
				       "unexpected character");
		}
	}
	ha_push(p, HA_TOK_END, 0, p->text.len, len, len);
	return 0;
}

static const struct ha_tok *
ha_peek(const struct ha_parser *p)
{
	return &p->toks[p->pos];
}

static bool
ha_is_special(const struct ha_tok *t, char c)
{
	return t->type == HA_TOK_SPECIAL && t->c == c;
}

static bool
ha_is_word(const struct ha_tok *t)
{
	return t->type == HA_TOK_ATOM || t->type == HA_TOK_QSTR;
}

static const char *
ha_text(const struct ha_parser *p, const struct ha_tok *t)
{
	return p->text.data + t->off;
}

/* Builds the local part from tokens [from, to): word *("." word). */
static int
ha_local_part(struct ha_parser *p, size_t from, size_t to, struct buf *out,
	      char **raw_r)
{
	struct buf raw;

	if (from >= to)
		return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX, "empty local part");
	buf_init(&raw);
	for (size_t i = from; i < to; i++) {
		const struct ha_tok *t = &p->toks[i];
		bool want_word = (i - from) % 2 == 0;

		if (want_word ? !ha_is_word(t) : !ha_is_special(t, '.')) {
			buf_deinit(&raw);
			return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
				       "bad local part");
		}
		buf_append(&raw, ha_text(p, t), t->len);
		if (!want_word)
			buf_putc(&raw, '.');
	}
	if ((to - from) % 2 == 0) {
		buf_deinit(&raw);
		return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX, "bad local part");
	}
	if (address_local_needs_quoting(raw.data)) {
		buf_putc(out, '"');
		for (size_t i = 0; i < raw.len; i++) {
			if (raw.data[i] == '"' || raw.data[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, raw.data[i]);
		}
		buf_putc(out, '"');
	} else {
		buf_append(out, raw.data, raw.len);
	}
	if (raw_r != NULL)
		*raw_r = buf_steal(&raw);
	buf_deinit(&raw);
	return 0;
}

/* domain = dot-atom / domain-literal / obs-domain (CFWS already gone). */
static int
ha_domain(struct ha_parser *p, struct buf *out)
{
	const struct ha_tok *t = ha_peek(p);

	if (t->type == HA_TOK_DLIT) {
		buf_append(out, ha_text(p, t), t->len);
		p->pos++;
		return 0;
	}
	if (t->type != HA_TOK_ATOM)
		return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX, "bad domain");
	for (;;) {
		t = ha_peek(p);
		buf_append(out, ha_text(p, t), t->len);
		p->pos++;
		if (!ha_is_special(ha_peek(p), '.'))
			return 0;
		p->pos++;
		if (ha_peek(p)->type != HA_TOK_ATOM)
			return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
				       "bad domain");
		buf_putc(out, '.');
	}
}

static int
ha_add(struct ha_parser *p, struct buf *addr)
{
	if (addr->len > p->limits->max_address_len)
		return ha_fail(p, HEADER_ADDRESS_ERR_TOO_LONG,
			       "address too long");
	if (p->n_addrs >= p->limits->max_addresses)
		return ha_fail(p, HEADER_ADDRESS_ERR_TOO_MANY,
			       "too many addresses");
	p->addrs = ha_grow(p->addrs, p->n_addrs, &p->cap_addrs,
			   sizeof(*p->addrs));
	p->addrs[p->n_addrs++] = buf_steal(addr);
	return 0;
}

/* The words from `from` to the current position are the local part; an
 * "@" and a domain may follow. */
static struct header_address_entry *
ha_entry(struct ha_parser *p, enum header_address_entry_type type)
{
	struct header_address_entry *e;

	p->entries = ha_grow(p->entries, p->n_entries, &p->cap_entries,
			     sizeof(*p->entries));
	e = &p->entries[p->n_entries++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	return e;
}

static int
ha_addr_spec(struct ha_parser *p, size_t from)
{
	struct buf addr;
	char *local = NULL;
	size_t domain_at = 0;

	buf_init(&addr);
	if (ha_local_part(p, from, p->pos, &addr,
			  p->want_entries ? &local : NULL) < 0)
		goto fail;
	if (ha_is_special(ha_peek(p), '@')) {
		p->pos++;
		buf_putc(&addr, '@');
		domain_at = addr.len;
		if (ha_domain(p, &addr) < 0)
			goto fail;
	} else if (!p->limits->allow_no_domain) {
		ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX, "address without domain");
		goto fail;
	}
	if (p->want_entries && addr.len <= p->limits->max_address_len &&
	    p->n_addrs < p->limits->max_addresses) {
		struct header_address_entry *e =
			ha_entry(p, HEADER_ADDRESS_ENTRY_MAILBOX);

		e->name = p->pending_name;
		e->route = p->pending_route;
		p->pending_name = p->pending_route = NULL;
		e->local = local;
		local = NULL;
		if (domain_at > 0)
			e->domain = xstrdup(addr.data + domain_at);
	}
	if (ha_add(p, &addr) < 0)
		goto fail;
	buf_deinit(&addr);
	return 0;
fail:
	free(local);
	buf_deinit(&addr);
	return -1;
}

static void
ha_skip_words(struct ha_parser *p)
{
	while (ha_is_word(ha_peek(p)) || ha_is_special(ha_peek(p), '.'))
		p->pos++;
}

/* Keeps tokens [from, pos) as a display or group name, as a client shows
 * it: quoted strings unquoted, each gap of white space or comments one
 * space. */
static void
ha_phrase_build(struct ha_parser *p, size_t from, struct buf *text_out)
{
	struct buf text = *text_out;

	for (size_t i = from; i < p->pos; i++) {
		const struct ha_tok *t = &p->toks[i];

		/* white space or a comment between two tokens shows as one
		 * space; none, as none (an encoded word stays whole) */
		if (i > from && t->src_from > p->toks[i - 1].src_to)
			buf_putc(&text, ' ');
		if (t->type == HA_TOK_SPECIAL)
			buf_putc(&text, t->c);
		else
			buf_append(&text, ha_text(p, t), t->len);
	}
	*text_out = text;
}

static void
ha_phrase(struct ha_parser *p, size_t from)
{
	struct buf text;

	if (!p->want_texts || from == p->pos)
		return;
	buf_init(&text);
	ha_phrase_build(p, from, &text);
	ha_add_text(p, &text);
	buf_deinit(&text);
}

/* The phrase [from, pos) for an entry, or NULL when empty. */
static char *
ha_entry_phrase(struct ha_parser *p, size_t from)
{
	struct buf text;
	char *name;

	if (!p->want_entries || from == p->pos)
		return NULL;
	buf_init(&text);
	ha_phrase_build(p, from, &text);
	name = buf_steal(&text);
	buf_deinit(&text);
	return name;
}

/* angle-addr after "<": [obs-route] addr-spec ">", or "<>". */
static int
ha_angle(struct ha_parser *p)
{
	size_t from;

	if (ha_is_special(ha_peek(p), '@')) {
		/* obs-route: "@a.example,@b.example:" is dropped (4.4) */
		struct buf route;

		p->has_route = true;
		buf_init(&route);
		for (;;) {
			const struct ha_tok *t = ha_peek(p);

			if (t->type == HA_TOK_END || ha_is_special(t, '>')) {
				buf_deinit(&route);
				return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
					       "bad route");
			}
			p->pos++;
			if (ha_is_special(t, ':'))
				break;
			if (t->type == HA_TOK_SPECIAL)
				buf_putc(&route, t->c);
			else
				buf_append(&route, ha_text(p, t), t->len);
		}
		if (p->want_entries) {
			free(p->pending_route);
			p->pending_route = buf_steal(&route);
		}
		buf_deinit(&route);
	}
	if (ha_is_special(ha_peek(p), '>')) {
		p->pos++;	/* "<>": no address */
		return 0;
	}
	from = p->pos;
	ha_skip_words(p);
	if (ha_addr_spec(p, from) < 0)
		return -1;
	if (!ha_is_special(ha_peek(p), '>'))
		return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX, "missing '>'");
	p->pos++;
	return 0;
}

static int ha_list(struct ha_parser *p, bool in_group);

/* One element: mailbox (name-addr or addr-spec) or, outside a group, a
 * group. */
static int
ha_element(struct ha_parser *p, bool in_group)
{
	size_t from = p->pos;
	const struct ha_tok *t;

	ha_skip_words(p);
	t = ha_peek(p);
	if (ha_is_special(t, '<')) {
		int ret;

		ha_phrase(p, from);
		free(p->pending_name);
		p->pending_name = ha_entry_phrase(p, from);
		p->pos++;
		ret = ha_angle(p);
		/* "<>" takes no entry */
		free(p->pending_name);
		free(p->pending_route);
		p->pending_name = p->pending_route = NULL;
		return ret;
	}
	if (ha_is_special(t, ':') && p->pos > from) {
		int ret;

		if (in_group)
			return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
				       "group inside a group");
		ha_phrase(p, from);
		if (p->want_entries)
			ha_entry(p, HEADER_ADDRESS_ENTRY_GROUP_START)->name =
				ha_entry_phrase(p, from);
		p->pos++;
		ret = ha_list(p, true);
		if (ret == 0 && p->want_entries)
			ha_entry(p, HEADER_ADDRESS_ENTRY_GROUP_END);
		return ret;
	}
	if (p->pos == from)
		return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
			       "expected an address");
	return ha_addr_spec(p, from);
}

/* address-list, or the mailbox-list of a group up to its ";". Empty
 * elements (obs-addr-list, obs-group-list) are skipped. */
static int
ha_list(struct ha_parser *p, bool in_group)
{
	for (;;) {
		const struct ha_tok *t = ha_peek(p);

		if (t->type == HA_TOK_END)
			return 0;	/* a missing final ";" is tolerated */
		if (ha_is_special(t, ',')) {
			p->pos++;
			continue;
		}
		if (ha_is_special(t, ';')) {
			if (!in_group)
				return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
					       "';' outside a group");
			p->pos++;
			return 0;
		}
		if (ha_element(p, in_group) < 0)
			return -1;
		t = ha_peek(p);
		if (ha_is_special(t, ','))
			p->pos++;
		else if (t->type != HA_TOK_END &&
			 !(in_group && ha_is_special(t, ';')) &&
			 !(!in_group && p->pos > 0 &&
			   ha_is_special(&p->toks[p->pos - 1], ';')))
			return ha_fail(p, HEADER_ADDRESS_ERR_SYNTAX,
				       "expected ',' between addresses");
	}
}

void
header_address_list_free(char ***addrs, size_t count)
{
	if (*addrs == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free((*addrs)[i]);
	xfree(addrs);
}

static void
ha_texts_free(char ***texts, size_t count)
{
	header_address_list_free(texts, count);
}

static int
ha_parse(struct ha_parser *p, const char *value, size_t len)
{
	if (len > p->limits->max_value_len)
		return ha_fail(p, HEADER_ADDRESS_ERR_TOO_LONG, "value too long");
	if (ha_lex(p, (const unsigned char *)value, len) < 0 ||
	    ha_list(p, false) < 0)
		return -1;
	return 0;
}

int
header_address_list_parse(const char *value, size_t len,
			  const struct header_address_limits *limits,
			  char ***addrs_r, size_t *count_r,
			  enum header_address_error *err_r,
			  const char **error_r)
{
	struct header_address_list list;
	int ret;

	ret = header_address_list_parse_full(value, len, limits, false, &list,
					     err_r, error_r);
	*addrs_r = list.addrs;
	*count_r = list.n_addrs;
	return ret;
}

int
header_address_list_parse_full(const char *value, size_t len,
			       const struct header_address_limits *limits,
			       bool want_texts,
			       struct header_address_list *list_r,
			       enum header_address_error *err_r,
			       const char **error_r)
{
	struct ha_parser p;
	int ret;

	memset(&p, 0, sizeof(p));
	memset(list_r, 0, sizeof(*list_r));
	p.limits = limits;
	p.want_texts = want_texts;
	buf_init(&p.text);
	ret = ha_parse(&p, value, len);
	if (ret < 0) {
		header_address_list_free(&p.addrs, p.n_addrs);
		ha_texts_free(&p.texts, p.n_texts);
	} else {
		list_r->addrs = p.addrs;
		list_r->n_addrs = p.n_addrs;
		list_r->texts = p.texts;
		list_r->n_texts = p.n_texts;
		list_r->has_route = p.has_route;
	}
	if (err_r != NULL)
		*err_r = p.err;
	if (error_r != NULL)
		*error_r = ret < 0 ? p.error : NULL;
	free(p.toks);
	buf_deinit(&p.text);
	return ret;
}

void
header_address_entries_free(struct header_address_entry **entries,
			    size_t count)
{
	if (*entries == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*entries)[i].name);
		free((*entries)[i].route);
		free((*entries)[i].local);
		free((*entries)[i].domain);
	}
	xfree(entries);
}

int
header_address_list_parse_entries(const char *value, size_t len,
				  const struct header_address_limits *limits,
				  struct header_address_entry **entries_r,
				  size_t *count_r,
				  enum header_address_error *err_r,
				  const char **error_r)
{
	struct ha_parser p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.limits = limits;
	p.want_entries = true;
	buf_init(&p.text);
	ret = ha_parse(&p, value, len);
	header_address_list_free(&p.addrs, p.n_addrs);
	free(p.pending_name);
	free(p.pending_route);
	if (ret < 0) {
		header_address_entries_free(&p.entries, p.n_entries);
		p.n_entries = 0;
	}
	*entries_r = p.entries;
	*count_r = p.n_entries;
	if (err_r != NULL)
		*err_r = p.err;
	if (error_r != NULL)
		*error_r = ret < 0 ? p.error : NULL;
	free(p.toks);
	buf_deinit(&p.text);
	return ret;
}

void
header_address_list_deinit(struct header_address_list *list)
{
	header_address_list_free(&list->addrs, list->n_addrs);
	ha_texts_free(&list->texts, list->n_texts);
	memset(list, 0, sizeof(*list));
}
