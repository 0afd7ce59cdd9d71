/* SPDX-License-Identifier: MIT */
/*
 * The base subject of RFC 5256 2.1, which SORT SUBJECT orders by and
 * THREAD groups by: the Subject field with RFC 2047 encoded words decoded
 * to UTF-8, white space collapsed, and the reply and forward artifacts
 * ("Re:", "Fwd[list]:", "[list]" prefixes, "(fwd)" trailers, a
 * "[fwd: ...]" wrapper) removed, repeatedly, in the RFC's order.
 */
#ifndef HERALD_MAIL_BASESUBJECT_H
#define HERALD_MAIL_BASESUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Appends the base subject of the raw (undecoded, possibly folded)
 * Subject field value v[0..len) to out. Returns true when the extraction
 * removed a subj-refwd, a "(fwd)" subj-trailer or a subj-fwd-hdr and
 * subj-fwd-trl pair: the message is a reply or forward (RFC 5256 3,
 * THREAD=REFERENCES step 5). Linear in len, whatever the input (a run of
 * "[x]" blobs is not rescanned). An encoded word that does not decode
 * stays as written.
 */
bool mail_base_subject(const char *v, size_t len, struct buf *out);

#endif
