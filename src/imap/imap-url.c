/* SPDX-License-Identifier: MIT */
/*
 * The IMAP URL parser (RFC 5092) for CATENATE's URL parts: the server
 * part of an absolute URL, then mailbox, UIDVALIDITY, UID, SECTION and
 * PARTIAL, with %-escapes decoded. Anything else a URL may say (a search,
 * a mailbox list, URLAUTH) is refused or flagged for the caller.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-url.h"
#include "lib/buf.h"
#include "lib/mem.h"

struct up {
	const char *p;
	const char *end;
};

static bool
take_ci(struct up *u, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(u->end - u->p) < n || strncasecmp(u->p, word, n) != 0)
		return false;
	u->p += n;
	return true;
}

static bool
at_ci(const struct up *u, const char *at, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(u->end - at) >= n && strncasecmp(at, word, n) == 0;
}

/* RFC 5092 bchar less "%": what a mailbox or section may hold besides
 * escapes (unreserved, sub-delims-sh, "&", "=", ":", "@", "/") */
static bool
is_bchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("-._~!$'()*+,&=:@/", c) != NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) (bchars and escapes) into a new string; NULL for a
 * character outside the grammar, a bad escape or an escaped NUL. */
static char *
decode(const char *s, size_t len, bool bchars_only)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				goto bad;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			buf_putc(&b, (char)(hi * 16 + lo));
			i += 2;
			continue;
		}
		if (bchars_only && !is_bchar(s[i]))
			goto bad;
		buf_putc(&b, s[i]);
	}
	return buf_steal(&b);
bad:
	buf_deinit(&b);
	return NULL;
}

/* nz-number (or number when zero_ok) of at most max: no leading zero. */
static bool
take_number(struct up *u, uint64_t max, bool zero_ok, uint64_t *v_r)
{
	uint64_t v = 0;
	const char *start = u->p;

	while (u->p < u->end && *u->p >= '0' && *u->p <= '9') {
		unsigned d = (unsigned)(*u->p - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		u->p++;
	}
	if (u->p == start || (start[0] == '0' && u->p - start > 1))
		return false;
	if (v == 0 && !zero_ok)
		return false;
	*v_r = v;
	return true;
}

/* "imap://" [user [;AUTH=x] "@"] host [":" port], up to the "/". */
static int
parse_server(struct up *u, struct imap_url *url, const char **error_r)
{
	const char *slash = memchr(u->p, '/', (size_t)(u->end - u->p));
	const char *end = slash != NULL ? slash : u->end;
	const char *at = NULL, *h, *colon = NULL;

	*error_r = "Invalid server in IMAP URL";
	for (const char *q = u->p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		const char *semi = memchr(u->p, ';', (size_t)(at - u->p));
		const char *uend = semi != NULL ? semi : at;

		if (uend > u->p) {
			url->user = decode(u->p, (size_t)(uend - u->p), true);
			if (url->user == NULL)
				return -1;
		}
		if (semi != NULL) {
			struct up a = { semi, at };

			if (!take_ci(&a, ";AUTH=") || a.p == at)
				return -1;
			url->auth = decode(a.p, (size_t)(at - a.p), true);
			if (url->auth == NULL)
				return -1;
		} else if (url->user == NULL) {
			return -1;
		}
		h = at + 1;
	} else {
		h = u->p;
	}
	if (h < end && *h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (rb == NULL)
			return -1;
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return -1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
	}
	if ((colon != NULL ? colon : end) == h)
		return -1;
	url->host = xstrndup(h, (size_t)((colon != NULL ? colon : end) - h));
	for (const char *q = url->host; *q != '\0'; q++)
		if (!is_bchar(*q) && *q != '[' && *q != ']' && *q != '%')
			return -1;
	if (colon != NULL) {
		struct up p = { colon + 1, end };
		uint64_t port;

		if (!take_number(&p, 65535, false, &port) || p.p != end)
			return -1;
		url->port = (uint16_t)port;
	}
	u->p = end;
	return 0;
}

/* The text from u->p up to the next ';' (exclusive), or the end. */
static const char *
next_semi(const struct up *u)
{
	const char *q = memchr(u->p, ';', (size_t)(u->end - u->p));

	return q != NULL ? q : u->end;
}

int
imap_url_parse(const char *s, size_t len, struct imap_url *url_r,
	       const char **error_r)
{
	struct up u = { s, s + len };
	struct imap_url *url = url_r;
	const char *semi;
	uint64_t v;

	memset(url, 0, sizeof(*url));
	if (len == 0 || len > IMAP_URL_MAX || memchr(s, '\0', len) != NULL) {
		*error_r = "Invalid IMAP URL";
		goto fail;
	}
	if (take_ci(&u, "imap://")) {
		url->absolute = true;
		if (parse_server(&u, url, error_r) < 0)
			goto fail;
	}
	*error_r = "IMAP URL does not name one message (/mailbox/;UID=n)";
	if (u.p >= u.end || *u.p != '/')
		goto fail;
	u.p++;
	/* enc-mailbox has no ';': it ends at ";UIDVALIDITY=" or at
	 * "/;UID=" (the '/' then is not the mailbox's) */
	semi = next_semi(&u);
	if (semi == u.end)
		goto fail;
	if (at_ci(&u, semi, ";UIDVALIDITY=")) {
		if (semi == u.p)
			goto fail;
		url->mailbox = decode(u.p, (size_t)(semi - u.p), true);
		u.p = semi + strlen(";UIDVALIDITY=");
		if (!take_number(&u, UINT32_MAX, false, &v))
			goto fail;
		url->uidvalidity = (uint32_t)v;
		if (!take_ci(&u, "/;UID="))
			goto fail;
	} else if (at_ci(&u, semi, ";UID=") && semi - u.p >= 2 &&
		   semi[-1] == '/') {
		url->mailbox = decode(u.p, (size_t)(semi - 1 - u.p), true);
		u.p = semi + strlen(";UID=");
	} else {
		goto fail;
	}
	if (url->mailbox == NULL || url->mailbox[0] == '\0') {
		*error_r = "Invalid mailbox name in IMAP URL";
		goto fail;
	}
	if (!take_number(&u, UINT32_MAX, false, &v))
		goto fail;
	url->uid = (uint32_t)v;
	if (take_ci(&u, "/;SECTION=")) {
		const char *end = next_semi(&u);

		/* the section ends before "/;PARTIAL=" or ";URLAUTH=" */
		if (end < u.end && end > u.p && end[-1] == '/' &&
		    at_ci(&u, end, ";PARTIAL="))
			end--;
		if (end == u.p)
			goto fail;
		url->section = decode(u.p, (size_t)(end - u.p), true);
		if (url->section == NULL) {
			*error_r = "Invalid section in IMAP URL";
			goto fail;
		}
		u.p = end;
	}
	if (take_ci(&u, "/;PARTIAL=")) {
		if (!take_number(&u, UINT64_MAX, true, &url->partial_offset))
			goto fail;
		if (u.p < u.end && *u.p == '.') {
			u.p++;
			if (!take_number(&u, UINT64_MAX, false,
					 &url->partial_length))
				goto fail;
		}
		url->partial = true;
	}
	/* RFC 4467: an authorized URL; the rest is its mechanism and
	 * verifier, not parsed here */
	if (at_ci(&u, u.p, ";EXPIRE=") || at_ci(&u, u.p, ";URLAUTH=")) {
		url->urlauth = true;
		u.p = u.end;
	}
	if (u.p != u.end)
		goto fail;
	return 0;
fail:
	imap_url_deinit(url);
	return -1;
}

void
imap_url_deinit(struct imap_url *url)
{
	free(url->user);
	free(url->auth);
	free(url->host);
	free(url->mailbox);
	free(url->section);
	memset(url, 0, sizeof(*url));
}
