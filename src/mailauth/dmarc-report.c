/* SPDX-License-Identifier: MIT */
/*
 * DMARC aggregate reports, the pure parts: the row key (how one message's
 * verdict is counted and stored), the XML document of RFC 7489 appendix C,
 * gzip, the rua URI list (6.2, 6.4) and the external-destination record
 * (7.1).
 */
#include "mailauth/dmarc-report.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/address.h"

/* A field of a key is cut here: a DNS name is at most 253 octets, and
 * longer peer text (a reason comment) is not worth keeping. */
#define KEY_FIELD_MAX 255
/* DKIM results kept per row: more signatures on one message are noise
 * (and [mailauth] dkim_verify_max_signatures is 5 by default). */
#define KEY_DKIM_MAX 8
/* The key's format: its first field. */
#define KEY_VERSION "1"
/* Fixed fields after the version, before the DKIM triples. */
#define KEY_FIXED 11

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* A key field: tabs, line ends and other controls become '?' (they
 * separate fields and lines), domains lower case, at most KEY_FIELD_MAX
 * octets. */
static void
key_field(struct buf *out, const char *s, bool lower)
{
	size_t n = 0;

	buf_putc(out, '\t');
	for (const char *p = nz(s); *p != '\0' && n < KEY_FIELD_MAX; p++, n++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			c = '?';
		else if (lower)
			c = (unsigned char)tolower(c);
		buf_putc(out, (char)c);
	}
}

void
dmarc_report_row_key(const struct dmarc_report_input *in, struct buf *out)
{
	size_t n_dkim = in->n_dkim < KEY_DKIM_MAX ? in->n_dkim : KEY_DKIM_MAX;

	buf_puts(out, KEY_VERSION);
	key_field(out, in->source_ip, true);
	key_field(out, in->header_from, true);
	key_field(out, in->envelope_from, true);
	key_field(out, in->disposition != NULL ? in->disposition : "none",
		  true);
	key_field(out, in->dkim_aligned ? "pass" : "fail", false);
	key_field(out, in->spf_aligned ? "pass" : "fail", false);
	key_field(out, in->reason, true);
	key_field(out, in->reason_comment, false);
	key_field(out, in->spf_domain, true);
	key_field(out, in->spf_scope != NULL ? in->spf_scope : "mfrom", true);
	key_field(out, in->spf_result != NULL ? in->spf_result : "none", true);
	for (size_t i = 0; i < n_dkim; i++) {
		key_field(out, in->dkim[i].domain, true);
		key_field(out, in->dkim[i].selector, false);
		key_field(out, in->dkim[i].result != NULL ?
			  in->dkim[i].result : "none", true);
	}
}

int
dmarc_report_row_parse(const char *key, struct dmarc_report_row *row)
{
	char *f[1 + KEY_FIXED + 3 * KEY_DKIM_MAX];
	size_t n = 0;
	char *copy, *p;

	memset(row, 0, sizeof(*row));
	if (key == NULL)
		return -1;
	copy = xstrdup(key);
	p = copy;
	for (;;) {
		char *tab = strchr(p, '\t');

		if (n == sizeof(f) / sizeof(f[0])) {
			free(copy);
			return -1;
		}
		f[n++] = p;
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	if (n < 1 + KEY_FIXED || (n - 1 - KEY_FIXED) % 3 != 0 ||
	    strcmp(f[0], KEY_VERSION) != 0) {
		free(copy);
		return -1;
	}
	row->source_ip = xstrdup(f[1]);
	row->header_from = xstrdup(f[2]);
	row->envelope_from = xstrdup(f[3]);
	row->disposition = xstrdup(f[4]);
	row->dkim_aligned = strcmp(f[5], "pass") == 0;
	row->spf_aligned = strcmp(f[6], "pass") == 0;
	row->reason = xstrdup(f[7]);
	row->reason_comment = xstrdup(f[8]);
	row->spf_domain = xstrdup(f[9]);
	row->spf_scope = xstrdup(f[10]);
	row->spf_result = xstrdup(f[11]);
	row->n_dkim = (n - 1 - KEY_FIXED) / 3;
	if (row->n_dkim > 0)
		row->dkim = xcalloc(row->n_dkim, sizeof(*row->dkim));
	for (size_t i = 0; i < row->n_dkim; i++) {
		row->dkim[i].domain = xstrdup(f[12 + 3 * i]);
		row->dkim[i].selector = xstrdup(f[13 + 3 * i]);
		row->dkim[i].result = xstrdup(f[14 + 3 * i]);
	}
	free(copy);
	return 0;
}

void
dmarc_report_row_deinit(struct dmarc_report_row *row)
{
	free(row->source_ip);
	free(row->header_from);
	free(row->envelope_from);
	free(row->disposition);
	free(row->reason);
	free(row->reason_comment);
	free(row->spf_domain);
	free(row->spf_scope);
	free(row->spf_result);
	for (size_t i = 0; i < row->n_dkim; i++) {
		free(row->dkim[i].domain);
		free(row->dkim[i].selector);
		free(row->dkim[i].result);
	}
	free(row->dkim);
	memset(row, 0, sizeof(*row));
}

/* A policy word as published, or def when it is not one we know. */
static const char *
disposition_word(const char *s, const char *def)
{
	static const char *const words[] = { "none", "quarantine", "reject" };

	for (size_t i = 0; s != NULL && i < 3; i++)
		if (strcasecmp(s, words[i]) == 0)
			return words[i];
	return def;
}

void
dmarc_report_policy_text(const struct dmarc_report_input *in,
			 struct buf *out)
{
	const char *p = disposition_word(in->p, "none");
	size_t fo_len = 0;

	buf_printf(out, "p=%s sp=%s pct=%u adkim=%c aspf=%c fo=", p,
		   disposition_word(in->sp, p), in->pct > 100 ? 100 : in->pct,
		   in->adkim == 's' ? 's' : 'r', in->aspf == 's' ? 's' : 'r');
	/* fo is "0", "1", "d", "s" joined by ':' (6.3): anything else is
	 * kept out of the report */
	for (const char *f = nz(in->fo); *f != '\0' && fo_len < 16; f++)
		if (strchr("01ds:", *f) != NULL) {
			buf_putc(out, *f);
			fo_len++;
		}
	if (fo_len == 0)
		buf_putc(out, '0');
	if (in->np != NULL)
		buf_printf(out, " np=%s", disposition_word(in->np, p));
}

/* The value of tag name in a policy text, or def. */
static const char *
policy_get(const char *policy, const char *name, char *out, size_t outsz,
	   const char *def)
{
	size_t nlen = strlen(name);

	for (const char *p = policy; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			size_t vlen = len - nlen - 1;

			if (vlen >= outsz)
				vlen = outsz - 1;
			memcpy(out, p + nlen + 1, vlen);
			out[vlen] = '\0';
			return out;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return def;
}

/* ---- XML ---- */

/* Character data: the five specials as entities; controls (which XML
 * 1.0 cannot carry) and octets that are not UTF-8 as '?'. */
static void
xml_text(struct buf *out, const char *s)
{
	const uint8_t *p = (const uint8_t *)nz(s);
	size_t len = strlen((const char *)p);

	while (len > 0) {
		size_t ok = utf8_valid_prefix(p, len);

		for (size_t i = 0; i < ok; i++) {
			switch (p[i]) {
			case '&':
				buf_puts(out, "&amp;");
				break;
			case '<':
				buf_puts(out, "&lt;");
				break;
			case '>':
				buf_puts(out, "&gt;");
				break;
			case '"':
				buf_puts(out, "&quot;");
				break;
			case '\'':
				buf_puts(out, "&apos;");
				break;
			default:
				buf_putc(out, p[i] < 0x20 || p[i] == 0x7f ?
					 '?' : (char)p[i]);
			}
		}
		p += ok;
		len -= ok;
		if (len > 0) {
			buf_putc(out, '?');
			p++;
			len--;
		}
	}
}

static void
xml_elem(struct buf *out, const char *indent, const char *name,
	 const char *value)
{
	buf_printf(out, "%s<%s>", indent, name);
	xml_text(out, value);
	buf_printf(out, "</%s>\n", name);
}

static void
xml_record(struct buf *out, const struct dmarc_report_row *r)
{
	buf_puts(out, "  <record>\n    <row>\n");
	xml_elem(out, "      ", "source_ip", r->source_ip);
	buf_printf(out, "      <count>%llu</count>\n",
		   (unsigned long long)r->count);
	buf_puts(out, "      <policy_evaluated>\n");
	xml_elem(out, "        ", "disposition", r->disposition);
	xml_elem(out, "        ", "dkim", r->dkim_aligned ? "pass" : "fail");
	xml_elem(out, "        ", "spf", r->spf_aligned ? "pass" : "fail");
	if (r->reason != NULL && r->reason[0] != '\0') {
		buf_puts(out, "        <reason>\n");
		xml_elem(out, "          ", "type", r->reason);
		if (r->reason_comment != NULL && r->reason_comment[0] != '\0')
			xml_elem(out, "          ", "comment",
				 r->reason_comment);
		buf_puts(out, "        </reason>\n");
	}
	buf_puts(out, "      </policy_evaluated>\n    </row>\n");
	buf_puts(out, "    <identifiers>\n");
	/* DMARCbis; a parser of RFC 7489's schema skips it */
	if (r->envelope_from != NULL && r->envelope_from[0] != '\0')
		xml_elem(out, "      ", "envelope_from", r->envelope_from);
	xml_elem(out, "      ", "header_from", r->header_from);
	buf_puts(out, "    </identifiers>\n    <auth_results>\n");
	for (size_t i = 0; i < r->n_dkim; i++) {
		buf_puts(out, "      <dkim>\n");
		xml_elem(out, "        ", "domain", r->dkim[i].domain);
		if (r->dkim[i].selector[0] != '\0')
			xml_elem(out, "        ", "selector",
				 r->dkim[i].selector);
		xml_elem(out, "        ", "result", r->dkim[i].result);
		buf_puts(out, "      </dkim>\n");
	}
	buf_puts(out, "      <spf>\n");
	xml_elem(out, "        ", "domain", r->spf_domain);
	xml_elem(out, "        ", "scope", r->spf_scope);
	xml_elem(out, "        ", "result", r->spf_result);
	buf_puts(out, "      </spf>\n    </auth_results>\n  </record>\n");
}

void
dmarc_report_xml(const struct dmarc_report_meta *m,
		 const struct dmarc_report_row *rows, size_t n,
		 struct buf *out)
{
	char v[32], pv[32];
	const char *p;

	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<feedback>\n  <version>1.0</version>\n"
		 "  <report_metadata>\n");
	xml_elem(out, "    ", "org_name", m->org_name);
	xml_elem(out, "    ", "email", m->email);
	if (m->extra_contact != NULL)
		xml_elem(out, "    ", "extra_contact_info", m->extra_contact);
	xml_elem(out, "    ", "report_id", m->report_id);
	buf_printf(out, "    <date_range>\n      <begin>%lld</begin>\n"
		   "      <end>%lld</end>\n    </date_range>\n"
		   "  </report_metadata>\n  <policy_published>\n",
		   (long long)m->begin, (long long)m->end);
	xml_elem(out, "    ", "domain", m->domain);
	xml_elem(out, "    ", "adkim",
		 policy_get(m->policy, "adkim", v, sizeof(v), "r"));
	xml_elem(out, "    ", "aspf",
		 policy_get(m->policy, "aspf", v, sizeof(v), "r"));
	p = policy_get(m->policy, "p", pv, sizeof(pv), "none");
	xml_elem(out, "    ", "p", p);
	xml_elem(out, "    ", "sp", policy_get(m->policy, "sp", v, sizeof(v),
						   p));
	if (policy_get(m->policy, "np", v, sizeof(v), NULL) != NULL)
		xml_elem(out, "    ", "np", v);
	xml_elem(out, "    ", "pct",
		 policy_get(m->policy, "pct", v, sizeof(v), "100"));
	xml_elem(out, "    ", "fo",
		 policy_get(m->policy, "fo", v, sizeof(v), "0"));
	buf_puts(out, "  </policy_published>\n");
	for (size_t i = 0; i < n; i++)
		xml_record(out, &rows[i]);
	buf_puts(out, "</feedback>\n");
}

int
dmarc_report_gzip(const uint8_t *data, size_t len, struct buf *out)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper (RFC 1952) rather than zlib's */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	buf_reserve(out, deflateBound(&z, (uLong)len) + 1);
	do {
		size_t room;

		buf_reserve(out, 4096);
		room = out->cap - out->len - 1;
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = (uInt)room;
		rc = deflate(&z, Z_FINISH);
		out->len += room - z.avail_out;
		out->data[out->len] = '\0';
	} while (rc == Z_OK || rc == Z_BUF_ERROR);
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* ---- rua ---- */

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The size limit after '!' (6.4: digits and an optional unit k, m, g,
 * t, in units of 1024). -1 when malformed. */
static int
parse_size(const char *s, size_t len, uint64_t *size_r)
{
	uint64_t v = 0, mul = 1;
	size_t i = 0;

	if (len == 0)
		return -1;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		if (v > UINT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	if (i < len) {
		switch (tolower((unsigned char)s[i])) {
		case 'k':
			mul = 1024ULL;
			break;
		case 'm':
			mul = 1024ULL * 1024;
			break;
		case 'g':
			mul = 1024ULL * 1024 * 1024;
			break;
		case 't':
			mul = 1024ULL * 1024 * 1024 * 1024;
			break;
		default:
			return -1;
		}
		if (++i != len)
			return -1;
	}
	*size_r = v > UINT64_MAX / mul ? UINT64_MAX : v * mul;
	return 0;
}

/* One URI (without surrounding whitespace): 0 with *u filled for a
 * mailto: with one address, -1 otherwise. */
static int
parse_uri(const char *s, size_t len, struct dmarc_report_uri *u)
{
	struct address_limits lim;
	struct address addr;
	enum address_error aerr;
	const char *bang, *err;
	size_t ulen = len;
	struct buf dec;
	int ret = -1;

	u->address = NULL;
	u->max_size = 0;
	bang = memrchr(s, '!', len);
	if (bang != NULL) {
		ulen = (size_t)(bang - s);
		if (parse_size(bang + 1, len - ulen - 1, &u->max_size) < 0)
			return -1;
	}
	if (ulen < 7 || strncasecmp(s, "mailto:", 7) != 0)
		return -1;
	s += 7;
	ulen -= 7;
	/* header fields (RFC 6068 "?subject=") are not ours to add */
	{
		const char *q = memchr(s, '?', ulen);

		if (q != NULL)
			ulen = (size_t)(q - s);
	}
	buf_init(&dec);
	for (size_t i = 0; i < ulen; i++) {
		int hi, lo;

		if (s[i] != '%') {
			buf_putc(&dec, s[i]);
			continue;
		}
		hi = i + 2 < ulen ? hex_value(s[i + 1]) : -1;
		lo = i + 2 < ulen ? hex_value(s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			buf_deinit(&dec);
			return -1;
		}
		buf_putc(&dec, (char)(hi * 16 + lo));
		i += 2;
	}
	/* one plain ASCII addr-spec: a list ("a@x,b@y" once decoded), a
	 * NUL or an address literal is refused */
	address_limits_default(&lim);
	address_init(&addr);
	if (dec.len > 0 && memchr(dec.data, '\0', dec.len) == NULL &&
	    memchr(dec.data, ',', dec.len) == NULL &&
	    address_parse_mailbox(dec.data, dec.len, &lim, 0, &addr, &aerr,
				  &err) == 0 &&
	    !addr.domain_is_literal && addr.domain != NULL &&
	    address_domain_is_valid(addr.domain, false)) {
		struct buf a;

		buf_init(&a);
		buf_puts(&a, addr.local);
		buf_putc(&a, '@');
		buf_puts(&a, addr.domain_lc);
		/* a local part that needs quoting is not worth the risk */
		if (!address_local_needs_quoting(addr.local)) {
			u->address = buf_steal(&a);
			ret = 0;
		}
		buf_deinit(&a);
	}
	address_deinit(&addr);
	buf_deinit(&dec);
	return ret;
}

size_t
dmarc_report_rua_parse(const char *rua, size_t max,
		       struct dmarc_report_uri **uris_r, size_t *skipped_r)
{
	struct dmarc_report_uri *v = NULL;
	size_t n = 0, skipped = 0;
	const char *p = nz(rua);

	*uris_r = NULL;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		struct dmarc_report_uri u;

		p = end != NULL ? end + 1 : p + len;
		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		if (n >= max || parse_uri(s, len, &u) < 0) {
			skipped++;
			continue;
		}
		/* the same address twice gets one report */
		bool dup = false;

		for (size_t i = 0; i < n; i++)
			dup |= strcasecmp(v[i].address, u.address) == 0;
		if (dup) {
			free(u.address);
			continue;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = u;
	}
	if (skipped_r != NULL)
		*skipped_r = skipped;
	*uris_r = v;
	return n;
}

void
dmarc_report_uris_free(struct dmarc_report_uri **uris, size_t n)
{
	if (*uris == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*uris)[i].address);
	xfree(uris);
}

char *
dmarc_report_verify_name(const char *domain, const char *rua_domain)
{
	return xasprintf("%s._report._dmarc.%s", domain, rua_domain);
}

bool
dmarc_report_verify_answer(const char *const *texts, size_t n)
{
	/* 7.1: "v=DMARC1" first, then nothing or ';' (with spaces) */
	for (size_t i = 0; i < n; i++) {
		const char *t = texts[i];

		if (t == NULL || strncmp(t, "v=DMARC1", 8) != 0)
			continue;
		t += 8;
		while (*t == ' ' || *t == '\t')
			t++;
		if (*t == '\0' || *t == ';')
			return true;
	}
	return false;
}

time_t
dmarc_report_next_run(time_t now, uint64_t interval_s)
{
	uint64_t n = (uint64_t)(now < 0 ? 0 : now);

	if (interval_s == 0)
		interval_s = 86400;
	return (time_t)((n / interval_s + 1) * interval_s);
}
