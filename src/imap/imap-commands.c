/* SPDX-License-Identifier: MIT */
/*
 * The command table (name, handler, states, flags) and the capability
 * words. One row per command of RFC 9051 / RFC 3501 and the extensions of
 * issue 11; handlers live in imap-cmd-*.c. A capability word is listed
 * only once its feature is complete and tested (clients act on what is
 * advertised).
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-settings.h"
#include "conf/worker.h"
#include "lib/ioev.h"
#include "sasl/sasl.h"

#define ANY IMAP_STATES_ANY
#define NOT_AUTH IMAP_STATES_NOT_AUTH
#define AUTH IMAP_STATES_AUTH
#define LOGGED_IN IMAP_STATES_LOGGED_IN
#define SELECTED IMAP_STATES_SELECTED
#define SEQ IMAP_CMD_FLAG_USES_SEQ
#define UID IMAP_CMD_FLAG_UID
#define WRITES IMAP_CMD_FLAG_WRITES
#define SECRET IMAP_CMD_FLAG_SECRET

/* Sorted by name (bsearch). */
static const struct imap_cmd_def commands[] = {
	{ "APPEND", imap_cmd_append, LOGGED_IN, 0 },
	{ "AUTHENTICATE", imap_cmd_authenticate, NOT_AUTH, SECRET },
	{ "CAPABILITY", imap_cmd_capability, ANY, 0 },
	{ "CHECK", imap_cmd_noop, SELECTED, 0 },
	{ "CLOSE", imap_cmd_close, SELECTED, 0 },
	{ "COMPRESS", imap_cmd_compress, LOGGED_IN, 0 },
	{ "COPY", imap_cmd_copy, SELECTED, SEQ | UID },
	{ "CREATE", imap_cmd_create, LOGGED_IN, 0 },
	{ "DELETE", imap_cmd_delete, LOGGED_IN, 0 },
	{ "DELETEACL", imap_cmd_deleteacl, LOGGED_IN, 0 },
	{ "ENABLE", imap_cmd_enable, AUTH, 0 },
	{ "ESEARCH", imap_cmd_esearch, LOGGED_IN, 0 },
	{ "EXAMINE", imap_cmd_examine, LOGGED_IN, 0 },
	{ "EXPUNGE", imap_cmd_expunge, SELECTED, UID | WRITES },
	{ "FETCH", imap_cmd_fetch, SELECTED, SEQ | UID },
	{ "GETACL", imap_cmd_getacl, LOGGED_IN, 0 },
	{ "GETMETADATA", imap_cmd_getmetadata, LOGGED_IN, 0 },
	{ "GETQUOTA", imap_cmd_getquota, LOGGED_IN, 0 },
	{ "GETQUOTAROOT", imap_cmd_getquotaroot, LOGGED_IN, 0 },
	{ "ID", imap_cmd_id, ANY, 0 },
	{ "IDLE", imap_cmd_idle, LOGGED_IN, 0 },
	{ "LIST", imap_cmd_list, LOGGED_IN, 0 },
	{ "LISTRIGHTS", imap_cmd_listrights, LOGGED_IN, 0 },
	{ "LOGIN", imap_cmd_login, NOT_AUTH, SECRET },
	{ "LOGOUT", imap_cmd_logout, ANY, 0 },
	{ "LSUB", imap_cmd_lsub, LOGGED_IN, 0 },
	{ "MOVE", imap_cmd_move, SELECTED, SEQ | UID | WRITES },
	{ "MYRIGHTS", imap_cmd_myrights, LOGGED_IN, 0 },
	{ "NAMESPACE", imap_cmd_namespace, LOGGED_IN, 0 },
	{ "NOOP", imap_cmd_noop, ANY, 0 },
	{ "NOTIFY", imap_cmd_notify, LOGGED_IN, 0 },
	{ "RENAME", imap_cmd_rename, LOGGED_IN, 0 },
	{ "REPLACE", imap_cmd_replace, SELECTED, SEQ | UID | WRITES },
	{ "SEARCH", imap_cmd_search, SELECTED, SEQ | UID },
	{ "SELECT", imap_cmd_select, LOGGED_IN, 0 },
	{ "SETACL", imap_cmd_setacl, LOGGED_IN, 0 },
	{ "SETMETADATA", imap_cmd_setmetadata, LOGGED_IN, 0 },
	{ "SETQUOTA", imap_cmd_setquota, LOGGED_IN, 0 },
	{ "SORT", imap_cmd_sort, SELECTED, SEQ | UID },
	{ "STARTTLS", imap_cmd_starttls, NOT_AUTH, 0 },
	{ "STATUS", imap_cmd_status, LOGGED_IN, 0 },
	{ "STORE", imap_cmd_store, SELECTED, SEQ | UID | WRITES },
	{ "SUBSCRIBE", imap_cmd_subscribe, LOGGED_IN, 0 },
	{ "THREAD", imap_cmd_thread, SELECTED, SEQ | UID },
	{ "UNAUTHENTICATE", imap_cmd_unauthenticate, LOGGED_IN, 0 },
	{ "UNSELECT", imap_cmd_unselect, SELECTED, 0 },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, LOGGED_IN, 0 },
};

const struct imap_cmd_def *
imap_command_find(const char *name)
{
	size_t lo = 0, hi = sizeof(commands) / sizeof(commands[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, commands[mid].name);

		if (c == 0)
			return &commands[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* When a capability word is shown. */
enum cap_when {
	CAP_ALWAYS,
	CAP_BEFORE_LOGIN,
	CAP_AFTER_LOGIN,
};

/* The words whose feature is complete and tested; the dynamic ones
 * (STARTTLS, LOGINDISABLED, AUTH=, LITERAL+/-) are added in code. */
static const struct {
	const char *word;
	enum cap_when when;
} capabilities[] = {
	{ "IMAP4rev1", CAP_ALWAYS },
	/* RFC 9051: everything it folds in is here (NAMESPACE, UNSELECT,
	 * UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE, SASL-IR, LIST-EXTENDED,
	 * LIST-STATUS, MOVE, LITERAL-, BINARY, SPECIAL-USE, STATUS=SIZE and
	 * DELETED); a client picks it with ENABLE IMAP4rev2 */
	{ "IMAP4rev2", CAP_ALWAYS },
	{ "SASL-IR", CAP_BEFORE_LOGIN },
	{ "ID", CAP_ALWAYS },
	{ "ENABLE", CAP_ALWAYS },
	{ "UNSELECT", CAP_ALWAYS },
	/* RFC 8437 (imap-cmd-auth.c) */
	{ "UNAUTHENTICATE", CAP_AFTER_LOGIN },
	{ "UIDPLUS", CAP_AFTER_LOGIN },
	{ "MOVE", CAP_AFTER_LOGIN },
	{ "MULTIAPPEND", CAP_AFTER_LOGIN },
	{ "ESEARCH", CAP_AFTER_LOGIN },
	{ "SEARCHRES", CAP_AFTER_LOGIN },
	/* RFC 5032 OLDER and YOUNGER (imap-search-parse.c) */
	{ "WITHIN", CAP_AFTER_LOGIN },
	/* RFC 8514 (imap-fetch.c, imap-search-parse.c) */
	{ "SAVEDATE", CAP_AFTER_LOGIN },
	/* RFC 9394: SEARCH RETURN (PARTIAL) (imap-search-parse.c,
	 * imap-cmd-search.c) and the UID FETCH modifier
	 * (imap-cmd-fetch.c) */
	{ "PARTIAL", CAP_AFTER_LOGIN },
	/* RFC 9585: SEARCH reports between its slices (imap-cmd-search.c);
	 * docs/imap.md "INPROGRESS" says which commands do */
	{ "INPROGRESS", CAP_AFTER_LOGIN },
	/* RFC 8508 (imap-cmd-append.c) */
	{ "REPLACE", CAP_AFTER_LOGIN },
	/* RFC 8970 (mail/mime-preview.c, imap-cmd-fetch.c) */
	{ "PREVIEW", CAP_AFTER_LOGIN },
	/* RFC 5256, 5957, 5267 (imap-cmd-sort.c) */
	{ "SORT", CAP_AFTER_LOGIN },
	{ "SORT=DISPLAY", CAP_AFTER_LOGIN },
	{ "ESORT", CAP_AFTER_LOGIN },
	{ "THREAD=ORDEREDSUBJECT", CAP_AFTER_LOGIN },
	{ "THREAD=REFERENCES", CAP_AFTER_LOGIN },
	{ "IDLE", CAP_ALWAYS },
	/* mailboxes (imap-cmd-list.c, imap-cmd-mailbox.c) */
	{ "NAMESPACE", CAP_ALWAYS },
	{ "CHILDREN", CAP_ALWAYS },
	{ "LIST-EXTENDED", CAP_ALWAYS },
	{ "LIST-STATUS", CAP_ALWAYS },
	{ "SPECIAL-USE", CAP_ALWAYS },
	{ "CREATE-SPECIAL-USE", CAP_ALWAYS },
	{ "BINARY", CAP_ALWAYS },
	/* RFC 8438 (imap-cmd-status.c) */
	{ "STATUS=SIZE", CAP_AFTER_LOGIN },
	/* RFC 9208 (imap-cmd-quota.c): the store's byte quota and message
	 * limit; SETQUOTA is refused, so no QUOTASET */
	{ "QUOTA", CAP_AFTER_LOGIN },
	{ "QUOTA=RES-STORAGE", CAP_AFTER_LOGIN },
	{ "QUOTA=RES-MESSAGE", CAP_AFTER_LOGIN },
	/* RFC 8474: the store's ids, the ones JMAP uses (MAILBOXID in
	 * SELECT, STATUS, CREATE; EMAILID, THREADID in FETCH, SEARCH) */
	{ "OBJECTID", CAP_AFTER_LOGIN },
	/* RFC 5464 (imap-cmd-metadata.c): mailbox and server entries;
	 * no unsolicited METADATA responses, so ENABLE METADATA is not
	 * taken */
	{ "METADATA", CAP_AFTER_LOGIN },
	{ "METADATA-SERVER", CAP_AFTER_LOGIN },
	/* RFC 7162 (imap-sync.c, imap-cmd-select.c, imap-cmd-fetch.c,
	 * imap-cmd-store.c, imap-vanished.c): MODSEQ from the store's
	 * change log, with the 3.2.5.2 fallback once it is pruned */
	{ "CONDSTORE", CAP_AFTER_LOGIN },
	{ "QRESYNC", CAP_AFTER_LOGIN },
	/* RFC 9755 (imap-downgrade.c for sessions that do not enable it);
	 * after login, as LOGIN takes no UTF-8 (RFC 9755 5). Not UTF8=ONLY:
	 * most clients never enable it (docs/imap.md "UTF-8"). */
	{ "UTF8=ACCEPT", CAP_AFTER_LOGIN },
	/* RFC 4978 (imap-compress.c); the command is for logged-in
	 * sessions, as in Dovecot */
	{ "COMPRESS=DEFLATE", CAP_AFTER_LOGIN },
	/* RFC 9586 (imap-session.c dispatch, imap-sync.c) */
	{ "UIDONLY", CAP_AFTER_LOGIN },
	/* RFC 7377 (imap-cmd-esearch.c) */
	{ "MULTISEARCH", CAP_AFTER_LOGIN },
	/* RFC 4469 (imap-catenate.c, imap-url.c) */
	{ "CATENATE", CAP_AFTER_LOGIN },
	/* RFC 5465 (imap-cmd-notify.c) */
	{ "NOTIFY", CAP_AFTER_LOGIN },
	/* RFC 4314 (imap-acl.c, imap-cmd-acl.c): shared mailboxes under
	 * "Other Users"; RIGHTS= lists the rights beyond RFC 2086's */
	{ "ACL", CAP_AFTER_LOGIN },
	{ "RIGHTS=texk", CAP_AFTER_LOGIN },
};

/* The dynamic words an admin may hide too ([imap] capabilities_hide). */
static const char *const hideable_dynamic[] = {
	"LITERAL+", "LITERAL-", "APPENDLIMIT", "MESSAGELIMIT",
};

static bool
word_is(const char *word, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(word, name, len) == 0;
}

bool
imap_capability_hideable(const char *word, size_t len)
{
	if (word_is(word, len, "IMAP4rev1"))
		return false;
	for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]);
	     i++) {
		if (word_is(word, len, capabilities[i].word))
			return true;
	}
	for (size_t i = 0; i < sizeof(hideable_dynamic) /
	     sizeof(hideable_dynamic[0]); i++) {
		if (word_is(word, len, hideable_dynamic[i]))
			return true;
	}
	return false;
}

/* Whether [imap] capabilities_hide names word. */
static bool
hidden(const struct imap_session *s, const char *word)
{
	const char *p = s->set->capabilities_hide;

	if (p == NULL)
		return false;
	while (*p != '\0') {
		size_t n;

		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n > 0 && word_is(p, n, word))
			return true;
		p += n;
	}
	return false;
}

void
imap_session_capabilities(const struct imap_session *s, struct buf *out)
{
	bool logged_in = s->state != IMAP_STATE_NOT_AUTH;
	bool tls = ioev_conn_is_tls(s->conn);
	const char *literal = logged_in ? "LITERAL+" : "LITERAL-";

	for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]);
	     i++) {
		if ((capabilities[i].when == CAP_BEFORE_LOGIN && logged_in) ||
		    (capabilities[i].when == CAP_AFTER_LOGIN && !logged_in) ||
		    hidden(s, capabilities[i].word))
			continue;
		/* IMAP4rev1 is first and never hidden */
		if (i > 0)
			buf_putc(out, ' ');
		buf_puts(out, capabilities[i].word);
	}
	/* RFC 7888: any size after login; before it, only what LITERAL-
	 * allows (the parser's literal_nonsync_max) */
	if (!hidden(s, literal))
		buf_printf(out, " %s", literal);
	if (logged_in) {
		/* RFC 7889: the largest APPEND is the parser's literal_max */
		if (!hidden(s, "APPENDLIMIT"))
			buf_printf(out, " APPENDLIMIT=%llu",
				   (unsigned long long)s->set->literal_max);
		/* RFC 9738: messages per command (imap_session_seqset) */
		if (!hidden(s, "MESSAGELIMIT"))
			buf_printf(out, " MESSAGELIMIT=%u",
				   s->set->message_limit);
		return;
	}
	if (s->proto == PROTO_IMAP && !tls && s->w->tls != NULL &&
	    s->compress == NULL)
		buf_puts(out, " STARTTLS");
	if (!imap_session_plaintext_ok(s)) {
		/* RFC 9051 6.2.3, 7.2.2: no password in clear */
		buf_puts(out, " LOGINDISABLED AUTH=SCRAM-SHA-256");
		return;
	}
	buf_puts(out, " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256");
}
