/* SPDX-License-Identifier: MIT */
/*
 * The DMARC record (RFC 7489 6.3 and 6.4; DMARCbis np, psd, t): tag=value
 * pairs after v=DMARC1, read without I/O into struct dmarc_record, with
 * the defaults and the error rules of RFC 7489 6.6.3.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/textcache.h"
#include "mailauth/dmarc.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

bool
dmarc_record_is_dmarc(const char *text, size_t len)
{
	size_t i = 0;

	/* "v" *WSP "=" *WSP "DMARC1" (the version in upper case: the
	 * ABNF spells it as octets) then the end, WSP or ';' */
	if (len == 0 || (text[0] != 'v' && text[0] != 'V'))
		return false;
	i = 1;
	while (i < len && is_wsp(text[i]))
		i++;
	if (i >= len || text[i] != '=')
		return false;
	i++;
	while (i < len && is_wsp(text[i]))
		i++;
	if (len - i < 6 || memcmp(text + i, "DMARC1", 6) != 0)
		return false;
	i += 6;
	return i == len || is_wsp(text[i]) || text[i] == ';';
}

static int
parse_policy(const char *v, size_t n, enum dmarc_policy *p_r)
{
	if (n == 4 && strncasecmp(v, "none", 4) == 0)
		*p_r = DMARC_POLICY_NONE;
	else if (n == 10 && strncasecmp(v, "quarantine", 10) == 0)
		*p_r = DMARC_POLICY_QUARANTINE;
	else if (n == 6 && strncasecmp(v, "reject", 6) == 0)
		*p_r = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

static bool
parse_uint(const char *v, size_t n, uint64_t max, uint64_t *val_r)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return false;
	*val_r = x;
	return true;
}

/* One URI of rua/ruf (6.4: URI [ "!" size ]): a scheme (RFC 3986 3.1)
 * and something after its colon, with no white space, and for mailto: an
 * address with '@'. Enough to tell a usable reporting URI from junk. */
static bool
uri_is_valid(const char *u, size_t n)
{
	size_t i = 0;

	if (n == 0 || !((u[0] >= 'a' && u[0] <= 'z') ||
			(u[0] >= 'A' && u[0] <= 'Z')))
		return false;
	while (i < n && u[i] != ':') {
		char c = u[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		      c == '.'))
			return false;
		i++;
	}
	if (i >= n - 1)
		return false;
	for (size_t k = i + 1; k < n; k++) {
		if ((unsigned char)u[k] <= ' ' || u[k] == 0x7f)
			return false;
	}
	if (i == 6 && strncasecmp(u, "mailto", 6) == 0)
		return memchr(u + i + 1, '@', n - i - 1) != NULL;
	return true;
}

/* Whether a rua value holds at least one valid URI (6.6.3 step 6). */
static bool
rua_has_valid_uri(const char *v, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != ',')
			continue;
		size_t a = start, b = i;

		while (a < b && is_wsp(v[a]))
			a++;
		while (b > a && is_wsp(v[b - 1]))
			b--;
		/* the optional size limit "!10m" is not part of the URI */
		for (size_t k = a; k < b; k++) {
			if (v[k] == '!') {
				b = k;
				break;
			}
		}
		if (uri_is_valid(v + a, b - a))
			return true;
		start = i + 1;
	}
	return false;
}

/* fo: 1*("0" / "1" / "d" / "s") joined by ':' (6.3). */
static bool
fo_is_valid(const char *v, size_t n)
{
	bool want_opt = true;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (is_wsp(c))
			continue;
		if (want_opt) {
			if (c != '0' && c != '1' && c != 'd' && c != 's')
				return false;
			want_opt = false;
		} else if (c == ':') {
			want_opt = true;
		} else {
			return false;
		}
	}
	return n > 0 && !want_opt;
}

enum tag_id {
	TAG_P, TAG_SP, TAG_NP, TAG_PCT, TAG_ADKIM, TAG_ASPF, TAG_RUA,
	TAG_RUF, TAG_FO, TAG_RF, TAG_RI, TAG_PSD, TAG_T, TAG_COUNT,
};

static const char *const tag_names[TAG_COUNT] = {
	"p", "sp", "np", "pct", "adkim", "aspf", "rua", "ruf", "fo", "rf",
	"ri", "psd", "t",
};

/* The string tags' values, put in the record's block at the end. */
struct str_tag {
	const char *v;
	size_t n;
	bool set;
};

static char *
str_put(char **o, const struct str_tag *t)
{
	char *start = *o;

	if (!t->set)
		return NULL;
	memcpy(start, t->v, t->n);
	start[t->n] = '\0';
	*o += t->n + 1;
	return start;
}

int
dmarc_record_parse(const char *text, size_t len, struct dmarc_record *rec_r,
		   const char **error_r)
{
	bool seen[TAG_COUNT] = { false };
	struct str_tag rua = { 0 }, ruf = { 0 }, fo = { "0", 1, true };
	struct str_tag rf = { "afrf", 4, true };
	bool p_ok = false, sp_bad = false, rua_ok = false;
	size_t start, i;
	bool first = true;

	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->pct = 100;
	rec_r->ri = 86400;
	if (!dmarc_record_is_dmarc(text, len)) {
		*error_r = "not a DMARC record";
		return -1;
	}
	for (start = 0, i = 0; i <= len; i++) {
		if (i < len && text[i] != ';')
			continue;
		size_t a = start, b = i, eq;

		start = i + 1;
		while (a < b && is_wsp(text[a]))
			a++;
		while (b > a && is_wsp(text[b - 1]))
			b--;
		if (first) {
			first = false;	/* v=DMARC1, checked above */
			continue;
		}
		if (a == b)
			continue;	/* ";;" or a final ';' */
		for (eq = a; eq < b && text[eq] != '='; eq++)
			;
		if (eq == b)
			continue;	/* not tag=value: ignored (6.3) */
		size_t tn = eq, va = eq + 1;

		while (tn > a && is_wsp(text[tn - 1]))
			tn--;
		while (va < b && is_wsp(text[va]))
			va++;
		const char *v = text + va;
		size_t vn = b - va;
		int t;

		for (t = 0; t < TAG_COUNT; t++) {
			if (strlen(tag_names[t]) == tn - a &&
			    strncasecmp(text + a, tag_names[t], tn - a) == 0)
				break;
		}
		if (t == TAG_COUNT)
			continue;	/* unknown tags are ignored (6.3) */
		if (seen[t]) {
			/* two values of one tag: receivers that take the
			 * first and those that take the last would apply
			 * different policies; no DMARC processing */
			dmarc_record_deinit(rec_r);
			*error_r = "a tag appears twice";
			return -1;
		}
		seen[t] = true;
		uint64_t num;

		switch ((enum tag_id)t) {
		case TAG_P:
			p_ok = parse_policy(v, vn, &rec_r->p) == 0;
			break;
		case TAG_SP:
			if (parse_policy(v, vn, &rec_r->sp) < 0) {
				rec_r->sp = DMARC_POLICY_UNSET;
				sp_bad = true;
			}
			break;
		case TAG_NP:
			if (parse_policy(v, vn, &rec_r->np) < 0)
				rec_r->np = DMARC_POLICY_UNSET;
			break;
		case TAG_PCT:
			if (parse_uint(v, vn, 100, &num))
				rec_r->pct = (unsigned)num;
			break;
		case TAG_ADKIM:
		case TAG_ASPF: {
			enum dmarc_align_mode m = DMARC_ALIGN_RELAXED;

			if (vn == 1 && (v[0] == 's' || v[0] == 'S'))
				m = DMARC_ALIGN_STRICT;
			if (t == TAG_ADKIM)
				rec_r->adkim = m;
			else
				rec_r->aspf = m;
			break;
		}
		case TAG_RUA:
			rua = (struct str_tag){ v, vn, true };
			rua_ok = rua_has_valid_uri(v, vn);
			break;
		case TAG_RUF:
			ruf = (struct str_tag){ v, vn, true };
			break;
		case TAG_FO:
			if (fo_is_valid(v, vn))
				fo = (struct str_tag){ v, vn, true };
			break;
		case TAG_RF:
			rf = (struct str_tag){ v, vn, true };
			break;
		case TAG_RI:
			if (parse_uint(v, vn, UINT32_MAX, &num))
				rec_r->ri = (uint32_t)num;
			break;
		case TAG_PSD:
			if (vn == 1 && (v[0] == 'y' || v[0] == 'n')) {
				rec_r->psd_set = true;
				rec_r->psd = v[0] == 'y';
			}
			break;
		case TAG_T:
			if (vn == 1 && (v[0] == 'y' || v[0] == 'Y'))
				rec_r->testing = true;
			break;
		case TAG_COUNT:
			break;
		}
	}
	if (!p_ok || sp_bad) {
		/* RFC 7489 6.6.3 step 6: a valid rua keeps the record, as
		 * p=none (so its owner still gets reports) */
		if (!rua_ok) {
			dmarc_record_deinit(rec_r);
			*error_r = !p_ok ? "no valid p= tag" : "invalid sp= tag";
			return -1;
		}
		rec_r->p = DMARC_POLICY_NONE;
		rec_r->sp = DMARC_POLICY_UNSET;
		rec_r->p_from_rua = true;
	}
	/* one allocation for the four strings */
	char *o;

	rec_r->strings_len = (rua.set ? rua.n + 1 : 0) +
			     (ruf.set ? ruf.n + 1 : 0) + fo.n + 1 + rf.n + 1;
	rec_r->strings = o = xmalloc(rec_r->strings_len);
	rec_r->rua = str_put(&o, &rua);
	rec_r->ruf = str_put(&o, &ruf);
	rec_r->fo = str_put(&o, &fo);
	rec_r->rf = str_put(&o, &rf);
	return 0;
}

static char *
rebase(char *p, const char *from, char *to)
{
	return p != NULL ? to + (p - from) : NULL;
}

void
dmarc_record_copy(struct dmarc_record *dst, const struct dmarc_record *src)
{
	*dst = *src;
	if (src->strings == NULL)
		return;
	dst->strings = xmemdup(src->strings, src->strings_len);
	dst->rua = rebase(src->rua, src->strings, dst->strings);
	dst->ruf = rebase(src->ruf, src->strings, dst->strings);
	dst->fo = rebase(src->fo, src->strings, dst->strings);
	dst->rf = rebase(src->rf, src->strings, dst->strings);
}

/* Parsed records by their text: a domain's policy comes with every
 * message from it, and parsing it was a tenth of DMARC's work for a
 * message whose answers the DNS cache held. Keyed on the whole record, so
 * a changed policy is parsed afresh once the DNS cache lets it through;
 * only records that parsed are kept. */
static void
rec_share(void *dst, void *src)
{
	dmarc_record_copy(dst, src);
}

static void
rec_free(void *rec)
{
	dmarc_record_deinit(rec);
}

static struct textcache rec_cache = TEXTCACHE_INIT(32, 1024,
	sizeof(struct dmarc_record), rec_share, rec_free);

int
dmarc_record_parse_cached(const char *text, size_t len,
			  struct dmarc_record *rec_r, const char **error_r)
{
	if (textcache_get(&rec_cache, text, len, rec_r))
		return 0;
	if (dmarc_record_parse(text, len, rec_r, error_r) < 0)
		return -1;
	textcache_put(&rec_cache, text, len, rec_r);
	return 0;
}
