/* SPDX-License-Identifier: MIT */
/*
 * Who an authenticated user may send as ([smtp] sender_check): the
 * envelope sender, and the From: and Sender: header fields as a mail
 * client shows them. Mail policy, not SMTP: submission uses it today,
 * JMAP and the queue will. Blocking (alias lookups): thread pool only.
 */
#ifndef HERALD_DELIVERY_SENDER_POLICY_H
#define HERALD_DELIVERY_SENDER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "store/store.h"

/* Most addresses in one From: or Sender: field: more is refused (a
 * header with more is odd already, and each may cost a lookup). */
#define SENDER_POLICY_MAX_ADDRESSES 32

enum sender_policy_verdict {
	SENDER_POLICY_OK,
	SENDER_POLICY_REFUSED,	/* 553 5.7.1 */
	/* the directory could not be read: 451 4.3.0, never 553 */
	SENDER_POLICY_TEMP,
};

/* Whether address may be used as a sender by the account account_id
 * (whose canonical address is auth_user) under check_mode: OFF
 * (anything), OWN (auth_user itself or with a +tag, ASCII
 * case-insensitive) or ALIASES (also an address that resolves to the
 * account, a catch-all included). A NULL or empty
 * address or a NULL auth_user is refused. */
enum sender_policy_verdict
sender_policy_allowed(struct store *store,
		      enum config_sender_check check_mode,
		      const char *auth_user, int64_t account_id,
		      const char *address);

struct sender_policy_result {
	enum sender_policy_verdict verdict;
	/* REFUSED: the field at fault ("From", "Sender"; static) and what
	 * is wrong with it, for the reply and the log ("address not owned
	 * by the authenticated user", "cannot be parsed: missing '>'"). */
	const char *field;
	char *reason;
	/* REFUSED: the address at fault as the client wrote it (decoded),
	 * or NULL when the field could not be read. */
	char *address;
};

/* Checks every From: and Sender: field of the header section of
 * msg[0..len) the way a mail client reads them: field names in any case
 * and with white space before the colon, any number of fields, groups,
 * comments, quoted strings, RFC 2047 encoded words decoded. Each
 * address must pass sender_policy_allowed(), and so must anything in a
 * display name or comment that reads as an address ("bob@example.org"
 * <alice@...>, also with a fullwidth at sign or hidden by bidi and
 * zero-width characters). A field that cannot be read unambiguously is
 * refused: a syntax error, an encoded word that does not decode, an
 * obsolete source route, no address at all, more than
 * SENDER_POLICY_MAX_ADDRESSES, a From or Sender line without a colon
 * or with octets outside ftext around its name ("From\v:", a reader's
 * trim() takes it for From).
 * No field at all is OK. Release *result_r with
 * sender_policy_result_deinit(). */
void sender_policy_check_header(struct store *store,
				enum config_sender_check check_mode,
				const char *auth_user, int64_t account_id,
				const char *msg, size_t len,
				struct sender_policy_result *result_r);
void sender_policy_result_deinit(struct sender_policy_result *result);

#endif
