/* SPDX-License-Identifier: MIT */
/*
 * herald queue list|show|flush|hold|release|delete|bounce, and the
 * Postfix-shaped listing that `mailq` prints. Every change goes through
 * the store, whose queue counter wakes the runner of a running server at
 * once (docs/outbound.md "Queue management").
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "store/store.h"

static void
queue_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald queue list [-c FILE]\n"
		"       herald queue show ID [-c FILE]\n"
		"       herald queue flush [ID] [-c FILE]\n"
		"       herald queue hold|release|delete|bounce ID [-c FILE]\n\n"
		"The outbound queue: mail for other domains that is not delivered\n"
		"yet. ID is the number `list` shows or the message id of the log\n"
		"lines (\"queued as ...\").\n\n"
		"list     every queued message, each recipient's state and why it\n"
		"         is still queued\n"
		"show     one message: every recipient's state, attempts, next\n"
		"         attempt, relay, TLS and the remote's last reply\n"
		"flush    try the deferred recipients (of ID, or of every message)\n"
		"         now; a running server starts at once\n"
		"hold     keep ID in the queue without trying it (list marks it !)\n"
		"release  undo hold; the message is tried now\n"
		"delete   remove ID from the queue without telling the sender\n"
		"bounce   give up on ID: its open recipients bounce and the sender\n"
		"         gets a DSN\n");
}

static void
fmt_time(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0) {
		snprintf(out, outsz, "-");
		return;
	}
	localtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
}

static bool
rcpt_is_open(const struct store_queue_entry_rcpt *r)
{
	return strcmp(r->status, STORE_QUEUE_PENDING) == 0 ||
	       strcmp(r->status, STORE_QUEUE_DEFERRED) == 0;
}

static const char *
entry_name(const struct store_queue_entry *e, char *buf, size_t bufsz)
{
	if (e->msg_id != NULL && e->msg_id[0] != '\0')
		return e->msg_id;
	snprintf(buf, bufsz, "%lld", (long long)e->id);
	return buf;
}

int
cli_queue_print_mailq(struct store *store)
{
	struct store_queue_entry *e = NULL;
	const char *error = NULL;
	uint64_t bytes = 0;
	size_t n = 0;

	if (store_queue_list(store, 0, &e, &n, &error) != STORE_OK) {
		cli_verror_s("mailq", "cannot read the queue: %s",
			     error != NULL ? error : "store error");
		return -1;
	}
	if (n == 0) {
		printf("Mail queue is empty\n");
		return 0;
	}
	printf("-Queue ID-  --Size-- ----Arrival Time---- "
	       "-Sender/Recipient-------\n");
	for (size_t i = 0; i < n; i++) {
		char when[32], idbuf[40], nb[24];
		time_t t = (time_t)e[i].created;
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		/* Postfix marks held mail with "!" */
		snprintf(idbuf, sizeof(idbuf), "%s%s",
			 entry_name(&e[i], nb, sizeof(nb)),
			 strcmp(e[i].status, STORE_QUEUE_HELD) == 0 ? "!" : "");
		printf("%-11s %8llu %-20s  %s\n", idbuf,
		       (unsigned long long)e[i].size, when,
		       e[i].env_from[0] != '\0' ? e[i].env_from
						: "MAILER-DAEMON");
		for (size_t k = 0; k < e[i].n_rcpts; k++) {
			const struct store_queue_entry_rcpt *r = &e[i].rcpts[k];

			if (!rcpt_is_open(r))
				continue;
			if (r->last_error != NULL && r->last_error[0] != '\0')
				printf("%43s(%s)\n", "", r->last_error);
			printf("%43s%s\n", "", r->address);
		}
		printf("\n");
		bytes += e[i].size;
	}
	printf("-- %llu Kbytes in %zu Request%s.\n",
	       (unsigned long long)((bytes + 1023) / 1024), n,
	       n == 1 ? "" : "s");
	store_queue_entries_free(&e, n);
	return 0;
}

static int
queue_list(struct store *store)
{
	struct store_queue_entry *e = NULL;
	const char *error = NULL;
	size_t n = 0;

	if (store_queue_list(store, 0, &e, &n, &error) != STORE_OK) {
		cli_error("cannot read the queue: %s",
			  error != NULL ? error : "store error");
		return CLI_ERROR;
	}
	if (n == 0) {
		printf("The queue is empty\n");
		return CLI_OK;
	}
	for (size_t i = 0; i < n; i++) {
		char when[32], next[32];

		fmt_time(e[i].created, when, sizeof(when));
		printf("%lld %s %s size=%llu from=<%s> arrival=\"%s\"\n",
		       (long long)e[i].id,
		       e[i].msg_id != NULL ? e[i].msg_id : "-", e[i].status,
		       (unsigned long long)e[i].size, e[i].env_from, when);
		for (size_t k = 0; k < e[i].n_rcpts; k++) {
			const struct store_queue_entry_rcpt *r = &e[i].rcpts[k];

			fmt_time(r->next_attempt, next, sizeof(next));
			printf("  to=<%s> %s attempts=%u", r->address,
			       r->status, r->attempts);
			if (rcpt_is_open(r))
				printf(" next=\"%s\"", next);
			if (r->last_error != NULL)
				printf(" (%s)", r->last_error);
			printf("\n");
		}
	}
	printf("-- %zu message%s\n", n, n == 1 ? "" : "s");
	store_queue_entries_free(&e, n);
	return CLI_OK;
}

/* ID as a row number, or the log id of a message ("queued as ..."). */
static int
queue_find(struct store *store, const char *arg, int64_t *id_r)
{
	struct store_queue_entry *e = NULL;
	const char *error = NULL;
	char *end;
	size_t n = 0;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno == 0 && *end == '\0' && v > 0) {
		*id_r = v;
		return 0;
	}
	if (store_queue_list(store, 0, &e, &n, &error) != STORE_OK) {
		cli_error("cannot read the queue: %s",
			  error != NULL ? error : "store error");
		return -1;
	}
	*id_r = 0;
	for (size_t i = 0; i < n && *id_r == 0; i++)
		if (e[i].msg_id != NULL && strcmp(e[i].msg_id, arg) == 0)
			*id_r = e[i].id;
	store_queue_entries_free(&e, n);
	if (*id_r == 0) {
		cli_error("no queued message %s; see 'herald queue list'", arg);
		return -1;
	}
	return 0;
}

static int
queue_show(struct store *store, int64_t id)
{
	struct store_queue_entry *e = NULL;
	const char *error = NULL;
	char when[32];
	enum store_result r;

	r = store_queue_get(store, id, &e, &error);
	if (r == STORE_E_NOT_FOUND) {
		cli_error("no queued message %lld; see 'herald queue list'",
			  (long long)id);
		return CLI_ERROR;
	}
	if (r != STORE_OK) {
		cli_error("cannot read the queue: %s",
			  error != NULL ? error : "store error");
		return CLI_ERROR;
	}
	fmt_time(e->created, when, sizeof(when));
	printf("id: %lld\n", (long long)e->id);
	printf("message id: %s\n", e->msg_id != NULL ? e->msg_id : "-");
	printf("status: %s\n", e->status);
	printf("from: <%s>\n", e->env_from);
	printf("size: %llu\n", (unsigned long long)e->size);
	printf("arrival: %s\n", when);
	printf("dsn: ret=%s envid=%s\n", e->dsn_ret != NULL ? e->dsn_ret : "-",
	       e->dsn_envid != NULL ? e->dsn_envid : "-");
	printf("delay warning sent: %s\n", e->warned ? "yes" : "no");
	for (size_t k = 0; k < e->n_rcpts; k++) {
		const struct store_queue_entry_rcpt *x = &e->rcpts[k];
		char last[32], next[32];

		fmt_time(x->last_attempt, last, sizeof(last));
		fmt_time(x->next_attempt, next, sizeof(next));
		printf("\nrecipient: <%s>\n", x->address);
		printf("  state: %s\n", x->status);
		printf("  attempts: %u\n", x->attempts);
		printf("  last attempt: %s\n", last);
		if (rcpt_is_open(x))
			printf("  next attempt: %s%s\n", next,
			       strcmp(e->status, STORE_QUEUE_HELD) == 0 ?
			       " (held)" : "");
		if (x->relay != NULL)
			printf("  relay: %s\n", x->relay);
		if (x->tls != NULL)
			printf("  tls: %s\n", x->tls);
		if (x->dsn_status != NULL)
			printf("  dsn: %s\n", x->dsn_status);
		printf("  last reply: %s\n", x->last_error != NULL ?
		       x->last_error : (x->attempts == 0 ?
					"(not tried yet)" : "-"));
		if (x->notify != STORE_QUEUE_NOTIFY_NONE)
			printf("  dsn owed: %s\n",
			       x->notify == STORE_QUEUE_NOTIFY_FAILURE ?
			       "failure" : x->notify ==
			       STORE_QUEUE_NOTIFY_SUCCESS ? "success" :
			       "delay");
	}
	store_queue_entries_free(&e, 1);
	return CLI_OK;
}

static int
queue_change(struct store *store, int64_t id, const char *sub)
{
	enum store_queue_admin op;
	const char *error = NULL;
	enum store_result r;
	size_t changed = 0;

	if (strcmp(sub, "delete") == 0) {
		r = store_queue_delete(store, id, &error);
	} else {
		if (strcmp(sub, "flush") == 0)
			op = STORE_QUEUE_FLUSH;
		else if (strcmp(sub, "hold") == 0)
			op = STORE_QUEUE_HOLD;
		else if (strcmp(sub, "release") == 0)
			op = STORE_QUEUE_RELEASE;
		else
			op = STORE_QUEUE_BOUNCE;
		r = store_queue_admin(store, id, op, NULL, &changed, &error);
	}
	if (r == STORE_E_NOT_FOUND) {
		cli_error("no queued message %lld; see 'herald queue list'",
			  (long long)id);
		return CLI_ERROR;
	}
	if (r != STORE_OK) {
		cli_error("queue %s: %s", sub, error != NULL ? error :
			  store_result_str(r));
		return CLI_ERROR;
	}
	if (strcmp(sub, "flush") == 0 && id == 0)
		printf("%zu message%s due now\n", changed,
		       changed == 1 ? "" : "s");
	else if (strcmp(sub, "flush") == 0 && changed == 0)
		printf("%lld is held; 'herald queue release %lld' tries it\n",
		       (long long)id, (long long)id);
	else
		printf("%lld: %s\n", (long long)id,
		       strcmp(sub, "delete") == 0 ? "deleted" :
		       strcmp(sub, "flush") == 0 ? "due now" :
		       strcmp(sub, "hold") == 0 ? "held" :
		       strcmp(sub, "release") == 0 ? "released" :
		       "bounced (the sender gets a DSN)");
	return CLI_OK;
}

int
cli_queue(int argc, char **argv)
{
	static const char *const subs[] = { "list", "show", "flush", "hold",
					    "release", "delete", "bounce",
					    NULL };
	const char *path = NULL, *sub;
	struct config *cfg;
	struct store *store;
	int64_t id = 0;
	bool known = false;
	int c, rc;

	if ((c = cli_config_options(argc, argv, false, queue_usage, &path)) >= 0)
		return c;
	if (optind >= argc) {
		queue_usage(stderr);
		return CLI_USAGE;
	}
	sub = argv[optind];
	for (size_t i = 0; subs[i] != NULL; i++)
		known |= strcmp(sub, subs[i]) == 0;
	if (!known || (strcmp(sub, "list") == 0 && optind + 1 != argc) ||
	    (strcmp(sub, "flush") == 0 && optind + 2 < argc) ||
	    (strcmp(sub, "list") != 0 && strcmp(sub, "flush") != 0 &&
	     optind + 2 != argc)) {
		queue_usage(stderr);
		return CLI_USAGE;
	}
	if ((store = cli_open_config_store(path, &cfg)) == NULL)
		return CLI_ERROR;
	if (optind + 1 < argc && queue_find(store, argv[optind + 1], &id) < 0)
		rc = CLI_ERROR;
	else if (strcmp(sub, "list") == 0)
		rc = queue_list(store);
	else if (strcmp(sub, "show") == 0)
		rc = queue_show(store, id);
	else
		rc = queue_change(store, id, sub);
	store_close(&store);
	config_free(&cfg);
	return rc;
}
