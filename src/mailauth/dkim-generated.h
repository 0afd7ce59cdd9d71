/* SPDX-License-Identifier: MIT */
/*
 * DKIM signing of the mail Herald makes itself: delivery status
 * notifications (src/queue/dsn.c), DMARC aggregate reports, any other
 * report. One call on a whole message in memory, the keys chosen as for
 * submitted mail. docs/mailauth.md "Signing what Herald makes".
 */
#ifndef HERALD_MAILAUTH_DKIM_GENERATED_H
#define HERALD_MAILAUTH_DKIM_GENERATED_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "lib/buf.h"

/* Signs msg, a message made by Herald (header, empty line, body; CRLF
 * line ends; without the Received field the caller puts on top), and
 * appends one folded DKIM-Signature field per key, each ending in CRLF,
 * to out: the caller puts them before msg's header, after its Received
 * field (as submission does), e.g. out = Received, then this call.
 *
 * Keys: the active keys (RSA first, then Ed25519, as submission) of the
 * domain of msg's From field; when that domain has no key directory in
 * data_dir/dkim, of its nearest parent domain that has one. A DSN is
 * from MAILER-DAEMON@hostname (mx.example.com), which seldom has keys
 * of its own; example.com's signature is aligned with that From under
 * DMARC's relaxed alignment, the default. A report should be from an
 * address of a domain that has keys (postmaster@example.com).
 *
 * Off when [mailauth] dkim_sign is no (returns 0, no log line).
 * Otherwise logs, under log_id, `dkim signed d= s=` or `dkim unsigned
 * [d=] reason="..."` exactly as for submitted mail (docs/logging.md
 * "dkim"); unsigned mail is sent as it is. Returns the number of
 * signatures appended (0: unsigned, out unchanged). Blocking (stats and
 * reads key files; parsed keys are cached per process): call it on the
 * thread pool or from a tool. Thread-safe. */
size_t dkim_sign_generated(const struct config *cfg, const char *log_id,
			   const uint8_t *msg, size_t len, struct buf *out);

#endif
