/* SPDX-License-Identifier: MIT */
/*
 * RFC 5321 Path and Mailbox parsing, comparison and formatting; see
 * address.h. The parser accepts non-ASCII octets wherever RFC 6531 allows
 * UTF8-non-ascii and decides at the end, so a client that forgot
 * SMTPUTF8 gets the precise 553 5.6.7 rather than a syntax error.
 */
#include "mail/address.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/utf8.h"

#define ADDRESS_MAX_LABEL 63	/* RFC 1035 2.3.4 */

struct address_ctx {
	const char *s;
	size_t len;
	size_t pos;
	const struct address_limits *limits;
	enum address_error err;
	const char *error;
};

void
address_limits_default(struct address_limits *limits_r)
{
	limits_r->max_local_len = ADDRESS_DEFAULT_MAX_LOCAL;
	limits_r->max_domain_len = ADDRESS_DEFAULT_MAX_DOMAIN;
	limits_r->max_path_len = ADDRESS_DEFAULT_MAX_PATH;
}

void
address_init(struct address *addr)
{
	memset(addr, 0, sizeof(*addr));
}

void
address_deinit(struct address *addr)
{
	free(addr->local);
	free(addr->domain);
	free(addr->domain_lc);
	address_init(addr);
}

static char *
address_lower_dup(const char *s)
{
	char *d = xstrdup(s);
	char *p;

	for (p = d; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return d;
}

void
address_set(struct address *addr_r, const char *local, const char *domain)
{
	address_init(addr_r);
	addr_r->local = xstrdup(local);
	if (domain != NULL) {
		addr_r->domain = xstrdup(domain);
		addr_r->domain_lc = address_lower_dup(domain);
		addr_r->domain_is_literal = domain[0] == '[';
	}
	addr_r->has_utf8 =
		utf8_has_non_ascii((const uint8_t *)local, strlen(local)) ||
		(domain != NULL &&
		 utf8_has_non_ascii((const uint8_t *)domain, strlen(domain)));
}

void
address_copy(struct address *dst, const struct address *src)
{
	*dst = *src;
	dst->local = src->local == NULL ? NULL : xstrdup(src->local);
	dst->domain = src->domain == NULL ? NULL : xstrdup(src->domain);
	dst->domain_lc = src->domain_lc == NULL ? NULL :
		xstrdup(src->domain_lc);
}

static int
address_fail(struct address_ctx *ctx, enum address_error err,
	     const char *error)
{
	ctx->err = err;
	ctx->error = error;
	return -1;
}

static bool
address_is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
address_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext, plus UTF8-non-ascii (RFC 6531 3.3). */
static bool
address_is_atext(uint8_t c)
{
	if (address_is_alpha(c) || address_is_digit(c) || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5321 qtextSMTP, plus UTF8-non-ascii. */
static bool
address_is_qtext(uint8_t c)
{
	return (c >= 32 && c <= 126 && c != '"' && c != '\\') || c >= 0x80;
}

static int
address_parse_local(struct address_ctx *ctx, struct buf *local)
{
	size_t start = ctx->pos;
	const char *s = ctx->s;

	if (ctx->pos < ctx->len && s[ctx->pos] == '"') {
		ctx->pos++;
		for (;;) {
			uint8_t c;

			if (ctx->pos >= ctx->len)
				return address_fail(ctx, ADDRESS_ERR_SYNTAX,
						    "unterminated quoted string");
			c = (uint8_t)s[ctx->pos];
			if (c == '"')
				break;
			if (c == '\\') {
				uint8_t q;

				if (ctx->pos + 1 >= ctx->len)
					return address_fail(ctx,
						ADDRESS_ERR_SYNTAX,
						"unterminated quoted pair");
				q = (uint8_t)s[ctx->pos + 1];
				if (q < 32 || q > 126)
					return address_fail(ctx,
						ADDRESS_ERR_SYNTAX,
						"invalid quoted pair");
				buf_putc(local, (char)q);
				ctx->pos += 2;
				continue;
			}
			if (!address_is_qtext(c))
				return address_fail(ctx, ADDRESS_ERR_SYNTAX,
					"invalid character in quoted string");
			buf_putc(local, (char)c);
			ctx->pos++;
		}
		ctx->pos++;
	} else {
		/* Dot-string = Atom *("." Atom) */
		for (;;) {
			size_t atom = ctx->pos;

			while (ctx->pos < ctx->len &&
			       address_is_atext((uint8_t)s[ctx->pos]))
				ctx->pos++;
			if (ctx->pos == atom)
				return address_fail(ctx, ADDRESS_ERR_SYNTAX,
					"invalid local part");
			if (ctx->pos < ctx->len && s[ctx->pos] == '.') {
				ctx->pos++;
				continue;
			}
			break;
		}
		buf_append(local, s + start, ctx->pos - start);
	}
	if (ctx->pos - start > ctx->limits->max_local_len)
		return address_fail(ctx, ADDRESS_ERR_LOCAL_TOO_LONG,
				    "local part too long");
	return 0;
}

/* IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT (0..255) */
static bool
address_is_ipv4_literal(const char *s, size_t len)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned val = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		while (i < len && address_is_digit((uint8_t)s[i]) &&
		       digits < 3) {
			val = val * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || val > 255)
			return false;
	}
	return i == len;
}

static bool
address_is_ipv6_literal(const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct in6_addr in6;
	size_t i;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if (!(address_is_digit(c) || c == ':' || c == '.' ||
		      (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, &in6) == 1;
}

static int
address_parse_literal(struct address_ctx *ctx)
{
	const char *s = ctx->s;
	size_t start, end;

	ctx->pos++;	/* '[' */
	start = ctx->pos;
	while (ctx->pos < ctx->len && s[ctx->pos] != ']') {
		uint8_t c = (uint8_t)s[ctx->pos];

		/* dcontent = %d33-90 / %d94-126 */
		if (c < 33 || c > 126 || c == '[' || c == '\\')
			return address_fail(ctx, ADDRESS_ERR_SYNTAX,
					    "invalid address literal");
		ctx->pos++;
	}
	if (ctx->pos >= ctx->len)
		return address_fail(ctx, ADDRESS_ERR_SYNTAX,
				    "unterminated address literal");
	end = ctx->pos;
	ctx->pos++;	/* ']' */
	if (end - start > 5 && strncasecmp(s + start, "IPv6:", 5) == 0) {
		if (!address_is_ipv6_literal(s + start + 5, end - start - 5))
			return address_fail(ctx, ADDRESS_ERR_SYNTAX,
					    "invalid IPv6 address literal");
		return 0;
	}
	if (!address_is_ipv4_literal(s + start, end - start))
		return address_fail(ctx, ADDRESS_ERR_SYNTAX,
				    "invalid or unsupported address literal");
	return 0;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
 * or a U-label (RFC 6531), whose octets we take as letters here and
 * check as UTF-8 afterwards. */
static int
address_parse_domain_name(struct address_ctx *ctx)
{
	const char *s = ctx->s;

	for (;;) {
		size_t label = ctx->pos;

		while (ctx->pos < ctx->len) {
			uint8_t c = (uint8_t)s[ctx->pos];

			if (!(address_is_alpha(c) || address_is_digit(c) ||
			      c == '-' || c >= 0x80))
				break;
			ctx->pos++;
		}
		if (ctx->pos == label)
			return address_fail(ctx, ADDRESS_ERR_SYNTAX,
					    "invalid domain");
		if (s[label] == '-' || s[ctx->pos - 1] == '-')
			return address_fail(ctx, ADDRESS_ERR_SYNTAX,
				"domain label starts or ends with '-'");
		if (ctx->pos - label > ADDRESS_MAX_LABEL)
			return address_fail(ctx, ADDRESS_ERR_DOMAIN_TOO_LONG,
					    "domain label too long");
		if (ctx->pos < ctx->len && s[ctx->pos] == '.' &&
		    ctx->pos + 1 < ctx->len) {
			uint8_t n = (uint8_t)s[ctx->pos + 1];

			if (address_is_alpha(n) || address_is_digit(n) ||
			    n == '-' || n >= 0x80) {
				ctx->pos++;
				continue;
			}
			/* "a@b.>" : the dot is left for the caller to
			 * reject. */
		}
		break;
	}
	return 0;
}

bool
address_domain_is_valid(const char *s, bool utf8)
{
	struct address_ctx ctx = { .s = s, .len = strlen(s) };

	if (ctx.len == 0 || ctx.len > 255 || (!utf8 && utf8_has_non_ascii(
		(const uint8_t *)s, ctx.len)) || !utf8_is_valid(
		(const uint8_t *)s, ctx.len))
		return false;
	return address_parse_domain_name(&ctx) == 0 && ctx.pos == ctx.len;
}

static int
address_parse_domain(struct address_ctx *ctx, size_t *start_r)
{
	size_t start = ctx->pos;
	int ret;

	*start_r = start;
	if (ctx->pos < ctx->len && ctx->s[ctx->pos] == '[')
		ret = address_parse_literal(ctx);
	else
		ret = address_parse_domain_name(ctx);
	if (ret < 0)
		return -1;
	if (ctx->pos - start > ctx->limits->max_domain_len)
		return address_fail(ctx, ADDRESS_ERR_DOMAIN_TOO_LONG,
				    "domain too long");
	return 0;
}

/* A-d-l = At-domain *( "," At-domain ) ":" ; ignored (RFC 5321 4.1.2) */
static int
address_skip_adl(struct address_ctx *ctx)
{
	size_t start;

	for (;;) {
		if (ctx->pos >= ctx->len || ctx->s[ctx->pos] != '@')
			return address_fail(ctx, ADDRESS_ERR_SYNTAX,
					    "invalid source route");
		ctx->pos++;
		if (address_parse_domain(ctx, &start) < 0)
			return -1;
		if (ctx->pos < ctx->len && ctx->s[ctx->pos] == ',') {
			ctx->pos++;
			continue;
		}
		if (ctx->pos < ctx->len && ctx->s[ctx->pos] == ':') {
			ctx->pos++;
			return 0;
		}
		return address_fail(ctx, ADDRESS_ERR_SYNTAX,
				    "invalid source route");
	}
}

static int
address_parse_mailbox_at(struct address_ctx *ctx, unsigned flags,
			 struct address *addr_r)
{
	struct buf local;
	size_t dstart;
	const char *s = ctx->s;

	buf_init(&local);
	if (address_parse_local(ctx, &local) < 0) {
		buf_deinit(&local);
		return -1;
	}
	if (ctx->pos >= ctx->len || s[ctx->pos] != '@') {
		buf_deinit(&local);
		return address_fail(ctx, ADDRESS_ERR_SYNTAX,
				    "missing '@' and domain");
	}
	ctx->pos++;
	if (address_parse_domain(ctx, &dstart) < 0) {
		buf_deinit(&local);
		return -1;
	}
	addr_r->local = buf_steal(&local);
	buf_deinit(&local);
	addr_r->domain = xstrndup(s + dstart, ctx->pos - dstart);
	addr_r->domain_lc = address_lower_dup(addr_r->domain);
	addr_r->domain_is_literal = s[dstart] == '[';
	addr_r->has_utf8 =
		utf8_has_non_ascii((const uint8_t *)addr_r->local,
				   strlen(addr_r->local)) ||
		utf8_has_non_ascii((const uint8_t *)addr_r->domain,
				   strlen(addr_r->domain));
	if (addr_r->has_utf8) {
		if ((flags & ADDRESS_PARSE_UTF8) == 0)
			return address_fail(ctx, ADDRESS_ERR_UTF8,
				"non-ASCII address without SMTPUTF8");
		if (!utf8_is_valid((const uint8_t *)addr_r->local,
				   strlen(addr_r->local)) ||
		    !utf8_is_valid((const uint8_t *)addr_r->domain,
				   strlen(addr_r->domain)))
			return address_fail(ctx, ADDRESS_ERR_BAD_UTF8,
					    "malformed UTF-8 in address");
	}
	return 0;
}

static bool
address_has_prefix_icase(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

int
address_parse_path(const char *s, size_t len,
		   const struct address_limits *limits, unsigned flags,
		   struct address *addr_r, size_t *consumed_r,
		   enum address_error *err_r, const char **error_r)
{
	struct address_ctx ctx = { .s = s, .len = len, .limits = limits };

	address_init(addr_r);
	*consumed_r = 0;
	if (len == 0 || s[0] != '<') {
		address_fail(&ctx, ADDRESS_ERR_SYNTAX, "path must begin with '<'");
		goto fail;
	}
	ctx.pos = 1;
	if (len > 1 && s[1] == '>' && (flags & ADDRESS_PARSE_NULL_PATH) != 0) {
		addr_r->local = xstrdup("");
		addr_r->is_null = true;
		*consumed_r = 2;
		*err_r = ADDRESS_OK;
		return 0;
	}
	if ((flags & ADDRESS_PARSE_POSTMASTER) != 0 &&
	    address_has_prefix_icase(s + 1, len - 1, "postmaster>")) {
		addr_r->local = xstrndup(s + 1, 10);
		*consumed_r = 12;
		*err_r = ADDRESS_OK;
		return 0;
	}
	if (ctx.pos < len && s[ctx.pos] == '@') {
		if (address_skip_adl(&ctx) < 0)
			goto fail;
	}
	if (address_parse_mailbox_at(&ctx, flags, addr_r) < 0)
		goto fail;
	if (ctx.pos >= len || s[ctx.pos] != '>') {
		address_fail(&ctx, ADDRESS_ERR_SYNTAX, "path must end with '>'");
		goto fail;
	}
	ctx.pos++;
	if (ctx.pos > limits->max_path_len) {
		address_fail(&ctx, ADDRESS_ERR_PATH_TOO_LONG, "path too long");
		goto fail;
	}
	*consumed_r = ctx.pos;
	*err_r = ADDRESS_OK;
	return 0;
fail:
	/* A too-long path is the more useful report when the scan stopped
	 * past the limit for another reason. */
	if (ctx.err == ADDRESS_ERR_SYNTAX && ctx.pos > limits->max_path_len) {
		ctx.err = ADDRESS_ERR_PATH_TOO_LONG;
		ctx.error = "path too long";
	}
	address_deinit(addr_r);
	*err_r = ctx.err;
	*error_r = ctx.error;
	return -1;
}

int
address_parse_mailbox(const char *s, size_t len,
		      const struct address_limits *limits, unsigned flags,
		      struct address *addr_r, enum address_error *err_r,
		      const char **error_r)
{
	struct address_ctx ctx = { .s = s, .len = len, .limits = limits };

	address_init(addr_r);
	if (address_parse_mailbox_at(&ctx, flags, addr_r) < 0)
		goto fail;
	if (ctx.pos != len) {
		address_fail(&ctx, ADDRESS_ERR_SYNTAX,
			     "trailing characters after address");
		goto fail;
	}
	*err_r = ADDRESS_OK;
	return 0;
fail:
	address_deinit(addr_r);
	*err_r = ctx.err;
	*error_r = ctx.error;
	return -1;
}

bool
address_local_needs_quoting(const char *local)
{
	const char *p;
	bool prev_dot = true;

	if (*local == '\0')
		return true;
	for (p = local; *p != '\0'; p++) {
		if (*p == '.') {
			if (prev_dot)
				return true;
			prev_dot = true;
		} else if (address_is_atext((uint8_t)*p)) {
			prev_dot = false;
		} else {
			return true;
		}
	}
	return prev_dot;
}

void
address_append(const struct address *addr, struct buf *out)
{
	const char *p;

	if (addr->is_null || addr->local == NULL)
		return;
	if (address_local_needs_quoting(addr->local)) {
		buf_putc(out, '"');
		for (p = addr->local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(out, '\\');
			buf_putc(out, *p);
		}
		buf_putc(out, '"');
	} else {
		buf_puts(out, addr->local);
	}
	if (addr->domain != NULL) {
		buf_putc(out, '@');
		buf_puts(out, addr->domain);
	}
}

char *
address_to_string(const struct address *addr)
{
	struct buf out;
	char *s;

	buf_init(&out);
	address_append(addr, &out);
	s = buf_steal(&out);
	buf_deinit(&out);
	return s;
}

static bool
address_str_equal_icase(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	/* strcasecmp would fold octets >= 0x80 in some locales; keep it to
	 * ASCII so UTF-8 compares octet for octet. */
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char ca = *a, cb = *b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return false;
	}
	return *a == *b;
}

bool
address_domain_equal(const char *a, const char *b)
{
	return address_str_equal_icase(a, b);
}

bool
address_equal(const struct address *a, const struct address *b)
{
	if (a->is_null || b->is_null)
		return a->is_null == b->is_null;
	if (strcmp(a->local, b->local) != 0)
		return false;
	return address_domain_equal(a->domain, b->domain);
}

bool
address_equal_icase(const struct address *a, const struct address *b)
{
	if (a->is_null || b->is_null)
		return a->is_null == b->is_null;
	if (!address_str_equal_icase(a->local, b->local))
		return false;
	return address_domain_equal(a->domain, b->domain);
}

bool
address_split_subaddress(const char *local, const char *separators,
			 char **base_r, char **tag_r)
{
	size_t n;

	if (separators == NULL)
		separators = "+";
	n = strcspn(local, separators);
	if (n == 0 || local[n] == '\0' || *separators == '\0') {
		*base_r = xstrdup(local);
		*tag_r = NULL;
		return false;
	}
	*base_r = xstrndup(local, n);
	*tag_r = xstrdup(local + n + 1);
	return true;
}

const char *
address_error_str(enum address_error err)
{
	switch (err) {
	case ADDRESS_OK:
		return "ok";
	case ADDRESS_ERR_SYNTAX:
		return "syntax error in address";
	case ADDRESS_ERR_LOCAL_TOO_LONG:
		return "local part too long";
	case ADDRESS_ERR_DOMAIN_TOO_LONG:
		return "domain too long";
	case ADDRESS_ERR_PATH_TOO_LONG:
		return "path too long";
	case ADDRESS_ERR_UTF8:
		return "non-ASCII address without SMTPUTF8";
	case ADDRESS_ERR_BAD_UTF8:
		return "malformed UTF-8 in address";
	}
	return "unknown error";
}
