/* SPDX-License-Identifier: MIT */
/*
 * THREAD (RFC 5256 3): the ORDEREDSUBJECT and REFERENCES algorithms over
 * the messages a search selected, written as the thread-list of the
 * THREAD response ("(1)(2 3 (4)(5))"). Pure computation over the keys of
 * imap-sort.h: no I/O, any thread.
 */
#ifndef HERALD_IMAP_THREAD_H
#define HERALD_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum imap_thread_algorithm {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/* One message, with what the algorithms read. */
struct imap_thread_msg {
	uint32_t num;		/* what the response names: seq or UID */
	uint32_t seq;		/* ties between equal dates (RFC 5256 2.2) */
	int64_t sent;		/* the sent date (imap_sort_sent_date) */
	const char *subject;	/* base subject, i;unicode-casemap form */
	bool reply;		/* the subject marks a reply or forward */
	/* REFERENCES: Message-ID without "<>" or NULL; n_refs ids, each
	 * NUL-terminated, one after the other (imap_sort_rec.refs) */
	const char *msgid;
	const char *refs;
	size_t n_refs;
};

/* Reads an algorithm name (any case); false when unknown. */
bool imap_thread_algorithm_parse(const char *name,
				 enum imap_thread_algorithm *algo_r);

/*
 * Appends the threads of msgs[0..n) (in sequence order: duplicate
 * Message-IDs count for the first) to out, each "(...)", nothing for no
 * messages. REFERENCES follows RFC 5256 3 step by step: dummy messages
 * for missing parents, the last reference wins over earlier links,
 * links that would make a loop are not made, a Message-ID seen twice
 * counts for the first message only, dummies pruned, threads with the
 * same base subject gathered, siblings ordered by sent date. Time
 * O(m log m) in the messages and references m, besides the loop checks
 * (each a walk up the tree); memory linear.
 */
void imap_thread_write(enum imap_thread_algorithm algo,
		       const struct imap_thread_msg *msgs, size_t n,
		       struct buf *out);

#endif
