/* SPDX-License-Identifier: MIT */
/*
 * SORT (RFC 5256 3, SORT=DISPLAY RFC 5957): the sort criteria, the keys
 * of one message (a compact record computed once per message body from
 * the header fields the MIME structure cache keeps, and kept in the
 * worker's FETCH cache), and the ordering. THREAD (imap-thread.h) reads
 * the same record.
 */
#ifndef HERALD_IMAP_SORT_H
#define HERALD_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"

/* The record's key in the worker's FETCH cache (imap_fetch_cache_put):
 * FETCH's keys are an item kind with write flags above bit 8, far below
 * this. Change the low bits when the record's layout changes. */
#define IMAP_SORT_CACHE_KEY 0x5a000001u

/* References kept per message: the last ones, as the last reference is
 * the parent (RFC 5256 REFERENCES step 1) and a MUA that shortens the
 * field keeps the last ones too (RFC 5322 3.6.4). */
#define IMAP_SORT_REFS_MAX 256

/* A message's keys as read back from its record (pointers into it). */
struct imap_sort_rec {
	bool has_date;		/* a Date field that parsed */
	bool reply;		/* the subject marks a reply or forward */
	int64_t date;		/* its UTC time, unix seconds */
	/* i;unicode-casemap forms (lib/unicasemap), "" when absent */
	const char *subject;		/* base subject (RFC 5256 2.1) */
	const char *from, *to, *cc;	/* addr-mailbox of the first address */
	const char *display_from;	/* RFC 5957 display names */
	const char *display_to;
	/* case-sensitive ids without "<>": Message-ID, NULL when there is
	 * no valid one; refs: n_refs NUL-terminated ids one after the
	 * other, from References, or else In-Reply-To's first */
	const char *msgid;
	const char *refs;
	size_t n_refs;
};

/*
 * Appends the record of the message whose header section (or the
 * envelope header of mail/mime-cache.h, "Name:value" CRLF lines) is
 * hdr[0..len) to out. The first Date, Subject, From, To, Cc, Message-ID,
 * In-Reply-To and References fields count. Linear in len.
 */
void imap_sort_record_build(const char *hdr, size_t len, struct buf *out);

/* Reads a record made by imap_sort_record_build() into *rec_r (pointing
 * into data, which must outlive it). false when it is not one. */
bool imap_sort_record_parse(const char *data, size_t len,
			    struct imap_sort_rec *rec_r);

/* The UTC time of an RFC 5322 Date field value (obsolete forms and
 * comments read; a zone that is missing or unknown is UTC, RFC 5256
 * 2.2). Returns 0 with *t_r, or -1 when it is not a date. */
int imap_sort_date_parse(const char *v, size_t len, int64_t *t_r);

/* The next valid msg-id ("<left@right>") at or after *pos in
 * v[0..len), skipping comments and other text: true with the id without
 * its brackets in *id_r / *id_len_r and *pos after it, false at the end. */
bool imap_sort_msgid_next(const char *v, size_t len, size_t *pos,
			  const char **id_r, size_t *id_len_r);

/* ---- criteria and ordering ---- */

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,
	IMAP_SORT_DISPLAYTO,
};

/* More criteria than keys would only repeat one (which decides
 * nothing more). */
#define IMAP_SORT_CRITERIA_MAX 32

struct imap_sort_program {
	struct {
		enum imap_sort_key key;
		bool reverse;
	} c[IMAP_SORT_CRITERIA_MAX];
	size_t n;
	bool needs_records;	/* some key reads the header fields */
};

/* Parses the parenthesised sort-criteria list (RFC 5256 4 with RFC 5957
 * 4's DISPLAYFROM and DISPLAYTO). Returns 0, or -1 with a static
 * *error_r (answer BAD). */
int imap_sort_criteria_parse(const struct imap_arg *list,
			     struct imap_sort_program *prog_r,
			     const char **error_r);

/* One message to order. */
struct imap_sort_msg {
	uint32_t seq;
	uint32_t uid;
	int64_t internal_date;
	uint64_t size;
	struct imap_sort_rec rec;	/* zeroed when not needed */
};

/* The sent date of RFC 5256 2.2: the Date field's UTC time, or the
 * internal date when there is none that parses. */
int64_t imap_sort_sent_date(const struct imap_sort_msg *m);

/* Orders msgs[0..n) by prog, ties by sequence number (RFC 5256 3).
 * Stable, O(n log n), any thread. */
void imap_sort_messages(struct imap_sort_msg *msgs, size_t n,
			const struct imap_sort_program *prog);

#endif
