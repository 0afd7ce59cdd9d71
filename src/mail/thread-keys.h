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

/* What one message is threaded by (docs/limits.md "Threading at
 * delivery"; the [store] thread_* settings, src/store/store-settings.c):
 * each referenced id is one indexed lookup and at most one insert on the
 * delivery path, and the header is read into memory per delivery. A
 * change applies to messages stored after it: ids and subjects already
 * mapped stay as they were cut. */
struct mail_thread_limits {
	/* most referenced ids kept: In-Reply-To's first id, then the last
	 * References */
	size_t refs_max;
	/* longest msg-id kept (octets, without brackets); a longer one is
	 * ignored for threading */
	size_t msgid_max;
	/* octets of the base subject compared (a longer one is cut) */
	size_t subject_max;
	/* octets of the message (header first) read for the keys */
	size_t header_max;
};

#define MAIL_THREAD_REFS_MAX_DEFAULT 20
#define MAIL_THREAD_MSGID_MAX_DEFAULT 250
#define MAIL_THREAD_SUBJECT_MAX_DEFAULT 256
#define MAIL_THREAD_HEADER_MAX_DEFAULT (64u * 1024)

/* The defaults above, for callers without a store (fuzzers, tools). */
extern const struct mail_thread_limits mail_thread_limits_default;

struct mail_thread_keys {
	char *message_id;	/* without brackets, or NULL */
	/* n_refs distinct ids (at most limits->refs_max), none equal to
	 * message_id; NULL when there are none */
	char **refs;
	size_t n_refs;
	/* the RFC 5256 base subject in i;unicode-casemap form, at most
	 * limits->subject_max octets; "" for none; never NULL once
	 * parsed */
	char *base_subject;
};

/* Reads the keys from msg[0..len) (the message, header first; only the
 * first limits->header_max octets are looked at). keys_r owns what it
 * points to until mail_thread_keys_deinit(). */
void mail_thread_keys_parse(const char *msg, size_t len,
			    const struct mail_thread_limits *limits,
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
