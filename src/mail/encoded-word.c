/* SPDX-License-Identifier: MIT */
/*
 * RFC 2047 decoding of header text. The charset conversion is iconv(3)
 * from the C library; an encoded word it cannot convert is an error, not
 * a guess, since the caller decides what a reader would see.
 */
#include "mail/encoded-word.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/hex.h"

/* RFC 2047 2: 75 octets per encoded word; clients accept longer, so
 * this only bounds a charset name. */
#define EW_MAX_CHARSET 64
#define EW_BAD_QP "bad quoted-printable in encoded word"

struct ew {
	const char *charset;
	size_t charset_len;
	char enc;		/* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len;		/* of the whole "=?...?=" */
};

/* Whether s[0..len) starts with an encoded word: "=?" charset "?" B|Q
 * "?" text "?=", no white space or '?' inside the text. */
static bool
ew_match(const char *s, size_t len, struct ew *ew_r)
{
	size_t i = 2, cs, t;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return false;
	cs = i;
	while (i < len && s[i] != '?' && s[i] != ' ' && s[i] != '\t' &&
	       s[i] != '\r' && s[i] != '\n')
		i++;
	if (i == cs || i + 3 >= len || s[i] != '?' || s[i + 2] != '?')
		return false;
	ew_r->charset = s + cs;
	ew_r->charset_len = i - cs;
	ew_r->enc = (char)(s[i + 1] & ~0x20);
	if (ew_r->enc != 'B' && ew_r->enc != 'Q')
		return false;
	t = i + 3;
	for (i = t; i + 1 < len; i++) {
		if (s[i] == '?' && s[i + 1] == '=')
			break;
		if (s[i] == '?' || s[i] == ' ' || s[i] == '\t' ||
		    s[i] == '\r' || s[i] == '\n')
			return false;
	}
	if (i + 1 >= len)
		return false;
	ew_r->text = s + t;
	ew_r->text_len = i - t;
	ew_r->len = i + 2;
	return true;
}

/* The encoded octets of one word, before charset conversion. */
static int
ew_octets(const struct ew *ew, struct buf *out, const char **error_r)
{
	if (ew->enc == 'B') {
		char pad[4] = "===";
		size_t rem = ew->text_len % 4;
		struct buf tmp;
		int ret;

		/* missing padding is common and every client accepts it */
		if (rem == 1) {
			*error_r = "bad base64 in encoded word";
			return -1;
		}
		buf_init(&tmp);
		buf_append(&tmp, ew->text, ew->text_len);
		if (rem != 0)
			buf_append(&tmp, pad, 4 - rem);
		ret = base64_decode(tmp.data, tmp.len, out);
		buf_deinit(&tmp);
		if (ret < 0)
			*error_r = "bad base64 in encoded word";
		return ret;
	}
	for (size_t i = 0; i < ew->text_len; i++) {
		char c = ew->text[i];

		if (c == '_') {
			buf_putc(out, ' ');
		} else if (c == '=') {
			int hi, lo;

			if (i + 2 >= ew->text_len) {
				*error_r = EW_BAD_QP;
				return -1;
			}
			hi = hex_digit_value(ew->text[i + 1]);
			lo = hex_digit_value(ew->text[i + 2]);
			if (hi < 0 || lo < 0) {
				*error_r = EW_BAD_QP;
				return -1;
			}
			buf_putc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_putc(out, c);
		}
	}
	return 0;
}

/* Whether octets in charset can be read in either byte order: UTF-16,
 * UCS-2, UTF-32 and UCS-4 without a BOM are little-endian to iconv,
 * WHATWG and Windows, big-endian to RFC 2781 and Java, so a name that
 * reads as text one way may read as an address the other. */
static bool
ew_byte_order_unknown(const char *charset, const char *octets, size_t len)
{
	static const char *const unmarked[] = {
		"utf-16", "utf16", "ucs-2", "ucs2", "unicode", "utf-32",
		"utf32", "ucs-4", "ucs4", "iso-10646-ucs-2",
		"iso-10646-ucs-4",
	};
	const unsigned char *o = (const unsigned char *)octets;
	bool known = false;

	for (size_t i = 0; i < sizeof(unmarked) / sizeof(unmarked[0]); i++)
		if (strcasecmp(charset, unmarked[i]) == 0)
			known = true;
	if (!known)
		return false;
	if (len >= 2 && ((o[0] == 0xfe && o[1] == 0xff) ||
			 (o[0] == 0xff && o[1] == 0xfe)))
		return false;	/* UTF-32LE's BOM starts FF FE too */
	return !(len >= 4 && o[0] == 0 && o[1] == 0 && o[2] == 0xfe &&
		 o[3] == 0xff);
}

int
encoded_word_charset_convert(const char *charset, const char *octets,
			     size_t len, struct buf *out, const char **error_r)
{
	iconv_t cd;
	char *in = (char *)octets;
	size_t in_left = len;
	int ret = 0;

	if (ew_byte_order_unknown(charset, octets, len)) {
		*error_r = "encoded word in UTF-16 or UTF-32 without a byte "
			   "order mark";
		return -1;
	}
	if (strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0) {
		/* the common case without iconv; invalid UTF-8 stays as it
		 * is, shown as replacement characters, never as ASCII */
		buf_append(out, octets, len);
		return 0;
	}
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1) {
		*error_r = "unknown charset in encoded word";
		return -1;
	}
	while (in_left > 0) {
		char chunk[256];
		char *o = chunk;
		size_t o_left = sizeof(chunk);
		size_t r = iconv(cd, &in, &in_left, &o, &o_left);

		buf_append(out, chunk, sizeof(chunk) - o_left);
		if (r == (size_t)-1 && errno != E2BIG) {
			*error_r = "encoded word not in its charset";
			ret = -1;
			break;
		}
	}
	if (ret == 0) {
		/* a stateful charset (ISO-2022-JP) returns to its initial
		 * state at the end */
		char chunk[64];
		char *o = chunk;
		size_t o_left = sizeof(chunk);

		if (iconv(cd, NULL, NULL, &o, &o_left) == (size_t)-1) {
			*error_r = "encoded word not in its charset";
			ret = -1;
		}
		buf_append(out, chunk, sizeof(chunk) - o_left);
	}
	iconv_close(cd);
	return ret;
}

static int
ew_decode_one(const struct ew *ew, struct buf *out, const char **error_r)
{
	char charset[EW_MAX_CHARSET + 1];
	size_t cs_len = ew->charset_len;
	const char *star = memchr(ew->charset, '*', ew->charset_len);
	struct buf octets;
	int ret;

	/* RFC 2231 5: "charset*language" */
	if (star != NULL)
		cs_len = (size_t)(star - ew->charset);
	if (cs_len == 0 || cs_len > EW_MAX_CHARSET) {
		*error_r = "unknown charset in encoded word";
		return -1;
	}
	memcpy(charset, ew->charset, cs_len);
	charset[cs_len] = '\0';
	buf_init(&octets);
	ret = ew_octets(ew, &octets, error_r);
	if (ret == 0)
		ret = encoded_word_charset_convert(charset, octets.data,
						   octets.len, out, error_r);
	buf_deinit(&octets);
	return ret;
}

static int
ew_decode(const char *s, size_t len, bool lenient, struct buf *out,
	  const char **error_r)
{
	size_t i = 0;
	bool after_word = false;

	while (i < len) {
		struct ew ew;

		if (ew_match(s + i, len - i, &ew)) {
			size_t mark = out->len;

			if (ew_decode_one(&ew, out, error_r) < 0) {
				if (!lenient)
					return -1;
				/* shown as written, as a reader would */
				buf_truncate(out, mark);
				buf_append(out, s + i, ew.len);
			}
			i += ew.len;
			after_word = true;
			continue;
		}
		if (after_word && (s[i] == ' ' || s[i] == '\t' ||
				   s[i] == '\r' || s[i] == '\n')) {
			/* white space between two encoded words is not
			 * shown (RFC 2047 6.2); before other text it is */
			size_t j = i;
			struct ew next;

			while (j < len && (s[j] == ' ' || s[j] == '\t' ||
					   s[j] == '\r' || s[j] == '\n'))
				j++;
			if (j < len && ew_match(s + j, len - j, &next)) {
				i = j;
				continue;
			}
		}
		after_word = false;
		buf_putc(out, s[i]);
		i++;
	}
	return 0;
}

int
encoded_word_decode(const char *s, size_t len, struct buf *out,
		    const char **error_r)
{
	return ew_decode(s, len, false, out, error_r);
}

void
encoded_word_decode_lenient(const char *s, size_t len, struct buf *out)
{
	const char *error;

	(void)ew_decode(s, len, true, out, &error);
}
