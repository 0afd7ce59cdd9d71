/* SPDX-License-Identifier: MIT */
/*
 * IMAP URLs (RFC 5092) naming one message or a part of it, as CATENATE
 * (RFC 4469) takes them: "imap://[user[;AUTH=x]@]host[:port]/mailbox
 * [;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]" or the same
 * from "/mailbox" on (relative to this server). A pure parser over a byte
 * slice: no I/O, nothing resolved.
 */
#ifndef HERALD_IMAP_IMAP_URL_H
#define HERALD_IMAP_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest URL taken (longer is refused): a mailbox name of
 * [imap] mailbox_name_max (4096 at most) %-encoded three times over,
 * with room for the rest. */
#define IMAP_URL_MAX 16384

struct imap_url {
	/* "imap://" was given: server, user and port below; else the URL
	 * is relative to this server (server NULL) */
	bool absolute;
	char *user;		/* iuserinfo's enc-user, decoded; NULL none */
	char *auth;		/* ;AUTH= mechanism or "*"; NULL none */
	char *host;		/* as written (a name, IPv4 or [IPv6]) */
	uint16_t port;		/* 0: none */
	char *mailbox;		/* decoded octets, NUL-free; never NULL */
	uint32_t uidvalidity;	/* 0: not given */
	uint32_t uid;		/* nz-number */
	char *section;		/* decoded ("1.MIME", "HEADER.FIELDS (To)");
				 * NULL: the whole message */
	bool partial;		/* ;PARTIAL=offset[.length] */
	uint64_t partial_offset;
	uint64_t partial_length;	/* 0: to the end */
	/* ;EXPIRE= / ;URLAUTH= (RFC 4467) were given: Herald has no
	 * URLAUTH, the caller refuses the URL */
	bool urlauth;
};

/*
 * Parses s[0..len) as an IMAP URL of one message (RFC 5092 3, the
 * "imessagepart" form with "/;UID="): scheme and parameter names are
 * case-insensitive, %-escapes are decoded (a %00 or a malformed escape is
 * an error), numbers are decimal without leading zeros beyond 32 bits
 * (64 for PARTIAL), a "?" search URL and a mailbox list URL are errors.
 * Returns 0 with *url_r filled (imap_url_deinit), or -1 with a static
 * *error_r and *url_r empty.
 */
int imap_url_parse(const char *s, size_t len, struct imap_url *url_r,
		   const char **error_r);
void imap_url_deinit(struct imap_url *url);

#endif
