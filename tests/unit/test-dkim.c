/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/mailauth DKIM: both canonicalizations fed whole,
 * octet by octet and in random pieces; the tag-list, signature and key
 * record parsers; the RFC 8463 appendix A message; sign/verify round
 * trips with RSA and Ed25519, a changed message, l= and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "dns/dns.h"
#include "feed-split.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/dkim.h"

#define WAYS 12

/* buf_steal() leaves the buf initialised: deinit it too. */
static char *
steal(struct buf *b)
{
	char *s = buf_steal(b);

	buf_deinit(b);
	return s;
}

/* ---- canonicalization ---- */

static void
collect(const uint8_t *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
}

static size_t
body_feed(const uint8_t *data, size_t len, void *ctx)
{
	dkim_body_canon_feed(ctx, data, len);
	return len;
}

static const struct {
	const char *in, *simple, *relaxed;
} body_cases[] = {
	{ "", "\r\n", "" },
	{ "\r\n", "\r\n", "" },
	{ "\r\n\r\n\r\n", "\r\n", "" },
	{ "abc", "abc\r\n", "abc\r\n" },
	{ "abc\r\n", "abc\r\n", "abc\r\n" },
	{ "abc\r\n\r\n\r\n", "abc\r\n", "abc\r\n" },
	{ "a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	/* RFC 6376 3.4.5's example */
	{ " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
	{ "x  \t y \t\r\n", "x  \t y \t\r\n", "x y\r\n" },
	{ " \t \r\n\r\n", " \t \r\n", "" },
	{ "a\rb\r\n", "a\rb\r\n", "a\rb\r\n" },
	{ "a\r", "a\r\r\n", "a\r\r\n" },
	{ "\t\r\nz", "\t\r\nz\r\n", "\r\nz\r\n" },
	{ "=3D quoted=\r\nprintable =\r\n", "=3D quoted=\r\nprintable =\r\n",
	  "=3D quoted=\r\nprintable =\r\n" },
	/* single spaces between words (relaxed takes them in one run), a
	 * space before a tab, a double one, one before the line end, one
	 * before a bare CR and one at the very end */
	{ "the quick  brown \tfox a b\r\nc d \r\ne f \rg h ",
	  "the quick  brown \tfox a b\r\nc d \r\ne f \rg h \r\n",
	  "the quick brown fox a b\r\nc d\r\ne f \rg h\r\n" },
	/* line ends the scans go over, then trailing empty and blank
	 * lines they must not */
	{ "one two\r\nthree\r\n\r\nfour\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\t\r\n",
	  "one two\r\nthree\r\n\r\nfour\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\t\r\n",
	  "one two\r\nthree\r\n\r\nfour\r\n" },
};

static void
test_body_canon(void **state)
{
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		for (int c = 0; c < 2; c++) {
			const char *want = c == 0 ? body_cases[i].simple :
					   body_cases[i].relaxed;

			for (unsigned way = 0; way < WAYS; way++) {
				struct dkim_body_canon bc;
				struct buf out;

				buf_init(&out);
				dkim_body_canon_init(&bc, c == 0 ?
						     DKIM_CANON_SIMPLE :
						     DKIM_CANON_RELAXED,
						     collect, &out);
				feed_split(body_cases[i].in,
					   strlen(body_cases[i].in), way, 4,
					   body_feed, &bc);
				dkim_body_canon_finish(&bc);
				if (strcmp(out.data, want) != 0)
					fail_msg("case %zu canon %d way %u: "
						 "got [%s]", i, c, way,
						 out.data);
				assert_int_equal(bc.out_len, strlen(want));
				buf_deinit(&out);
			}
		}
	}
}

/* A long body in odd pieces has constant state: out_len counts all. */
static void
test_body_canon_large(void **state)
{
	struct dkim_body_canon bc;
	size_t total = 0;
	struct buf out;
	char line[100];

	buf_init(&out);
	dkim_body_canon_init(&bc, DKIM_CANON_RELAXED, collect, &out);
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof(line), "line %d  \t with  space \r\n",
				 i);

		dkim_body_canon_feed(&bc, (const uint8_t *)line, (size_t)n);
	}
	dkim_body_canon_feed(&bc, (const uint8_t *)"\r\n\r\n", 4);
	dkim_body_canon_finish(&bc);
	for (int i = 0; i < 20000; i++)
		total += (size_t)snprintf(line, sizeof(line),
					  "line %d with space\r\n", i);
	assert_int_equal(out.len, total);
	assert_int_equal(bc.out_len, total);
	buf_deinit(&out);
}

/* Random bodies of line ends, white space and words: fed whole (the
 * scans that take many octets, and lines, at once) they canonicalize
 * as they do fed one octet at a time (the octet loop alone). */
static void
test_body_canon_random(void **state)
{
	static const char *const tokens[] = {
		"ab", "c", "word", " ", "  ", "\t", "\r\n", "\r\n", "\r\n",
		"\r", "\n",
	};
	static const char *const tail[] = { "\r\n", "\r\n", " ", "\t" };
	uint32_t seed = 14;

	for (int iter = 0; iter < 4000; iter++) {
		uint8_t in[400];
		size_t len = 0, want;

		seed = seed * 1103515245u + 12345u;
		want = (seed >> 8) % (sizeof(in) - 8);
		/* half of them end in empty and blank lines (trailing,
		 * so dropped: the hard case for a scan over line ends) */
		while (len < want) {
			const char *t;

			seed = seed * 1103515245u + 12345u;
			if ((iter & 1) && len > want / 2)
				t = tail[(seed >> 16) % 4];
			else
				t = tokens[(seed >> 16) % 11];
			memcpy(in + len, t, strlen(t));
			len += strlen(t);
		}
		for (int c = 0; c < 2; c++) {
			enum dkim_canon canon = c == 0 ? DKIM_CANON_SIMPLE
						       : DKIM_CANON_RELAXED;
			struct dkim_body_canon whole, octets;
			struct buf a, b;

			buf_init(&a);
			buf_init(&b);
			dkim_body_canon_init(&whole, canon, collect, &a);
			dkim_body_canon_feed(&whole, in, len);
			dkim_body_canon_finish(&whole);
			dkim_body_canon_init(&octets, canon, collect, &b);
			for (size_t k = 0; k < len; k++)
				dkim_body_canon_feed(&octets, in + k, 1);
			dkim_body_canon_finish(&octets);
			if (a.len != b.len ||
			    memcmp(a.data, b.data, a.len) != 0)
				fail_msg("iteration %d canon %d: %zu octets "
					 "whole, %zu one by one", iter, c,
					 a.len, b.len);
			assert_int_equal(whole.out_len, octets.out_len);
			buf_deinit(&a);
			buf_deinit(&b);
		}
	}
}

static size_t
header_feed(const uint8_t *data, size_t len, void *ctx)
{
	dkim_header_canon_feed(ctx, data, len);
	return len;
}

static const struct {
	const char *in, *relaxed;
} header_cases[] = {
	{ "Subject: Hello", "subject:Hello" },
	{ "SUBJECT :  a  \t b \t", "subject:a b" },
	{ "To: a@b,\r\n\tc@d ,\r\n  e@f", "to:a@b, c@d , e@f" },
	{ "X-Empty:", "x-empty:" },
	{ "X-Empty:   \r\n ", "x-empty:" },
	{ "A:b", "a:b" },
	/* RFC 6376 3.4.5 */
	{ "A: X", "a:X" },
	{ "B : Y\t\r\n\tZ  ", "b:Y Z" },
	/* runs of content copied whole: ending at each kind of white
	 * space, a bare CR or LF inside, an empty value after a fold */
	{ "DKIM-Signature: v=1;\ta=rsa-sha256;\r\n\tb=abc\rdef\nghi \r\n",
	  "dkim-signature:v=1; a=rsa-sha256; b=abcdefghi" },
};

static void
test_header_canon(void **state)
{
	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]);
	     i++) {
		for (unsigned way = 0; way < WAYS; way++) {
			struct dkim_header_canon hc;
			struct buf out;

			buf_init(&out);
			dkim_header_canon_init(&hc, DKIM_CANON_RELAXED, &out);
			feed_split(header_cases[i].in,
				   strlen(header_cases[i].in), way, 3,
				   header_feed, &hc);
			dkim_header_canon_finish(&hc);
			if (strcmp(out.data, header_cases[i].relaxed) != 0)
				fail_msg("case %zu way %u: got [%s]", i, way,
					 out.data);
			buf_deinit(&out);
			/* simple changes nothing */
			buf_init(&out);
			dkim_header_canon(DKIM_CANON_SIMPLE, header_cases[i].in,
					  strlen(header_cases[i].in), &out);
			assert_string_equal(out.data, header_cases[i].in);
			buf_deinit(&out);
		}
	}
}

/* ---- tag lists ---- */

static void
test_tags_valid(void **state)
{
	const char *s = " v=1; a = rsa-sha256 ;\r\n\tb=abc\r\n def; x_1=; ";
	struct dkim_tag_list l;
	const char *err = NULL;
	const struct dkim_tag *t;

	assert_int_equal(dkim_tags_parse(s, strlen(s), &l, &err), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(dkim_tags_get(&l, "v")->value, "1");
	assert_string_equal(dkim_tags_get(&l, "a")->value, "rsa-sha256");
	t = dkim_tags_get(&l, "b");
	assert_string_equal(t->value, "abc\r\n def");
	/* the raw value runs from after '=' to the ';' */
	assert_memory_equal(s + t->value_start, "abc\r\n def", 9);
	assert_int_equal(s[t->value_end], ';');
	assert_string_equal(dkim_tags_get(&l, "x_1")->value, "");
	assert_null(dkim_tags_get(&l, "V"));
	dkim_tags_deinit(&l);
	assert_int_equal(dkim_tags_parse("", 0, &l, &err), 0);
	assert_int_equal(l.n, 0);
}

static void
test_tags_invalid(void **state)
{
	static const char *const bad[] = {
		"v=1; v=1",		/* duplicate */
		"a=1; b=2; a=3",
		"v=1;;",		/* empty tag-spec */
		";v=1",
		"v",			/* no '=' */
		"v 1",
		"1v=2",			/* name starts with a digit */
		"=x",
		"v-x=1",
		"v=a\x80",		/* 8-bit */
		"v=a\x01",
	};
	struct dkim_tag_list l;
	const char *err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (dkim_tags_parse(bad[i], strlen(bad[i]), &l, &err) == 0)
			fail_msg("accepted [%s]", bad[i]);
		assert_non_null(err);
		assert_int_equal(l.n, 0);
	}
}

static void
test_tags_limit(void **state)
{
	struct buf b;
	struct dkim_tag_list l;
	const char *err;

	buf_init(&b);
	for (int i = 0; i < DKIM_TAGS_MAX + 1; i++)
		buf_printf(&b, "t%d=x;", i);
	assert_int_equal(dkim_tags_parse(b.data, b.len, &l, &err), -1);
	assert_string_equal(err, "too many tags");
	buf_deinit(&b);
}

/* The tag-list parser as it was before the names and values moved into
 * one block with the tags (one allocation each then): the new one must
 * give the same result, error, tags, texts and offsets on any input. */
static bool
ref_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
ref_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

struct ref_tag {
	char name[256], value[256];
	size_t vs, ve;
};

static int
ref_tags_parse(const char *s, size_t len, struct ref_tag *tags, size_t *n_r,
	       const char **error_r)
{
	size_t pos = 0, n = 0;

	for (;;) {
		size_t name_start, name_end, vs, ve, ts, te;

		while (pos < len && ref_fws(s[pos]))
			pos++;
		if (pos == len)
			break;
		name_start = pos;
		if (!ref_alpha(s[pos])) {
			*error_r = s[pos] == ';' ? "empty tag" : "bad tag name";
			return -1;
		}
		while (pos < len && (ref_alpha(s[pos]) ||
				     (s[pos] >= '0' && s[pos] <= '9') ||
				     s[pos] == '_'))
			pos++;
		name_end = pos;
		while (pos < len && ref_fws(s[pos]))
			pos++;
		if (pos == len || s[pos] != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		vs = ++pos;
		while (pos < len && s[pos] != ';') {
			unsigned char u = (unsigned char)s[pos];

			if (!(u >= 0x21 && u <= 0x7e) && !ref_fws(s[pos])) {
				*error_r = "bad character in a tag value";
				return -1;
			}
			pos++;
		}
		ve = pos;
		for (ts = vs; ts < ve && ref_fws(s[ts]); ts++)
			;
		for (te = ve; te > ts && ref_fws(s[te - 1]); te--)
			;
		for (size_t i = 0; i < n; i++) {
			if (strlen(tags[i].name) == name_end - name_start &&
			    memcmp(tags[i].name, s + name_start,
				   name_end - name_start) == 0) {
				*error_r = "duplicate tag";
				return -1;
			}
		}
		if (n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		assert_true(name_end - name_start < 256 && te - ts < 256);
		memcpy(tags[n].name, s + name_start, name_end - name_start);
		tags[n].name[name_end - name_start] = '\0';
		memcpy(tags[n].value, s + ts, te - ts);
		tags[n].value[te - ts] = '\0';
		tags[n].vs = vs;
		tags[n].ve = ve;
		n++;
		if (pos < len)
			pos++;
	}
	*n_r = n;
	return 0;
}

static void
test_tags_same_as_before(void **state)
{
	/* mostly well-formed pieces, with the odd octet that is not */
	static const char *const pieces[] = {
		"a", "bh", "x_1", "=", "=", ";", ";", " ", "\t", "\r\n ",
		"rsa-sha256", "AB+/=", "1", "v", "v", "\x80", "\x01", ":",
		"9", "_",
	};
	static struct ref_tag ref[DKIM_TAGS_MAX];
	uint32_t seed = 14;
	unsigned parsed = 0, refused = 0;

	(void)state;
	for (int round = 0; round < 200000; round++) {
		char in[300];
		size_t len = 0, n_ref = 0;
		struct dkim_tag_list l;
		const char *err = NULL, *err_ref = NULL;
		int rc, rc_ref;
		size_t pieces_n;

		seed = seed * 1103515245u + 12345u;
		pieces_n = (seed >> 16) % 40;
		for (size_t k = 0; k < pieces_n; k++) {
			const char *p;

			char tag[16];

			seed = seed * 1103515245u + 12345u;
			/* a well-formed tag most of the time, its name of
			 * two letters (a duplicate now and then) */
			if ((seed >> 8) % 8 != 0) {
				snprintf(tag, sizeof(tag), "%c%c=%s;%s",
					 'a' + (seed >> 12) % 26,
					 'a' + (seed >> 20) % 26,
					 (seed >> 4) % 2 ? "x" : " a b ",
					 (seed >> 6) % 2 ? " " : "");
				p = tag;
			} else {
				p = pieces[(seed >> 16) %
					   (sizeof(pieces) / sizeof(pieces[0]))];
			}
			if (len + strlen(p) >= sizeof(in))
				break;
			memcpy(in + len, p, strlen(p));
			len += strlen(p);
		}
		if (round % 1000 == 0) {
			/* many tags: around DKIM_TAGS_MAX */
			len = 0;
			for (int t = 0; t < DKIM_TAGS_MAX - 1 + round / 1000 % 3;
			     t++)
				len += (size_t)snprintf(in + len,
							sizeof(in) - len,
							"%c%c=;", 'a' + t % 26,
							'a' + t / 26);
		}
		rc = dkim_tags_parse(in, len, &l, &err);
		rc_ref = ref_tags_parse(in, len, ref, &n_ref, &err_ref);
		assert_int_equal(rc, rc_ref);
		if (rc < 0) {
			assert_string_equal(err, err_ref);
			assert_int_equal(l.n, 0);
			refused++;
			continue;
		}
		parsed++;
		assert_int_equal(l.n, n_ref);
		for (size_t i = 0; i < n_ref; i++) {
			assert_string_equal(l.tags[i].name, ref[i].name);
			assert_string_equal(l.tags[i].value, ref[i].value);
			assert_int_equal(l.tags[i].value_start, ref[i].vs);
			assert_int_equal(l.tags[i].value_end, ref[i].ve);
		}
		dkim_tags_deinit(&l);
	}
	/* both outcomes well exercised */
	assert_true(parsed > 20000 && refused > 20000);
}

/* h= as read before its names moved into one block with the array: the
 * same names (lower-cased, in order) or the same refusal. */
static int
ref_header_list(const char *v, char names[][400], size_t *n_r)
{
	bool from = false;
	const char *p = v;
	size_t n = 0;

	for (;;) {
		const char *start, *end;

		while (ref_fws(*p))
			p++;
		start = p;
		while (*p != '\0' && *p != ':' && !ref_fws(*p)) {
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				return -1;
			p++;
		}
		end = p;
		if (end == start)
			return -1;
		while (ref_fws(*p))
			p++;
		assert_true(end - start < 400);
		for (size_t i = 0; i < (size_t)(end - start); i++)
			names[n][i] = (char)(start[i] >= 'A' && start[i] <= 'Z'
					     ? start[i] - 'A' + 'a' : start[i]);
		names[n][end - start] = '\0';
		if (strcmp(names[n], "from") == 0)
			from = true;
		n++;
		if (*p == '\0')
			break;
		if (*p != ':')
			return -1;
		p++;
	}
	*n_r = n;
	return from ? 0 : -2;
}

static void
test_header_list_same_as_before(void **state)
{
	static const char *const pieces[] = {
		"From", "from", "To", "subject", ":", ":", " ", "\t", "\r\n ",
		"X-A_b.c", "", "Date", "message-id", "fROM",
	};
	static char names[200][400];
	uint32_t seed = 8;
	unsigned parsed = 0, refused = 0;

	(void)state;
	for (int round = 0; round < 100000; round++) {
		char h[400], value[600];
		size_t len = 0, n_ref = 0, pieces_n;
		struct dkim_signature sig;
		const char *err = NULL;
		int rc, rc_ref;

		seed = seed * 1103515245u + 12345u;
		pieces_n = (seed >> 16) % 30;
		for (size_t k = 0; k < pieces_n; k++) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			/* mostly "name:" with From among them, now and then
			 * an odd piece */
			if (k == 0 && (seed >> 4) % 4 != 0)
				p = (seed >> 6) % 2 ? "From:" : " fROM :";
			else if ((seed >> 8) % 6 != 0)
				p = (seed >> 20) % 2 ? "to:" : "Subject : ";
			else
				p = pieces[(seed >> 16) %
					   (sizeof(pieces) / sizeof(pieces[0]))];
			if (len + strlen(p) >= sizeof(h))
				break;
			memcpy(h + len, p, strlen(p));
			len += strlen(p);
		}
		/* a last name without its colon, most of the time */
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 10) % 4 != 0 && len + 4 < sizeof(h)) {
			memcpy(h + len, "Date", 4);
			len += 4;
		}
		h[len] = '\0';
		snprintf(value, sizeof(value), "v=1; a=rsa-sha256; d=e.com; "
			 "s=s; bh=AAAA; b=AAAA; h=%s", h);
		rc = dkim_signature_parse(value, strlen(value), &sig, &err);
		/* the tag value as the parser sees it: FWS around it gone */
		{
			const char *s = h, *e = h + len;

			while (s < e && ref_fws(*s))
				s++;
			while (e > s && ref_fws(e[-1]))
				e--;
			memmove(h, s, (size_t)(e - s));
			h[e - s] = '\0';
		}
		rc_ref = ref_header_list(h, names, &n_ref);
		if (rc_ref == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(sig.n_headers, n_ref);
			for (size_t i = 0; i < n_ref; i++)
				assert_string_equal(sig.headers[i], names[i]);
			dkim_signature_deinit(&sig);
			parsed++;
		} else {
			refused++;
			assert_int_equal(rc, -1);
			assert_string_equal(err, rc_ref == -2
					    ? "From is not signed (h=)"
					    : "bad header list (h=)");
		}
	}
	assert_true(parsed > 10000 && refused > 10000);
}

/* ---- signatures ---- */

#define SIG_OK "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; " \
	       "bh=AAAA; b=AAAA"

static void
test_signature_parse(void **state)
{
	static const struct {
		const char *value, *error;
	} cases[] = {
		{ SIG_OK, NULL },
		{ SIG_OK "; c=relaxed", NULL },
		{ SIG_OK "; c=relaxed/simple; i=@mail.example.com; l=10; "
		  "t=100; x=200; q=dns/txt", NULL },
		{ "v=1; a=rsa-sha1; d=e.com; s=s; h=from; bh=AAAA; b=AAAA",
		  "rsa-sha1 is not accepted (RFC 8301)" },
		{ "v=2; a=rsa-sha256; d=e.com; s=s; h=from; bh=AAAA; b=AAAA",
		  "unknown version (v= is not 1)" },
		{ "v=1; a=rsa-sha256; d=e.com; h=from; bh=AAAA; b=AAAA",
		  "a required tag is missing (v a b bh d h s)" },
		{ "v=1; a=rsa-sha256; d=e.com; s=s; h=to:subject; bh=AAAA; "
		  "b=AAAA", "From is not signed (h=)" },
		{ SIG_OK "; i=@other.com", "i= is not within d=" },
		{ SIG_OK "; i=@notexample.com", "i= is not within d=" },
		{ SIG_OK "; t=200; x=100", "x= is before t=" },
		{ SIG_OK "; c=fancy", "unknown canonicalization (c=)" },
		{ SIG_OK "; l=x", "bad body length (l=)" },
		{ SIG_OK "; q=http", "unknown query method (q=)" },
		{ SIG_OK "; v=1", "duplicate tag" },
		{ "v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=A; b=AAAA",
		  "bad bh= (base64)" },
		{ "v=1; a=rsa-sha256; d=e..com; s=s; h=from; bh=AAAA; b=AAAA",
		  "bad domain (d=)" },
		{ "v=1; a=hmac; d=e.com; s=s; h=from; bh=AAAA; b=AAAA",
		  "unknown algorithm" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dkim_signature sig;
		const char *err = NULL;
		int ret = dkim_signature_parse(cases[i].value,
					       strlen(cases[i].value), &sig,
					       &err);

		if (cases[i].error == NULL) {
			if (ret != 0)
				fail_msg("case %zu: %s", i, err);
			assert_string_equal(sig.domain, "example.com");
			assert_int_equal(sig.n_headers, 2);
			assert_string_equal(sig.headers[1], "to");
		} else {
			assert_int_equal(ret, -1);
			if (strcmp(err, cases[i].error) != 0)
				fail_msg("case %zu: got '%s'", i, err);
		}
		dkim_signature_deinit(&sig);
	}
}

/* ---- keys ---- */

#define RFC8463_ED_KEY "v=DKIM1; k=ed25519; " \
	"p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC8463_RSA_KEY "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCB" \
	"iQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx" \
	"/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvH" \
	"O9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

/* "v=DKIM1; k=rsa; p=" and the SubjectPublicKeyInfo of a new key. */
static char *
rsa_record(unsigned bits, EVP_PKEY **pkey_r)
{
	EVP_PKEY *pkey = EVP_RSA_gen(bits);
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pkey, &der);
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "v=DKIM1; k=rsa; p=");
	base64_encode(der, (size_t)len, &b);
	OPENSSL_free(der);
	if (pkey_r != NULL)
		*pkey_r = pkey;
	else
		EVP_PKEY_free(pkey);
	return steal(&b);
}

static void
test_key_parse(void **state)
{
	static const struct {
		const char *txt, *error;
	} cases[] = {
		{ RFC8463_ED_KEY, NULL },
		{ RFC8463_RSA_KEY, NULL },
		{ "k=rsa; v=DKIM1; p=AAAA", "key record: v= is not DKIM1 or not first" },
		{ "v=DKIM2; p=AAAA", "key record: v= is not DKIM1 or not first" },
		{ "v=DKIM1; h=sha1; p=AAAA", "key record: h= does not allow sha256" },
		{ "v=DKIM1; k=dsa; p=AAAA", "key record: unknown key type (k=)" },
		{ "v=DKIM1; s=web; p=AAAA", "key record: not for email (s=)" },
		{ "v=DKIM1; p=", "key revoked (empty p=)" },
		{ "v=DKIM1; k=rsa", "key record: no p=" },
		{ "v=DKIM1; k=ed25519; p=AAAA", "key record: bad ed25519 key (p=)" },
		{ "v=DKIM1; p=AAA!", "key record: bad p= (base64)" },
		{ "v=DKIM1; p=AAAA; p=AAAA", "duplicate tag" },
	};
	struct dkim_key key;
	const char *err;
	char *rec;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		err = NULL;
		ret = dkim_key_parse(cases[i].txt, strlen(cases[i].txt), &key,
				     &err);
		if (cases[i].error == NULL) {
			if (ret != 0)
				fail_msg("case %zu: %s", i, err);
		} else {
			assert_int_equal(ret, -1);
			if (strcmp(err, cases[i].error) != 0)
				fail_msg("case %zu: got '%s'", i, err);
		}
		dkim_key_deinit(&key);
	}
	/* flags; h= with sha256 among others; s=email */
	rec = xasprintf("%s; t=y:s; h=sha1:sha256; s=email", RFC8463_ED_KEY);
	assert_int_equal(dkim_key_parse(rec, strlen(rec), &key, &err), 0);
	assert_true(key.testing);
	assert_true(key.strict);
	assert_int_equal(key.alg, DKIM_ALG_ED25519_SHA256);
	dkim_key_deinit(&key);
	free(rec);
	assert_int_equal(dkim_key_parse(RFC8463_RSA_KEY,
					strlen(RFC8463_RSA_KEY), &key, &err), 0);
	assert_int_equal(key.bits, 1024);
	assert_false(key.testing);
	dkim_key_deinit(&key);
	/* RFC 8301 3.2: under 1024 bits is refused */
	rec = rsa_record(768, NULL);
	assert_int_equal(dkim_key_parse(rec, strlen(rec), &key, &err), -1);
	assert_string_equal(err, "key too small (RFC 8301: 1024 bits at least)");
	free(rec);
}

/* ---- verification ---- */

/* A TXT answer holding one record (or a status without records). */
static struct dns_result *
txt_result(enum dns_status status, const char *txt)
{
	struct dns_result *r = xcalloc(1, sizeof(*r));

	r->name = xstrdup("x");
	r->canonname = xstrdup("x");
	r->type = DNS_TYPE_TXT;
	r->status = status;
	if (txt != NULL) {
		r->count = 1;
		r->rrs = xcalloc(1, sizeof(*r->rrs));
		r->rrs[0].txt.text = xstrdup(txt);
		r->rrs[0].txt.text_len = strlen(txt);
		r->rrs[0].txt.n_strings = 1;
		r->rrs[0].txt.strings = xcalloc(1, sizeof(char *));
		r->rrs[0].txt.strings[0] = xstrdup(txt);
		r->rrs[0].txt.string_lens = xcalloc(1, sizeof(size_t));
		r->rrs[0].txt.string_lens[0] = strlen(txt);
	}
	return r;
}

struct keyring {
	const char *name[4];
	const char *txt[4];
	enum dns_status status[4];
	size_t n;
};

static size_t
verify_feed(const uint8_t *data, size_t len, void *ctx)
{
	dkim_verifier_feed(ctx, data, len);
	return len;
}

static void verify_into(struct dkim_verifier *v, const char *msg,
			size_t len, unsigned way, const struct keyring *ring);

/* Verifies msg fed in the pieces of way, keys from ring. */
static struct dkim_verifier *
verify_msg(const char *msg, size_t len, unsigned way,
	   const struct keyring *ring, time_t now)
{
	struct dkim_verify_limits lim = {
		.max_signatures = 5, .header_max = 65536, .clock_skew_s = 300,
		.now = now,
	};
	struct dkim_verifier *v = dkim_verifier_new(&lim);

	verify_into(v, msg, len, way, ring);
	return v;
}

/* Feeds msg to v (new or reset) and gives it the keys of ring. */
static void
verify_into(struct dkim_verifier *v, const char *msg, size_t len,
	    unsigned way, const struct keyring *ring)
{
	feed_split(msg, len, way, 0, verify_feed, v);
	dkim_verifier_finish(v);
	for (size_t i = 0; i < dkim_verifier_count(v); i++) {
		const char *name = dkim_verifier_key_name(v, i);
		struct dns_result *r = NULL;

		if (name == NULL)
			continue;
		for (size_t k = 0; k < ring->n; k++) {
			if (strcmp(ring->name[k], name) == 0)
				r = txt_result(ring->status[k], ring->txt[k]);
		}
		if (r == NULL)
			r = txt_result(DNS_NXDOMAIN, NULL);
		dkim_verifier_set_key(v, i, r);
		dns_result_free(&r);
	}
}

/* RFC 8463 appendix A.3: the message both keys of A.2 signed. */
static const char rfc8463_msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static const struct keyring rfc8463_keys = {
	{ "brisbane._domainkey.football.example.com",
	  "test._domainkey.football.example.com" },
	{ RFC8463_ED_KEY, RFC8463_RSA_KEY },
	{ DNS_OK, DNS_OK },
	2,
};

static void
test_rfc8463_example(void **state)
{
	for (unsigned way = 0; way < WAYS; way++) {
		struct dkim_verifier *v = verify_msg(rfc8463_msg,
						     strlen(rfc8463_msg), way,
						     &rfc8463_keys,
						     1528637909 + 86400);
		const struct dkim_verify_result *r;

		assert_int_equal(dkim_verifier_count(v), 2);
		r = dkim_verifier_result(v, 0);
		if (r->result != DKIM_RESULT_PASS)
			fail_msg("way %u ed25519: %s %s", way,
				 dkim_result_name(r->result), r->reason);
		assert_string_equal(r->algorithm, "ed25519-sha256");
		assert_string_equal(r->domain, "football.example.com");
		assert_string_equal(r->selector, "brisbane");
		assert_string_equal(r->header_b, "/gCrinpc");
		assert_int_equal(r->key_bits, 256);
		r = dkim_verifier_result(v, 1);
		if (r->result != DKIM_RESULT_PASS)
			fail_msg("way %u rsa: %s %s", way,
				 dkim_result_name(r->result), r->reason);
		assert_int_equal(r->key_bits, 1024);
		dkim_verifier_free(&v);
	}
}

/* The same message with bare LF line ends (as from a file) passes too. */
static void
test_rfc8463_bare_lf(void **state)
{
	struct buf lf;
	struct dkim_verifier *v;

	buf_init(&lf);
	for (const char *p = rfc8463_msg; *p != '\0'; p++) {
		if (*p != '\r')
			buf_putc(&lf, *p);
	}
	v = verify_msg(lf.data, lf.len, FEED_RANDOM, &rfc8463_keys,
		       1528637909);
	assert_int_equal(dkim_verifier_result(v, 0)->result, DKIM_RESULT_PASS);
	assert_int_equal(dkim_verifier_result(v, 1)->result, DKIM_RESULT_PASS);
	dkim_verifier_free(&v);
	buf_deinit(&lf);
}

static void
expect_results(const char *msg, const struct keyring *ring, time_t now,
	       enum dkim_result r0, const char *reason0,
	       enum dkim_result r1, const char *reason1)
{
	struct dkim_verifier *v = verify_msg(msg, strlen(msg), FEED_WHOLE,
					     ring, now);
	const struct dkim_verify_result *r = dkim_verifier_result(v, 0);

	if (r->result != r0 || (reason0 != NULL &&
				strcmp(r->reason, reason0) != 0))
		fail_msg("sig 0: %s %s", dkim_result_name(r->result),
			 r->reason);
	r = dkim_verifier_result(v, 1);
	if (r->result != r1 || (reason1 != NULL &&
				strcmp(r->reason, reason1) != 0))
		fail_msg("sig 1: %s %s", dkim_result_name(r->result),
			 r->reason);
	dkim_verifier_free(&v);
}

static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);

	assert_non_null(at);
	return xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static void
test_verify_failures(void **state)
{
	struct keyring ring = rfc8463_keys;
	char *m;

	/* a changed body: body hash mismatch */
	m = replace(rfc8463_msg, "hungry yet", "hungry now");
	expect_results(m, &ring, 1528637909, DKIM_RESULT_FAIL,
		       "body hash mismatch", DKIM_RESULT_FAIL,
		       "body hash mismatch");
	free(m);
	/* a changed signed header: signature mismatch */
	m = replace(rfc8463_msg, "Is dinner ready?", "Is lunch ready?");
	expect_results(m, &ring, 1528637909, DKIM_RESULT_FAIL,
		       "signature mismatch", DKIM_RESULT_FAIL,
		       "signature mismatch");
	free(m);
	/* relaxed: white space changes do not matter */
	m = replace(rfc8463_msg, "Subject: Is dinner", "Subject:   Is \t dinner");
	expect_results(m, &ring, 1528637909, DKIM_RESULT_PASS, NULL,
		       DKIM_RESULT_PASS, NULL);
	free(m);
	/* an added From (oversigned in h=): fails */
	m = replace(rfc8463_msg, "From: Joe", "From: Mallory <m@evil.test>\r\nFrom: Joe");
	expect_results(m, &ring, 1528637909, DKIM_RESULT_FAIL,
		       "signature mismatch", DKIM_RESULT_FAIL,
		       "signature mismatch");
	free(m);
	/* DNS: servfail is temperror, nxdomain permerror, t=y neutral */
	ring.status[0] = DNS_SERVFAIL;
	ring.txt[0] = NULL;
	ring.status[1] = DNS_NXDOMAIN;
	ring.txt[1] = NULL;
	expect_results(rfc8463_msg, &ring, 1528637909, DKIM_RESULT_TEMPERROR,
		       "key lookup: servfail", DKIM_RESULT_PERMERROR,
		       "no key (nxdomain)");
	ring = rfc8463_keys;
	ring.txt[0] = RFC8463_ED_KEY "; t=y";
	ring.txt[1] = "v=DKIM1; k=rsa; p=";
	m = replace(rfc8463_msg, "Joe.", "Jim.");
	expect_results(m, &ring, 1528637909, DKIM_RESULT_NEUTRAL, NULL,
		       DKIM_RESULT_PERMERROR, "key revoked (empty p=)");
	free(m);
	/* a key of the other type */
	ring = rfc8463_keys;
	ring.txt[0] = RFC8463_RSA_KEY;
	expect_results(rfc8463_msg, &ring, 1528637909,
		       DKIM_RESULT_PERMERROR, "key type does not match a=",
		       DKIM_RESULT_PASS, NULL);
	/* t= in the future */
	expect_results(rfc8463_msg, &rfc8463_keys, 1528637909 - 3600,
		       DKIM_RESULT_PERMERROR,
		       "signature timestamp in the future (t=)",
		       DKIM_RESULT_PERMERROR,
		       "signature timestamp in the future (t=)");
}

static void
test_verify_limits(void **state)
{
	struct dkim_verify_limits lim = {
		.max_signatures = 1, .header_max = 65536, .now = 1528637909,
	};
	struct dkim_verifier *v = dkim_verifier_new(&lim);
	const struct dkim_verify_result *r;

	dkim_verifier_feed(v, (const uint8_t *)rfc8463_msg,
			   strlen(rfc8463_msg));
	assert_true(dkim_verifier_header_done(v));
	assert_non_null(dkim_verifier_key_name(v, 0));
	/* over the maximum: no lookup, result policy */
	assert_null(dkim_verifier_key_name(v, 1));
	dkim_verifier_finish(v);
	r = dkim_verifier_result(v, 1);
	assert_int_equal(r->result, DKIM_RESULT_POLICY);
	assert_string_equal(r->selector, "test");
	dkim_verifier_free(&v);

	lim.max_signatures = 5;
	lim.header_max = 100;
	v = dkim_verifier_new(&lim);
	dkim_verifier_feed(v, (const uint8_t *)rfc8463_msg,
			   strlen(rfc8463_msg));
	dkim_verifier_finish(v);
	assert_int_equal(dkim_verifier_count(v), 1);
	r = dkim_verifier_result(v, 0);
	assert_int_equal(r->result, DKIM_RESULT_PERMERROR);
	dkim_verifier_free(&v);

	/* no signature at all */
	v = dkim_verifier_new(&lim);
	dkim_verifier_feed(v, (const uint8_t *)"From: a@b\r\n\r\nhi\r\n", 17);
	dkim_verifier_finish(v);
	assert_int_equal(dkim_verifier_count(v), 0);
	dkim_verifier_free(&v);
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* One verifier reset between messages (as a session reuses it for its
 * transactions) says exactly what a new one says about each, whatever
 * the previous message left in it: signatures, failures, a header over
 * header_max, no signature at all. */
static void
test_verifier_reset(void **state)
{
	struct dkim_verify_limits lim = {
		.max_signatures = 5, .header_max = 65536,
		.clock_skew_s = 300, .now = 1528637909,
	};
	struct keyring revoked = rfc8463_keys;
	char *changed = replace(rfc8463_msg, "hungry yet", "hungry now");
	char *big = xasprintf("X-Big: %0*d\r\n%s", 70000, 0, rfc8463_msg);
	const char *msgs[] = {
		rfc8463_msg, changed, "From: a@b\r\n\r\nhi\r\n", big,
		rfc8463_msg, "no header at all", rfc8463_msg, changed,
	};
	const struct keyring *rings[] = {
		&rfc8463_keys, &rfc8463_keys, &rfc8463_keys, &rfc8463_keys,
		&revoked, &rfc8463_keys, &rfc8463_keys, &revoked,
	};
	struct dkim_verifier *reused = dkim_verifier_new(&lim);

	(void)state;
	revoked.txt[1] = "v=DKIM1; k=rsa; p=";
	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		struct dkim_verifier *fresh = dkim_verifier_new(&lim);
		size_t len = strlen(msgs[m]);
		unsigned way = (unsigned)(m % WAYS);

		verify_into(fresh, msgs[m], len, way, rings[m]);
		if (m > 0)
			dkim_verifier_reset(reused, &lim);
		verify_into(reused, msgs[m], len, way, rings[m]);
		assert_int_equal(dkim_verifier_count(reused),
				 dkim_verifier_count(fresh));
		for (size_t i = 0; i < dkim_verifier_count(fresh); i++) {
			const struct dkim_verify_result *a, *b;

			a = dkim_verifier_result(fresh, i);
			b = dkim_verifier_result(reused, i);
			assert_int_equal(a->result, b->result);
			assert_true(same_str(a->reason, b->reason));
			assert_true(same_str(a->domain, b->domain));
			assert_true(same_str(a->selector, b->selector));
			assert_true(same_str(a->header_b, b->header_b));
			assert_int_equal(a->key_bits, b->key_bits);
			assert_int_equal(a->body_len, b->body_len);
		}
		dkim_verifier_free(&fresh);
	}
	assert_int_equal(dkim_verifier_result(reused, 0)->result,
			 DKIM_RESULT_FAIL);
	dkim_verifier_free(&reused);
	free(changed);
	free(big);
}

/* ---- signing ---- */

static const char plain_msg[] =
	"From: Alice <alice@example.test>\r\n"
	"To: bob@example.org\r\n"
	"Subject: round trip\r\n"
	"Date: Mon, 7 Dec 2026 01:00:00 +0000\r\n"
	"Message-ID: <rt@example.test>\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"X-Unsigned: yes\r\n"
	"\r\n"
	"caf=C3=A9 and a soft=\r\n"
	"break  \r\n"
	"\r\n\r\n";

static struct dkim_sign_key *
make_key(EVP_PKEY *pkey, const char *selector, char **record_r)
{
	char path[] = "/tmp/test-dkim-XXXXXX";
	struct dkim_sign_key *key;
	char *err = NULL;
	struct buf rec;
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL,
					      NULL), 1);
	fclose(fp);
	if (dkim_sign_key_load(path, "Example.TEST", selector, &key, &err) < 0)
		fail_msg("%s", err);
	unlink(path);
	buf_init(&rec);
	dkim_sign_key_record(key, &rec);
	*record_r = steal(&rec);
	return key;
}

static size_t
sign_feed(const uint8_t *data, size_t len, void *ctx)
{
	dkim_signer_feed(ctx, data, len);
	return len;
}

static char *
sign_msg(const char *msg, struct dkim_sign_key **keys, size_t n, bool l,
	 unsigned way)
{
	struct dkim_sign_params p = {
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED,
		.now = 1796600000, .body_length = l,
	};
	struct dkim_signer *s = dkim_signer_new(&p);
	const char *err = NULL;
	struct buf out;

	feed_split(msg, strlen(msg), way, 0, sign_feed, s);
	assert_string_equal(dkim_signer_from_domain(s) != NULL ?
			    dkim_signer_from_domain(s) : "(null)",
			    "example.test");
	for (size_t i = 0; i < n; i++)
		dkim_signer_add_key(s, keys[i]);
	buf_init(&out);
	if (dkim_signer_finish(s, &out, &err) < 0)
		fail_msg("%s", err);
	dkim_signer_free(&s);
	buf_puts(&out, msg);
	return steal(&out);
}

static void
test_sign_round_trip(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ed = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	struct dkim_sign_key *keys[2];
	struct keyring ring = { .n = 2 };
	char *rec[2], *signed_msg, *m;

	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &ed), 1);
	EVP_PKEY_CTX_free(ctx);
	keys[0] = make_key(rsa, "r1", &rec[0]);
	keys[1] = make_key(ed, "e1", &rec[1]);
	assert_string_equal(keys[0]->domain, "example.test");
	ring.name[0] = "r1._domainkey.example.test";
	ring.name[1] = "e1._domainkey.example.test";
	ring.txt[0] = rec[0];
	ring.txt[1] = rec[1];
	ring.status[0] = ring.status[1] = DNS_OK;
	for (unsigned way = 0; way < 4; way++) {
		struct dkim_verifier *v;

		signed_msg = sign_msg(plain_msg, keys, 2, false, way);
		assert_non_null(strstr(signed_msg, "h=from:from:subject:subject:"));
		v = verify_msg(signed_msg, strlen(signed_msg), way + 1, &ring,
			       1796600000);
		assert_int_equal(dkim_verifier_count(v), 2);
		for (size_t i = 0; i < 2; i++) {
			const struct dkim_verify_result *r =
				dkim_verifier_result(v, i);

			if (r->result != DKIM_RESULT_PASS)
				fail_msg("way %u sig %zu: %s %s", way, i,
					 dkim_result_name(r->result),
					 r->reason);
		}
		assert_int_equal(dkim_verifier_result(v, 0)->key_bits, 2048);
		dkim_verifier_free(&v);
		/* the unsigned header may change; a signed one may not */
		m = replace(signed_msg, "X-Unsigned: yes", "X-Unsigned: no");
		expect_results(m, &ring, 1796600000, DKIM_RESULT_PASS, NULL,
			       DKIM_RESULT_PASS, NULL);
		free(m);
		m = replace(signed_msg, "To: bob", "To: eve");
		expect_results(m, &ring, 1796600000, DKIM_RESULT_FAIL,
			       "signature mismatch", DKIM_RESULT_FAIL,
			       "signature mismatch");
		free(m);
		/* an added To (oversigned) */
		m = replace(signed_msg, "X-Unsigned", "To: eve@evil.test\r\nX-Unsigned");
		expect_results(m, &ring, 1796600000, DKIM_RESULT_FAIL,
			       "signature mismatch", DKIM_RESULT_FAIL,
			       "signature mismatch");
		free(m);
		m = replace(signed_msg, "caf=C3=A9", "caf=C3=A8");
		expect_results(m, &ring, 1796600000, DKIM_RESULT_FAIL,
			       "body hash mismatch", DKIM_RESULT_FAIL,
			       "body hash mismatch");
		free(m);
		/* text appended to the body breaks it (no l=) */
		m = xasprintf("%sappended\r\n", signed_msg);
		expect_results(m, &ring, 1796600000, DKIM_RESULT_FAIL,
			       "body hash mismatch", DKIM_RESULT_FAIL,
			       "body hash mismatch");
		free(m);
		free(signed_msg);
	}
	/* l=: appended content passes, marked as not covered */
	signed_msg = sign_msg(plain_msg, keys, 2, true, 0);
	m = xasprintf("%sappended by someone\r\n", signed_msg);
	{
		struct dkim_verifier *v = verify_msg(m, strlen(m), 3, &ring,
						     1796600000);
		const struct dkim_verify_result *r = dkim_verifier_result(v, 0);

		assert_int_equal(r->result, DKIM_RESULT_PASS);
		assert_true(r->has_l);
		assert_true(r->body_partial);
		assert_int_equal(r->body_len - r->l, 25);
		assert_string_equal(r->reason,
				    "25 octets of body after l=30 not covered");
		dkim_verifier_free(&v);
	}
	free(m);
	/* without the addition: pass, not partial */
	{
		struct dkim_verifier *v = verify_msg(signed_msg,
						     strlen(signed_msg), 0,
						     &ring, 1796600000);

		assert_int_equal(dkim_verifier_result(v, 1)->result,
				 DKIM_RESULT_PASS);
		assert_false(dkim_verifier_result(v, 1)->body_partial);
		assert_null(dkim_verifier_result(v, 1)->reason);
		dkim_verifier_free(&v);
	}
	free(signed_msg);
	for (int i = 0; i < 2; i++) {
		dkim_sign_key_free(&keys[i]);
		free(rec[i]);
	}
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

/* Verification keeps parsed keys by their record's text: the same
 * record again passes from the cache; another key published under the
 * same name (a rotation, a forgery's key) is parsed afresh and fails;
 * a revoked record is a permerror even after the key was cached; the
 * first record passes again. Ed25519 (checked by libsodium) and RSA. */
static void
test_verify_key_cache(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048);
	EVP_PKEY *ed = NULL, *ed2 = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	struct dkim_sign_key *keys[2], *other[2];
	struct keyring ring = { .n = 2 }, swapped = { .n = 2 },
		       revoked = { .n = 2 };
	char *rec[2], *rec2[2], *signed_msg;

	(void)state;
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &ed), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &ed2), 1);
	EVP_PKEY_CTX_free(ctx);
	keys[0] = make_key(rsa, "r1", &rec[0]);
	keys[1] = make_key(ed, "e1", &rec[1]);
	other[0] = make_key(rsa2, "r1", &rec2[0]);
	other[1] = make_key(ed2, "e1", &rec2[1]);
	ring.name[0] = swapped.name[0] = revoked.name[0] =
		"r1._domainkey.example.test";
	ring.name[1] = swapped.name[1] = revoked.name[1] =
		"e1._domainkey.example.test";
	ring.txt[0] = rec[0];
	ring.txt[1] = rec[1];
	swapped.txt[0] = rec2[0];
	swapped.txt[1] = rec2[1];
	revoked.txt[0] = "v=DKIM1; k=rsa; p=";
	revoked.txt[1] = "v=DKIM1; k=ed25519; p=";
	for (int i = 0; i < 2; i++)
		ring.status[i] = swapped.status[i] = revoked.status[i] =
			DNS_OK;
	signed_msg = sign_msg(plain_msg, keys, 2, false, 0);
	for (int round = 0; round < 2; round++) {
		expect_results(signed_msg, &ring, 1796600000, DKIM_RESULT_PASS,
			       NULL, DKIM_RESULT_PASS, NULL);
		expect_results(signed_msg, &ring, 1796600000, DKIM_RESULT_PASS,
			       NULL, DKIM_RESULT_PASS, NULL);
		expect_results(signed_msg, &swapped, 1796600000,
			       DKIM_RESULT_FAIL, "signature mismatch",
			       DKIM_RESULT_FAIL, "signature mismatch");
		expect_results(signed_msg, &revoked, 1796600000,
			       DKIM_RESULT_PERMERROR, "key revoked (empty p=)",
			       DKIM_RESULT_PERMERROR,
			       "key revoked (empty p=)");
	}
	free(signed_msg);
	for (int i = 0; i < 2; i++) {
		dkim_sign_key_free(&keys[i]);
		dkim_sign_key_free(&other[i]);
		free(rec[i]);
		free(rec2[i]);
	}
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ed2);
}

/* Empty bodies (stalwart #437, mail-auth #22) with both canonicalizations,
 * and a message that has no body separator at all. */
static void
test_sign_empty_body(void **state)
{
	static const char *const msgs[] = {
		"From: a@example.test\r\nSubject: e\r\n\r\n",
		"From: a@example.test\r\nSubject: e\r\n",
		"From: a@example.test\r\nSubject: e\r\n\r\n\r\n\r\n",
	};
	EVP_PKEY *ed = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	struct dkim_sign_key *key;
	struct keyring ring = { .n = 1 };
	char *rec;

	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &ed), 1);
	EVP_PKEY_CTX_free(ctx);
	key = make_key(ed, "e", &rec);
	ring.name[0] = "e._domainkey.example.test";
	ring.txt[0] = rec;
	ring.status[0] = DNS_OK;
	for (size_t i = 0; i < 3; i++) {
		for (int c = 0; c < 2; c++) {
			struct dkim_sign_params p = {
				.hcanon = c ? DKIM_CANON_RELAXED :
					  DKIM_CANON_SIMPLE,
				.bcanon = c ? DKIM_CANON_RELAXED :
					  DKIM_CANON_SIMPLE,
				.now = 1796600000,
			};
			struct dkim_signer *s = dkim_signer_new(&p);
			struct dkim_verifier *v;
			const char *err;
			char *unfolded;
			struct buf out;

			dkim_signer_add_key(s, key);
			dkim_signer_feed(s, (const uint8_t *)msgs[i],
					 strlen(msgs[i]));
			buf_init(&out);
			assert_int_equal(dkim_signer_finish(s, &out, &err), 0);
			/* the empty-body hashes of RFC 6376 3.4.3/3.4.4 */
			unfolded = replace(out.data, "bh=", "bh=");
			for (char *r = unfolded, *w = unfolded;; r++) {
				if (*r == '\r' || *r == '\n' || *r == '\t')
					continue;
				*w++ = *r;
				if (*r == '\0')
					break;
			}
			assert_non_null(strstr(unfolded, c ?
				"bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" :
				"bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="));
			free(unfolded);
			buf_puts(&out, msgs[i]);
			v = verify_msg(out.data, out.len, FEED_OCTETS, &ring,
				       1796600000);
			assert_int_equal(dkim_verifier_result(v, 0)->result,
					 DKIM_RESULT_PASS);
			dkim_verifier_free(&v);
			dkim_signer_free(&s);
			buf_deinit(&out);
		}
	}
	dkim_sign_key_free(&key);
	free(rec);
	EVP_PKEY_free(ed);
}

/* Keys are cached per file: a key written over the old file (keygen's
 * write and rename, or a copy in place) is read again. */
static void
test_key_cache_sees_a_new_file(void **state)
{
	char dir[] = "/tmp/test-dkim-cache-XXXXXX", *path, *tmp, *err = NULL;
	char *rec1, *rec2, *rec3;
	struct dkim_sign_key *key;
	struct buf rec;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/k.key", dir);
	tmp = xasprintf("%s/k.tmp", dir);
	for (int round = 0; round < 3; round++) {
		EVP_PKEY *pkey = NULL;
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);

		assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
		assert_int_equal(EVP_PKEY_keygen(ctx, &pkey), 1);
		EVP_PKEY_CTX_free(ctx);
		/* round 1 renames over, round 2 rewrites in place */
		fp = fopen(round == 2 ? path : tmp, "w");
		assert_non_null(fp);
		PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
		fclose(fp);
		EVP_PKEY_free(pkey);
		if (round < 2)
			assert_int_equal(rename(tmp, path), 0);
		if (round == 2) {
			/* same inode and size: the mtime tells */
			struct timespec ts[2] = { { 0, UTIME_OMIT },
						  { 1000000000, 0 } };

			assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
		}
		assert_int_equal(dkim_sign_key_load(path, "x.test", "k", &key,
						    &err), 0);
		/* twice: the second from the cache, the same key */
		buf_init(&rec);
		dkim_sign_key_record(key, &rec);
		dkim_sign_key_free(&key);
		assert_int_equal(dkim_sign_key_load(path, "x.test", "k", &key,
						    &err), 0);
		{
			struct buf again;

			buf_init(&again);
			dkim_sign_key_record(key, &again);
			assert_string_equal(again.data, rec.data);
			buf_deinit(&again);
		}
		dkim_sign_key_free(&key);
		if (round == 0)
			rec1 = steal(&rec);
		else if (round == 1)
			rec2 = steal(&rec);
		else
			rec3 = steal(&rec);
	}
	assert_string_not_equal(rec1, rec2);
	assert_string_not_equal(rec2, rec3);
	unlink(path);
	rmdir(dir);
	free(rec1);
	free(rec2);
	free(rec3);
	free(path);
	free(tmp);
}

static bool
no_key_cb(const char *from_domain, void *ctx)
{
	*(const char **)ctx = from_domain != NULL ? "x.test" : "none";
	return false;
}

static void
test_sign_refuses(void **state)
{
	struct dkim_signer *s = dkim_signer_new(NULL);
	const char *err = NULL;
	struct buf out;

	buf_init(&out);
	dkim_signer_feed(s, (const uint8_t *)"Subject: x\r\n\r\nbody\r\n", 20);
	assert_int_equal(dkim_signer_finish(s, &out, &err), -1);
	assert_string_equal(err, "no From field");
	assert_null(dkim_signer_from_domain(s));
	dkim_signer_free(&s);
	/* the header's end is known as soon as its empty line is fed,
	 * with the From domain (the server drops a signer without keys
	 * then, before the body) */
	s = dkim_signer_new(NULL);
	dkim_signer_feed(s, (const uint8_t *)"From: a@x.test\r\n", 16);
	assert_false(dkim_signer_header_done(s));
	assert_null(dkim_signer_from_domain(s));
	dkim_signer_feed(s, (const uint8_t *)"\r\nbo", 4);
	assert_true(dkim_signer_header_done(s));
	assert_string_equal(dkim_signer_from_domain(s), "x.test");
	assert_false(dkim_signer_refused_at_header(s));	/* no callback */
	dkim_signer_free(&s);
	/* header_cb says no key: the body is skipped and finish fails */
	{
		struct dkim_sign_params p = {
			.header_cb = no_key_cb, .header_ctx = &err,
		};

		s = dkim_signer_new(&p);
		dkim_signer_feed(s, (const uint8_t *)"From: a@x.test\r\n", 16);
		assert_false(dkim_signer_refused_at_header(s));
		dkim_signer_feed(s, (const uint8_t *)"\r\nbody\r\n", 8);
		assert_true(dkim_signer_refused_at_header(s));
		assert_string_equal(err, "x.test");
		assert_int_equal(dkim_signer_finish(s, &out, &err), -1);
		assert_string_equal(err, "no key when the header ended");
		dkim_signer_free(&s);
	}
	s = dkim_signer_new(NULL);
	dkim_signer_feed(s, (const uint8_t *)"From: a@x.test\r\nFrom: b@y.test\r\n\r\n", 34);
	assert_int_equal(dkim_signer_finish(s, &out, &err), -1);
	assert_string_equal(err, "several From fields");
	dkim_signer_free(&s);
	/* a message that is all header: its From is known at the end */
	s = dkim_signer_new(NULL);
	dkim_signer_feed(s, (const uint8_t *)"From: A <a@X.test>", 18);
	assert_null(dkim_signer_from_domain(s));
	dkim_signer_end_input(s);
	assert_string_equal(dkim_signer_from_domain(s), "x.test");
	dkim_signer_free(&s);
	buf_deinit(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_canon),
		cmocka_unit_test(test_body_canon_large),
		cmocka_unit_test(test_body_canon_random),
		cmocka_unit_test(test_header_canon),
		cmocka_unit_test(test_tags_valid),
		cmocka_unit_test(test_tags_invalid),
		cmocka_unit_test(test_tags_limit),
		cmocka_unit_test(test_tags_same_as_before),
		cmocka_unit_test(test_header_list_same_as_before),
		cmocka_unit_test(test_signature_parse),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_rfc8463_example),
		cmocka_unit_test(test_rfc8463_bare_lf),
		cmocka_unit_test(test_verify_failures),
		cmocka_unit_test(test_verify_limits),
		cmocka_unit_test(test_verifier_reset),
		cmocka_unit_test(test_sign_round_trip),
		cmocka_unit_test(test_verify_key_cache),
		cmocka_unit_test(test_sign_empty_body),
		cmocka_unit_test(test_sign_refuses),
		cmocka_unit_test(test_key_cache_sees_a_new_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
