/* SPDX-License-Identifier: MIT */
/*
 * What the store threads a message by (docs/store.md "Threads"): its own
 * Message-ID, the ids it replies to (In-Reply-To and the last References)
 * and its RFC 5256 base subject, read once from the header section at
 * delivery and APPEND.
 */
#ifndef HERALD_MAIL_THREAD_KEYS_H
#define HERALD_MAIL_THREAD_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* Most referenced ids looked up per message (In-Reply-To's first id and
 * the last References; docs/limits.md): each is one indexed lookup and
 * one insert on the delivery path. */
#define MAIL_THREAD_REFS_MAX 20
/* Longest msg-id kept (octets, without brackets); a longer one is
 * ignored for threading. */
#define MAIL_THREAD_MSGID_MAX 250
/* Octets of the base subject compared (a longer one is cut there). */
#define MAIL_THREAD_SUBJECT_MAX 256
/* Octets of the header section read for the keys. */
#define MAIL_THREAD_HEADER_MAX (64u * 1024)

struct mail_thread_keys {
	char *message_id;	/* without brackets, or NULL */
	/* distinct ids, none equal to message_id */
	char *refs[MAIL_THREAD_REFS_MAX];
	size_t n_refs;
	/* the RFC 5256 base subject in i;unicode-casemap form, at most
	 * MAIL_THREAD_SUBJECT_MAX octets; "" for none; never NULL once
	 * parsed */
	char *base_subject;
};

/* Reads the keys from msg[0..len) (the message, header first; only the
 * first MAIL_THREAD_HEADER_MAX octets are looked at). */
void mail_thread_keys_parse(const char *msg, size_t len,
			    struct mail_thread_keys *keys_r);
void mail_thread_keys_deinit(struct mail_thread_keys *keys);

/* Skips folding white space and comments (nested, with quoted-pairs,
 * RFC 5322 CFWS) from *i in v[0..len). */
void mail_skip_cfws(const char *v, size_t len, size_t *i);

/* The next valid msg-id ("<left@right>") at or after *pos in
 * v[0..len), skipping comments and other text: true with the id without
 * its brackets in *id_r / *id_len_r and *pos after it, false at the end. */
bool mail_msgid_next(const char *v, size_t len, size_t *pos,
		     const char **id_r, size_t *id_len_r);

#endif
