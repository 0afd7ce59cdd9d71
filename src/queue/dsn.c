/* SPDX-License-Identifier: MIT */
/*
 * Delivery status notifications: which recipients are reported
 * (NOTIFY), the names used in reports and logs, and handing a report on
 * to the sender. The message itself is built in dsn-build.c.
 */
#include "queue/dsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Whether the comma-separated NOTIFY list has the keyword. */
static bool
notify_has(const char *notify, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = notify;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == wlen && strncasecmp(p, word, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

bool
dsn_notify_wants(const char *notify, enum dsn_action action)
{
	if (notify == NULL || *notify == '\0')
		return action == DSN_ACTION_FAILED ||
		       action == DSN_ACTION_DELAYED;
	if (notify_has(notify, "NEVER"))
		return false;
	switch (action) {
	case DSN_ACTION_FAILED:
		return notify_has(notify, "FAILURE");
	case DSN_ACTION_DELAYED:
		return notify_has(notify, "DELAY");
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
	case DSN_ACTION_EXPANDED:
		return notify_has(notify, "SUCCESS");
	}
	return false;
}

const char *
dsn_action_name(enum dsn_action action)
{
	switch (action) {
	case DSN_ACTION_FAILED:
		return "failed";
	case DSN_ACTION_DELAYED:
		return "delayed";
	case DSN_ACTION_DELIVERED:
		return "delivered";
	case DSN_ACTION_RELAYED:
		return "relayed";
	case DSN_ACTION_EXPANDED:
		return "expanded";
	}
	return "failed";
}

const char *
dsn_result_name(enum dsn_result result)
{
	switch (result) {
	case DSN_DELIVERED:
		return "delivered";
	case DSN_QUEUED:
		return "queued";
	case DSN_NULL_SENDER:
		return "null-sender";
	case DSN_NOT_WANTED:
		return "not-wanted";
	case DSN_SENDER_UNKNOWN:
		return "sender-unknown";
	case DSN_TEMP:
		return "temp";
	}
	return "temp";
}

size_t
dsn_build(const struct dsn_report *rep, const struct dsn_build_settings *set,
	  const uint8_t *orig, size_t orig_len, struct buf *out)
{
	/* filled in by the next commit */
	return 0;
}

enum dsn_result
dsn_send(struct store *store, const struct config *cfg,
	 const struct dsn_report *rep, int64_t *queue_id_r,
	 const char **error_r)
{
	if (queue_id_r != NULL)
		*queue_id_r = 0;
	if (rep->env_from == NULL || rep->env_from[0] == '\0')
		return DSN_NULL_SENDER;
	if (error_r != NULL)
		*error_r = "DSNs are not implemented yet";
	return DSN_TEMP;
}
