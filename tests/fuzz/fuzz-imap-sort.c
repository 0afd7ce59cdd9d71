/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: SORT and THREAD's parsers (mail/basesubject,
 * imap-sort-keys: Date, msg-ids in References, the record) and the THREAD
 * algorithms over what they give, and the store's thread keys
 * (mail/thread-keys). First octet: 0 base subject, 1 thread keys of the
 * rest, else the rest is up to 64 header sections separated by NUL,
 * threaded both ways.
 * Checks: a base subject has no tab, CR, LF or NUL and no white space at
 * either end; every record reads back with at most IMAP_SORT_REFS_MAX
 * references, each a non-empty id with "@"; each thread-list is balanced
 * and names every message exactly once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/basesubject.h"
#include "mail/thread-keys.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/buf.h"

#define MSGS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_threads(const struct buf *out, size_t n)
{
	int depth = 0;
	unsigned seen[MSGS_MAX + 1] = { 0 };
	const char *p = out->data, *end = out->data + out->len;

	while (p < end) {
		if (*p == '(') {
			depth++;
			p++;
		} else if (*p == ')') {
			if (--depth < 0)
				abort();
			p++;
		} else if (*p == ' ') {
			p++;
		} else if (*p >= '1' && *p <= '9') {
			unsigned v = 0;

			while (p < end && *p >= '0' && *p <= '9')
				v = v * 10 + (unsigned)(*p++ - '0');
			if (v == 0 || v > n || seen[v]++ != 0 || depth == 0)
				abort();
		} else {
			abort();
		}
	}
	if (depth != 0)
		abort();
	for (size_t i = 1; i <= n; i++)
		if (seen[i] != 1)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, recs;
	struct imap_thread_msg msgs[MSGS_MAX];
	struct imap_sort_rec r[MSGS_MAX];
	size_t offs[MSGS_MAX + 1], n = 0;

	if (size < 1)
		return 0;
	buf_init(&out);
	if (data[0] == 0) {
		mail_base_subject((const char *)data + 1, size - 1, &out);
		if (memchr(out.data, '\t', out.len) != NULL ||
		    memchr(out.data, '\r', out.len) != NULL ||
		    memchr(out.data, '\n', out.len) != NULL ||
		    memchr(out.data, '\0', out.len) != NULL ||
		    (out.len > 0 && (out.data[0] == ' ' ||
				     out.data[out.len - 1] == ' ')))
			abort();
		buf_deinit(&out);
		return 0;
	}
	if (data[0] == 1 || (data[0] == 2 && size >= 3)) {
		/* the store's thread keys (mail/thread-keys.h): within
		 * their limits, distinct, and ids with "@"; mode 2 takes
		 * small limits from the next two octets ([store] thread_*
		 * settings) */
		struct mail_thread_limits lim = mail_thread_limits_default;
		struct mail_thread_keys k;
		size_t skip = 1;

		buf_deinit(&out);
		if (data[0] == 2) {
			lim.refs_max = 1 + data[1] % 8;
			lim.msgid_max = 1 + data[2] % 32;
			lim.subject_max = 1 + data[2] / 8;
			lim.header_max = 1 + (size_t)data[1] * 4;
			skip = 3;
		}
		mail_thread_keys_parse((const char *)data + skip, size - skip,
				       &lim, &k);
		if (k.base_subject == NULL ||
		    strlen(k.base_subject) > lim.subject_max ||
		    k.n_refs > lim.refs_max)
			abort();
		if (k.message_id != NULL &&
		    (strchr(k.message_id, '@') == NULL ||
		     strlen(k.message_id) > lim.msgid_max))
			abort();
		for (size_t i = 0; i < k.n_refs; i++) {
			if (strchr(k.refs[i], '@') == NULL ||
			    strlen(k.refs[i]) > lim.msgid_max ||
			    (k.message_id != NULL &&
			     strcmp(k.refs[i], k.message_id) == 0))
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcmp(k.refs[i], k.refs[j]) == 0)
					abort();
		}
		mail_thread_keys_deinit(&k);
		return 0;
	}
	buf_init(&recs);
	for (const uint8_t *p = data + 1, *end = data + size;
	     p <= end && n < MSGS_MAX;) {
		const uint8_t *sep = memchr(p, 0, (size_t)(end - p));
		size_t len = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);

		offs[n++] = recs.len;
		imap_sort_record_build((const char *)p, len, &recs);
		if (sep == NULL)
			break;
		p = sep + 1;
	}
	offs[n] = recs.len;
	for (size_t i = 0; i < n; i++) {
		const char *id;

		if (!imap_sort_record_parse(recs.data + offs[i],
					    offs[i + 1] - offs[i], &r[i]) ||
		    r[i].n_refs > IMAP_SORT_REFS_MAX)
			abort();
		id = r[i].refs;
		for (size_t k = 0; k < r[i].n_refs; k++) {
			if (id[0] == '\0' || strchr(id, '@') == NULL)
				abort();
			id += strlen(id) + 1;
		}
		msgs[i] = (struct imap_thread_msg){
			.num = (uint32_t)i + 1, .seq = (uint32_t)i + 1,
			.sent = r[i].has_date ? r[i].date : (int64_t)i,
			.subject = r[i].subject, .reply = r[i].reply,
			.msgid = r[i].msgid, .refs = r[i].refs,
			.n_refs = r[i].n_refs,
		};
	}
	imap_thread_write(IMAP_THREAD_REFERENCES, msgs, n, &out);
	check_threads(&out, n);
	buf_reset(&out);
	imap_thread_write(IMAP_THREAD_ORDEREDSUBJECT, msgs, n, &out);
	check_threads(&out, n);
	buf_deinit(&recs);
	buf_deinit(&out);
	return 0;
}
