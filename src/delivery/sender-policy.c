/* SPDX-License-Identifier: MIT */
/*
 * The sender policy of sender-policy.h. The header check errs towards
 * refusal: what it cannot read the way every client would is not let
 * through, since one client showing a forged sender is enough.
 */
#include "delivery/sender-policy.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/delivery.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/encoded-word.h"
#include "mail/header-address.h"
#include "mail/header-field.h"

static bool
own_with_tag(const char *auth_user, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *plus = strchr(address, '+');
	const char *uat = strrchr(auth_user, '@');

	if (at == NULL || plus == NULL || plus > at || uat == NULL)
		return false;
	size_t base = (size_t)(plus - address);

	return base == (size_t)(uat - auth_user) &&
	       strncasecmp(address, auth_user, base) == 0 &&
	       strcasecmp(at, uat) == 0;
}

enum sender_policy_verdict
sender_policy_allowed(struct store *store,
		      enum config_sender_check check_mode,
		      const char *auth_user, int64_t account_id,
		      const char *address)
{
	if (check_mode == CONFIG_SENDER_CHECK_OFF)
		return SENDER_POLICY_OK;
	if (auth_user == NULL || address == NULL || address[0] == '\0')
		return SENDER_POLICY_REFUSED;
	if (strcasecmp(address, auth_user) == 0 ||
	    own_with_tag(auth_user, address))
		return SENDER_POLICY_OK;
	if (check_mode != CONFIG_SENDER_CHECK_ALIASES)
		return SENDER_POLICY_REFUSED;

	struct delivery_dest *dests = NULL;
	size_t n = 0;
	enum sender_policy_verdict v = SENDER_POLICY_REFUSED;

	switch (delivery_resolve(store, address, &dests, &n, NULL)) {
	case DELIVERY_FOUND:
		for (size_t i = 0; i < n && v != SENDER_POLICY_OK; i++)
			if (dests[i].kind == DELIVERY_LOCAL &&
			    dests[i].account_id == account_id)
				v = SENDER_POLICY_OK;
		break;
	case DELIVERY_TEMP:
		v = SENDER_POLICY_TEMP;
		break;
	default:
		break;
	}
	delivery_dests_free(&dests, n);
	return v;
}

struct sp_check {
	struct store *store;
	enum config_sender_check mode;
	const char *auth_user;
	int64_t account_id;
	struct sender_policy_result *res;
	const char *field;
};

/* Records the first refusal: reason, with ": detail" when not NULL. */
static void
sp_refuse(struct sp_check *c, const char *address, const char *reason,
	  const char *detail)
{
	struct sender_policy_result *r = c->res;

	if (r->verdict == SENDER_POLICY_REFUSED)
		return;		/* the first fault is the one reported */
	r->verdict = SENDER_POLICY_REFUSED;
	r->field = c->field;
	r->reason = detail != NULL ? xasprintf("%s: %s", reason, detail)
				   : xstrdup(reason);
	r->address = address != NULL ? xstrdup(address) : NULL;
}

/* Checks one address (from the field, or read in a display text). */
static void
sp_check_address(struct sp_check *c, const char *address, bool displayed)
{
	enum sender_policy_verdict v;

	if (c->res->verdict == SENDER_POLICY_REFUSED)
		return;
	v = sender_policy_allowed(c->store, c->mode, c->auth_user,
				  c->account_id, address);
	if (v == SENDER_POLICY_TEMP)
		c->res->verdict = SENDER_POLICY_TEMP;
	else if (v == SENDER_POLICY_REFUSED)
		sp_refuse(c, address, displayed
			  ? "display name shows an address not owned by the "
			    "authenticated user"
			  : "address not owned by the authenticated user",
			  NULL);
}

/* Invisible code points a name can hide an address behind: controls,
 * zero-width characters, bidirectional controls (U+202E shows text reversed), the
 * word joiners and U+FEFF. */
static bool
sp_is_invisible(uint32_t cp)
{
	/* controls (an encoded word can hold "=00") show as nothing in
	 * some readers; tab, LF, CR and NEL separate words */
	if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
	    (cp >= 0x7f && cp <= 0x9f && cp != 0x85))
		return true;
	return (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff ||
	       cp == 0x00ad;
}

/* What separates words when a reader looks for an address in a name. */
static bool
sp_is_separator(uint32_t cp)
{
	if (cp < 0x80)
		return cp <= 0x20 || cp == 0x7f || strchr("<>()[],;:\"'",
							  (int)cp) != NULL;
	return cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	       cp == 0x3000 || cp == 0xff1c || cp == 0xff1e;
}

/* Whether a word of a display text reads as an address: "x@y.z", or any
 * '@' with an invisible character in the word (U+202E shows
 * "tset.elpmaxe@bob" as "bob@example.test"). "Alice@Home" does not. */
static bool
sp_word_is_address(const struct buf *word, bool hidden)
{
	const char *at = word->len > 0 ? strchr(word->data, '@') : NULL;

	if (at == NULL)
		return false;
	if (hidden)
		return true;
	return at > word->data && strchr(at + 1, '.') != NULL;
}

/* Looks in a decoded display text for words that read as an address,
 * with the at signs and full stops that look like '@' and '.' taken as
 * them and invisible characters dropped, and checks each. */
static void
sp_check_text(struct sp_check *c, const char *text, size_t len)
{
	const uint8_t *p = (const uint8_t *)text;
	struct buf word;
	bool hidden = false;
	size_t i = 0;

	buf_init(&word);
	for (;;) {
		uint32_t cp = 0;
		size_t n = 1;
		bool end = i >= len;

		if (!end) {
			n = utf8_decode(p + i, len - i, &cp);
			if (n == 0) {
				/* not UTF-8 (a Latin-1 name): taken octet by
				 * octet, none of which reads as '@' */
				cp = 0xfffd;
				n = 1;
			}
		}
		if (!end && sp_is_invisible(cp)) {
			hidden = true;
		} else if (end || sp_is_separator(cp)) {
			if (sp_word_is_address(&word, hidden))
				sp_check_address(c, word.data, true);
			buf_reset(&word);
			hidden = false;
			if (end)
				break;
		} else if (cp == 0xff20 || cp == 0xfe6b) {
			buf_putc(&word, '@');	/* fullwidth, small at */
		} else if (cp == 0x3002 || cp == 0xff0e || cp == 0xff61) {
			buf_putc(&word, '.');	/* IDNA 2003 dots */
		} else {
			buf_append(&word, text + i, n);
		}
		i += n;
	}
	buf_deinit(&word);
}

static void
sp_check_field(struct sp_check *c, const struct header_field *f)
{
	struct header_address_limits lim;
	struct header_address_list list;
	const char *error = NULL;

	header_address_limits_default(&lim);
	lim.max_addresses = SENDER_POLICY_MAX_ADDRESSES;
	if (header_address_list_parse_full(f->value, f->value_len, &lim, true,
					   &list, NULL, &error) < 0) {
		sp_refuse(c, NULL, "cannot be parsed unambiguously", error);
		return;
	}
	if (list.n_addrs == 0)
		sp_refuse(c, NULL, "has no address", NULL);
	else if (list.has_route)
		sp_refuse(c, NULL, "has an obsolete source route", NULL);
	for (size_t i = 0; i < list.n_texts; i++) {
		struct buf dec;

		buf_init(&dec);
		if (encoded_word_decode(list.texts[i], strlen(list.texts[i]),
					&dec, &error) < 0)
			sp_refuse(c, NULL, "display name cannot be decoded",
				  error);
		else
			sp_check_text(c, dec.data != NULL ? dec.data : "",
				      dec.len);
		buf_deinit(&dec);
	}
	for (size_t i = 0; i < list.n_addrs; i++)
		sp_check_address(c, list.addrs[i], false);
	header_address_list_deinit(&list);
	/* A reader that decodes encoded words in the raw field before it
	 * parses it (Roundcube's decode_address_list) shows what an encoded
	 * word spanning a comment or a domain makes:
	 * "=?utf-8?q?(bob=40example.org)?= <alice@...>". */
	if (memmem(f->value, f->value_len, "=?", 2) != NULL) {
		struct buf raw;

		buf_init(&raw);
		encoded_word_decode_lenient(f->value, f->value_len, &raw);
		sp_check_text(c, raw.data != NULL ? raw.data : "", raw.len);
		buf_deinit(&raw);
	}
}

/* Whether a malformed line could be read as From or Sender: "From
 * bob@example.org" (the mbox separator, shown by some readers), or a
 * name with controls, 8-bit octets or spaces around it that a reader
 * trims ("From\v:", "\xa0Sender:"). */
static bool
sp_malformed_is_sender(const struct header_field *f)
{
	const char *name = f->name;
	size_t len = f->name_len;

	while (len > 0 && ((unsigned char)name[0] <= 0x20 ||
			   (unsigned char)name[0] >= 0x7f)) {
		name++;
		len--;
	}
	if (f->value != NULL) {
		/* a name with a colon: what is left once trimmed
		 * ("X-\xc3\xa9t\xc3\xa9" or "From-\xc3\x9c" are no From) */
		while (len > 0 && ((unsigned char)name[len - 1] <= 0x20 ||
				   (unsigned char)name[len - 1] >= 0x7f))
			len--;
		return (len == 4 && strncasecmp(name, "from", 4) == 0) ||
		       (len == 6 && strncasecmp(name, "sender", 6) == 0);
	}
	return (len >= 4 && strncasecmp(name, "from", 4) == 0) ||
	       (len >= 6 && strncasecmp(name, "sender", 6) == 0);
}

void
sender_policy_check_header(struct store *store,
			   enum config_sender_check check_mode,
			   const char *auth_user, int64_t account_id,
			   const char *msg, size_t len,
			   struct sender_policy_result *result_r)
{
	struct sp_check c = {
		.store = store,
		.mode = check_mode,
		.auth_user = auth_user,
		.account_id = account_id,
		.res = result_r,
	};
	struct header_field_iter it;
	struct header_field f;

	memset(result_r, 0, sizeof(*result_r));
	if (check_mode == CONFIG_SENDER_CHECK_OFF)
		return;
	header_field_iter_init(&it, msg, len);
	while (result_r->verdict != SENDER_POLICY_REFUSED &&
	       header_field_next(&it, &f)) {
		if (f.malformed) {
			if (sp_malformed_is_sender(&f)) {
				c.field = "From";
				sp_refuse(&c, NULL, f.value == NULL
					  ? "line has no colon"
					  : "field name is malformed", NULL);
			}
			continue;
		}
		if (header_field_is(&f, "From"))
			c.field = "From";
		else if (header_field_is(&f, "Sender"))
			c.field = "Sender";
		else
			continue;
		sp_check_field(&c, &f);
	}
}

void
sender_policy_result_deinit(struct sender_policy_result *result)
{
	xfree(&result->reason);
	xfree(&result->address);
}
