/* SPDX-License-Identifier: MIT */
/*
 * Whose address may an authenticated user send as ([smtp] sender_check),
 * and the From: header addresses the check also applies to (RFC 5322
 * 3.4, 3.6.2: display names, comments, quoted strings, groups).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "smtp/smtp-server-private.h"

/* Most From: addresses looked at (a From: with more is odd already). */
#define SMTP_FROM_MAX_ADDRS 32

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

enum smtp_sender_verdict
smtp_sender_allowed(struct store *store, const char *check_mode,
		    const char *auth_user, int64_t account_id,
		    const char *address)
{
	if (check_mode == NULL || strcmp(check_mode, "off") == 0)
		return SMTP_SENDER_OK;
	if (auth_user == NULL || address == NULL || address[0] == '\0')
		return SMTP_SENDER_REFUSED;
	if (strcasecmp(address, auth_user) == 0 ||
	    own_with_tag(auth_user, address))
		return SMTP_SENDER_OK;
	if (strcmp(check_mode, "aliases") != 0)
		return SMTP_SENDER_REFUSED;

	struct delivery_dest *dests = NULL;
	size_t n = 0;
	enum smtp_sender_verdict v = SMTP_SENDER_REFUSED;

	switch (delivery_resolve(store, address, &dests, &n, NULL)) {
	case DELIVERY_FOUND:
		for (size_t i = 0; i < n && v != SMTP_SENDER_OK; i++)
			if (dests[i].kind == DELIVERY_LOCAL &&
			    dests[i].account_id == account_id)
				v = SMTP_SENDER_OK;
		break;
	case DELIVERY_TEMP:
		v = SMTP_SENDER_TEMP;
		break;
	default:
		break;
	}
	delivery_dests_free(&dests, n);
	return v;
}

char *
smtp_server_header_from(const char *msg, size_t len)
{
	struct buf v;
	bool found = false;
	size_t i = 0;

	buf_init(&v);
	while (i < len) {
		size_t eol = i;

		while (eol < len && msg[eol] != '\n')
			eol++;
		size_t ll = eol - i;

		if (ll > 0 && msg[i + ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;	/* end of the header section */
		if (ll >= 5 && strncasecmp(msg + i, "From:", 5) == 0) {
			/* every From: field: a second one must not hide a
			 * forged address from the sender check */
			if (found)
				buf_putc(&v, ',');
			found = true;
			buf_append(&v, msg + i + 5, ll - 5);
			i = eol + 1;
			/* unfold continuation lines (RFC 5322 2.2.3) */
			while (i < len && (msg[i] == ' ' || msg[i] == '\t')) {
				eol = i;
				while (eol < len && msg[eol] != '\n')
					eol++;
				ll = eol - i;
				if (ll > 0 && msg[i + ll - 1] == '\r')
					ll--;
				buf_append(&v, msg + i, ll);
				i = eol + 1;
			}
			continue;
		}
		i = eol + 1;
	}
	if (!found) {
		buf_deinit(&v);
		return NULL;
	}
	char *value = buf_steal(&v);

	buf_deinit(&v);
	return value;
}

/* Appends one address (kept only below SMTP_FROM_MAX_ADDRS); counts it
 * in *found either way. */
static void
push_addr(char ***addrs, size_t *count, size_t *found, const char *s,
	  size_t len)
{
	while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || memchr(s, '@', len) == NULL)
		return;
	(*found)++;
	if (*count >= SMTP_FROM_MAX_ADDRS)
		return;
	*addrs = xreallocarray(*addrs, *count + 1, sizeof(**addrs));
	(*addrs)[(*count)++] = xstrndup(s, len);
}

size_t
smtp_server_from_addresses(const char *value, size_t len, char ***addrs_r,
			   size_t *count_r)
{
	struct buf bare, angle;
	bool in_angle = false, have_angle = false;
	size_t found = 0;

	buf_init(&bare);
	buf_init(&angle);
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? value[i] : ',';

		if (in_angle) {
			if (c == '>')
				in_angle = false;
			else
				buf_putc(&angle, c);
			continue;
		}
		switch (c) {
		case '"':
			/* a display name (or a quoted local part, kept) */
			for (i++; i < len && value[i] != '"'; i++) {
				if (value[i] == '\\' && i + 1 < len)
					i++;
			}
			/* unterminated: what it swallowed cannot be checked
			 * (counted as one more, never kept); still end the
			 * address before it */
			if (i >= len) {
				found++;
				i = len - 1;
			}
			break;
		case '(': {
			int depth = 1;

			for (i++; i < len && depth > 0; i++) {
				if (value[i] == '\\' && i + 1 < len)
					i++;
				else if (value[i] == '(')
					depth++;
				else if (value[i] == ')')
					depth--;
			}
			if (depth > 0)
				found++;	/* unterminated, as above */
			i--;
			break;
		}
		case '<':
			in_angle = true;
			have_angle = true;
			buf_reset(&angle);
			break;
		case ':':
			/* a group's display name ends here */
			buf_reset(&bare);
			break;
		case ',':
		case ';':
			if (have_angle)
				push_addr(addrs_r, count_r, &found,
					  angle.data, angle.len);
			else
				push_addr(addrs_r, count_r, &found,
					  bare.data, bare.len);
			buf_reset(&bare);
			buf_reset(&angle);
			have_angle = false;
			break;
		default:
			if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
				buf_putc(&bare, c);
			break;
		}
	}
	buf_deinit(&bare);
	buf_deinit(&angle);
	return found;
}
