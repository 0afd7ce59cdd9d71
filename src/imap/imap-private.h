/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the IMAP files: the session, its state, the selected
 * mailbox's view, the command being run and the helpers every command
 * handler uses (tagged replies, pool jobs, output). One file per command or
 * small family (imap-cmd-*.c) registers its handlers in the table of
 * imap-commands.c; the session loop (imap-session.c) knows no command.
 */
#ifndef HERALD_IMAP_PRIVATE_H
#define HERALD_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/config.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/threadpool.h"
#include "store/store.h"

struct ioev_conn;
struct ioev_external;
struct ioev_timer;
struct login_attempt;
struct worker;
struct imap_cmd;
struct imap_session;
struct imap_compress;
struct imap_view_snap;
struct imap_notify;

/* RFC 9051 3. */
enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};
#define IMAP_STATES_NOT_AUTH (1u << IMAP_STATE_NOT_AUTH)
#define IMAP_STATES_AUTH (1u << IMAP_STATE_AUTH)
#define IMAP_STATES_SELECTED (1u << IMAP_STATE_SELECTED)
#define IMAP_STATES_ANY (IMAP_STATES_NOT_AUTH | IMAP_STATES_AUTH | \
			 IMAP_STATES_SELECTED)
#define IMAP_STATES_LOGGED_IN (IMAP_STATES_AUTH | IMAP_STATES_SELECTED)

/* ---- the selected mailbox ---- */

/* One message as the session knows it: sequence number = index + 1.
 * Keywords are indexes into imap_mailbox.keywords. */
struct imap_msg {
	uint32_t uid;
	uint32_t flags;		/* enum store_flag bits */
	uint64_t modseq;
	int64_t internal_date;
	int64_t saved_date;	/* SAVEDATE (RFC 8514) */
	uint64_t size;
	int64_t row_id;		/* store_message.id */
	char blob_id[STORE_BLOB_ID_LEN + 1];
	uint32_t *keywords;	/* indexes, sorted; NULL when none */
	uint16_t n_keywords;
	bool recent;		/* \Recent (IMAP4rev1 only) */
	/* Gone from the store, its EXPUNGE not sent yet because the
	 * commands since used sequence numbers (RFC 9051 7.5.1): it keeps
	 * its number until imap-sync.c sends the EXPUNGE and drops it. A
	 * command that removes messages from the view leaves these. */
	bool expunged;
};

/* The view of the selected mailbox: what this session has told the client
 * (RFC 9051 7.5.1: sequence numbers change only through EXPUNGE responses
 * this session sends). */
struct imap_mailbox {
	int64_t id;
	/* UTF-8, as the client names it: as stored, or under the "Other
	 * Users" namespace for another account's mailbox (imap-acl.h) */
	char *name;
	enum store_role role;
	bool readonly;		/* EXAMINE, or no right to change anything */
	/* its owner (the session's account, or a sharer's) and the user's
	 * rights (RFC 4314) as of SELECT */
	int64_t account_id;
	unsigned rights;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	char mailbox_id[STORE_ID_SIZE];	/* RFC 8474 MAILBOXID */
	struct imap_msg *msgs;	/* in UID order */
	size_t count;
	size_t alloc;
	char **keywords;	/* every keyword announced in FLAGS */
	size_t n_keywords;
	/* imap-sync.c: the store's change counter and the HIGHESTMODSEQ
	 * the view is up to date with, and how many msgs are marked
	 * expunged. SELECT reads HIGHESTMODSEQ, then the counter, then the
	 * messages; a counter of 0 makes the next reply look. */
	uint64_t sync_counter;
	uint64_t sync_modseq;
	size_t n_expunged;
	/* the view's modseq when the first of the held expunges was found:
	 * below each of their modseqs (imap_sync_write_held_modseq) */
	uint64_t held_since;
	/* Non-NULL while msgs and keywords are the worker's shared
	 * snapshot (imap-view-cache.c), read-only: call
	 * imap_mailbox_own() before changing either. */
	struct imap_view_snap *snap;
};

/* ---- the worker's cache of mailbox views (imap-view-cache.c) ---- */

/* SELECT's view of mailbox mb (read just now; counter is its change
 * counter, read before mb): the messages, keywords, UIDNEXT and modseqs
 * of box from the worker's shared snapshot when nothing has changed
 * since it was read, else from one brought up to date with a delta, or
 * read in full; the new snapshot is kept for the next SELECT while the
 * cache holds at most cache_max messages ([imap] view_cache_messages, 0:
 * no cache). Pool thread. */
enum store_result imap_view_load(struct store *store,
				 const struct store_mailbox *mb,
				 uint64_t counter, size_t cache_max,
				 struct imap_mailbox *box,
				 const char **error_r);
/* Makes box's messages and keywords its own (a copy of the shared
 * snapshot) before any change to them; nothing when they are. */
void imap_mailbox_own(struct imap_mailbox *box);
/* Lets go of the shared snapshot (imap_mailbox_free). */
void imap_view_release(struct imap_mailbox *box);

/* ---- the worker's cache of rendered FETCH items (imap-fetch-cache.c)
 * ---- */

/* Appends the text kept for blob_id and key (the item and how it is
 * written) to out; false when there is none. Any thread. */
bool imap_fetch_cache_get(const char *blob_id, unsigned key, struct buf *out);
/* Keeps text for blob_id and key; the least recently used entries go
 * while the cache holds more than max_bytes ([imap] fetch_cache_size; 0:
 * nothing is kept). */
void imap_fetch_cache_put(const char *blob_id, unsigned key, const char *text,
			  size_t len, size_t max_bytes);

/* Index of uid in box->msgs or -1 (binary search). */
ssize_t imap_mailbox_find_uid(const struct imap_mailbox *box, uint32_t uid);
void imap_mailbox_free(struct imap_mailbox **box);

/* A mailbox argument as the store names it: modified UTF-7 decoded
 * unless the session has UTF8=ACCEPT (then checked UTF-8), "INBOX" in any
 * case (also as the first level, "inbox/x") spelt "INBOX". Returns 0 with
 * *name_r (free()), or -1 with a static *error_r. */
int imap_mailbox_arg(const struct imap_session *s, const struct imap_arg *arg,
		     char **name_r, const char **error_r);
/* The flags of the view as written in FLAGS and PERMANENTFLAGS: system
 * flags then every keyword of box (no parentheses). */
void imap_mailbox_write_flags(const struct imap_mailbox *box, struct buf *out);
/* The flags of PERMANENTFLAGS (no parentheses): those the user's rights
 * on box allow (RFC 4314), keywords and \* only with "w". */
void imap_mailbox_write_permanent_flags(const struct imap_session *s,
					const struct imap_mailbox *box,
					struct buf *out);
/* A message's flags for FETCH FLAGS, "(\Seen kw)" with parentheses;
 * \Recent for rev1 sessions when set. */
void imap_msg_write_flags(const struct imap_session *s,
			  const struct imap_mailbox *box,
			  const struct imap_msg *msg, struct buf *out);

/* ---- flags and the writing commands (imap-flags.c,
 * imap-cmd-expunge.c) ---- */

/* A flag list of STORE or APPEND: system flags and keywords, the
 * keywords pointing into the command's arguments, deduplicated
 * case-insensitively. */
struct imap_flag_args {
	uint32_t flags;		/* enum store_flag bits */
	const char **keywords;
	size_t n_keywords;
};
/* Reads n flag arguments (atoms: \Seen ..., keywords). \Recent is
 * ignored for APPEND (append true), refused for STORE; other unknown
 * system flags, \* and invalid keywords are refused. Returns 0, or -1
 * with a static *error_r (answer BAD). */
int imap_flag_args_parse(const struct imap_arg *args, size_t n, bool append,
			 struct imap_flag_args *f, const char **error_r);
void imap_flag_args_deinit(struct imap_flag_args *f);

/* Index of keyword name in box->keywords (case-insensitive), or -1. */
ssize_t imap_mailbox_keyword_index(const struct imap_mailbox *box,
				   const char *name);
/* How many of names box->keywords does not have yet. */
size_t imap_mailbox_keywords_new(const struct imap_mailbox *box,
				 const char *const *names, size_t n);
/* The index of name in box->keywords, appended when new (*added_r set
 * true: announce it with imap_mailbox_write_flags_update() before use). */
uint32_t imap_mailbox_keyword_add(struct imap_mailbox *box, const char *name,
				  bool *added_r);
/* Sets msg's keywords to names (added to box as needed, see above). */
void imap_msg_set_keywords(struct imap_mailbox *box, struct imap_msg *msg,
			   const char *const *names, size_t n, bool *added_r);
/* Writes "* FLAGS (...)" and, for a writable mailbox, "* OK
 * [PERMANENTFLAGS (... \*)]" for the view's keywords (\* while the
 * mailbox may take another keyword, [imap] keywords_max). */
void imap_mailbox_write_flags_update(struct imap_session *s);
/* Removes the messages with these UIDs (ascending; ones not in the view
 * are skipped) from s->box and, unless silent, writes "* n EXPUNGE" for
 * each in RFC 9051 7.5.1's order. */
void imap_mailbox_expunge_uids(struct imap_session *s, const uint32_t *uids,
			       size_t n, bool silent);
/* uids (ascending) as a uid-set, "4:7,9" (RFC 4315 COPYUID, APPENDUID). */
void imap_write_uid_set(struct buf *out, const uint32_t *uids, size_t n);
/* A client's UID set as sorted, merged [lo, hi] pairs in *pairs_r (free
 * it; "*" is UINT32_MAX); returns the number of pairs. */
size_t imap_uid_pairs(const struct imap_seqset *set, uint32_t **pairs_r);
/* RFC 7162 3.2.5.2, for a modseq older than the change log remembers:
 * writes as a uid-set every UID of the pairs (NULL: every UID) below
 * box's UIDNEXT that box does not hold, whenever it went; false, and
 * nothing written, when there is none. A client ignores UIDs it never
 * had. */
bool imap_write_uid_gaps(struct buf *out, const uint32_t *pairs,
			 size_t n_pairs, const struct imap_mailbox *box);
/* Copies a store error message (valid only in the pool thread that got
 * it) into a job's buffer; NULL gives "?". */
void imap_copy_error(char *dst, size_t size, const char *error);

/* ---- CATENATE (RFC 4469, imap-catenate.c) ---- */

/* One part of a CATENATE list: TEXT's literal or URL's text, pointing
 * into the command's arguments. */
struct imap_cat_part {
	const char *data;
	size_t len;
	bool url;
};
/* Reads CATENATE's list (TEXT literal / URL astring pairs). Returns 0
 * with *parts_r (free()), or -1 with a static *error_r (BAD). */
int imap_catenate_parse(const struct imap_arg *list,
			struct imap_cat_part **parts_r, size_t *n_r,
			const char **error_r);
/* What building a message needs, copied for the pool. */
struct imap_cat_ctx {
	struct store *store;
	int64_t account_id;
	const char *user;	/* a URL's user must be this one */
	size_t cache_max;	/* [imap] view_cache_messages */
	uint64_t max;		/* [imap] literal_max: [TOOBIG] beyond */
};
enum imap_cat_result {
	IMAP_CAT_OK,
	IMAP_CAT_BADURL,	/* parts[*bad_part_r] names nothing of ours */
	IMAP_CAT_TOOBIG,
	IMAP_CAT_STORE_ERROR,	/* *store_r, *error_r (this thread's) */
};
/* Appends the parts to out in order, each URL's message or section
 * (RFC 5092: mailbox, UIDVALIDITY, UID, SECTION, PARTIAL) read from the
 * store. Pool thread. */
enum imap_cat_result imap_catenate_build(const struct imap_cat_ctx *ctx,
					 const struct imap_cat_part *parts,
					 size_t n, struct buf *out,
					 size_t *bad_part_r,
					 enum store_result *store_r,
					 const char **error_r);

/* ---- the command table ---- */

/* What a handler returns: it has answered (or the command is over), or it
 * has started something that ends with imap_cmd_done() later (a pool job,
 * a literal to read, output to drain). */
enum imap_cmd_result {
	IMAP_CMD_FINISHED,
	IMAP_CMD_PENDING,
};

typedef enum imap_cmd_result imap_cmd_fn_t(struct imap_cmd *cmd);

enum imap_cmd_flags {
	/* The command works on sequence numbers (FETCH, STORE, COPY, MOVE,
	 * SEARCH without UID): no EXPUNGE may be sent while it runs, and
	 * none sent before its tagged reply (RFC 9051 7.5.1). */
	IMAP_CMD_FLAG_USES_SEQ = 1 << 0,
	/* Accepts the UID prefix ("UID FETCH"). */
	IMAP_CMD_FLAG_UID = 1 << 1,
	/* Changes the mailbox: refused NO on an EXAMINEd (read-only) one. */
	IMAP_CMD_FLAG_WRITES = 1 << 2,
	/* Arguments may hold secrets (LOGIN): the parser's buffer is wiped
	 * after the command. */
	IMAP_CMD_FLAG_SECRET = 1 << 3,
};

struct imap_cmd_def {
	const char *name;	/* upper case */
	imap_cmd_fn_t *run;
	unsigned states;	/* IMAP_STATES_* mask */
	unsigned flags;		/* enum imap_cmd_flags */
};

/* The command being run; one at a time per session. */
struct imap_cmd {
	struct imap_session *s;
	const struct imap_cmd_def *def;
	char *tag;
	const char *name;	/* "FETCH", with uid set for "UID FETCH" */
	bool uid;
	/* Arguments after the name (after FETCH for UID FETCH). Owned by
	 * the parser: valid until the command is done, since the session
	 * feeds the parser nothing meanwhile. */
	const struct imap_arg *args;
	size_t n_args;
	/* The handler's own state and how to free it (called once when the
	 * command ends, also when the connection closes under it). */
	void *ctx;
	void (*ctx_free)(void *ctx);
	/* Called when output has drained (the client read a big response)
	 * while the handler returned PENDING for that reason. */
	enum imap_cmd_result (*drain)(struct imap_cmd *cmd);
	/* the tagged reply, once given (written after the sync) */
	char *reply;
	/* RFC 9738: the command's message set was cut to [imap]
	 * message_limit; its OK carries [MESSAGELIMIT n uid], uid the
	 * lowest of the messages it worked on (the client goes on below
	 * it) */
	bool limited;
	uint32_t limit_uid;
	/* the command bounds its messages itself (FETCH PARTIAL): its set
	 * is not cut */
	bool no_limit;
	/* imap_session_run_internal(): no tagged reply, this instead */
	void (*internal_done)(struct imap_session *s);
};

/* The handlers, each in its imap-cmd-*.c file. */
imap_cmd_fn_t imap_cmd_capability, imap_cmd_noop, imap_cmd_logout,
	imap_cmd_id, imap_cmd_enable, imap_cmd_starttls, imap_cmd_login,
	imap_cmd_authenticate, imap_cmd_select, imap_cmd_examine,
	imap_cmd_unselect, imap_cmd_store, imap_cmd_expunge, imap_cmd_close,
	imap_cmd_copy, imap_cmd_move, imap_cmd_append, imap_cmd_replace,
	imap_cmd_unauthenticate;
/* Mailboxes: imap-cmd-list.c, imap-cmd-mailbox.c, imap-cmd-status.c. */
imap_cmd_fn_t imap_cmd_list, imap_cmd_lsub, imap_cmd_create,
	imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe,
	imap_cmd_unsubscribe, imap_cmd_namespace, imap_cmd_status;
/* imap-cmd-fetch.c, imap-cmd-idle.c, imap-cmd-search.c. */
imap_cmd_fn_t imap_cmd_fetch, imap_cmd_idle, imap_cmd_search;

/* imap-compress.c: COMPRESS (RFC 4978). */
imap_cmd_fn_t imap_cmd_compress;

/* imap-cmd-sort.c: SORT and THREAD (RFC 5256). */
imap_cmd_fn_t imap_cmd_sort, imap_cmd_thread;

/* imap-cmd-quota.c: QUOTA (RFC 9208). The one quota root of an account
 * that has a quota (docs/imap.md "QUOTA"). */
#define IMAP_QUOTA_ROOT "User quota"
imap_cmd_fn_t imap_cmd_getquota, imap_cmd_getquotaroot, imap_cmd_setquota;
/* imap-cmd-metadata.c: METADATA (RFC 5464). */
imap_cmd_fn_t imap_cmd_getmetadata, imap_cmd_setmetadata;

/* octets in units of 1024 octets, rounded up (RFC 9208 STORAGE) */
uint64_t imap_quota_kib(uint64_t octets);

/* SEARCH's evaluation (imap-cmd-search.c), also for SORT and THREAD.
 * _new decides what the selected mailbox's view can on the loop thread
 * (prog is taken over and emptied); when _needs_store, _work decides the
 * rest on the pool (0, or -1 with *error_r valid until _free). _matches:
 * one bool per message of the view. */
struct imap_search_program;
struct imap_search_eval;
struct imap_search_eval *imap_search_eval_new(struct imap_session *s,
					      struct imap_search_program *prog);
bool imap_search_eval_needs_store(const struct imap_search_eval *e);
int imap_search_eval_work(struct imap_search_eval *e, const char **error_r);
const bool *imap_search_eval_matches(const struct imap_search_eval *e);
/* Whether more than limit messages of box (the view e was made for) are
 * in e's RFC 9738 scope (imap_search_in_scope): SORT and THREAD refuse
 * those rather than order a part of them. */
bool imap_search_eval_over_limit(const struct imap_search_eval *e,
				 const struct imap_mailbox *box, size_t limit);
void imap_search_eval_free(struct imap_search_eval **e);

/* ESEARCH (RFC 7377, imap-cmd-esearch.c) uses SEARCH's parts. */
imap_cmd_fn_t imap_cmd_esearch;
/* Evaluates prog over box (a view loaded on the pool, no "$", no
 * \Recent) wholly on the calling pool thread: *match_r one bool per
 * message of box (free()). prog is borrowed (its keys keep their index
 * look-ups for the next mailbox). Returns 0, or -1 with error filled. */
int imap_search_eval_box(struct store *store, int64_t account_id,
			 struct imap_search_program *prog,
			 const struct imap_mailbox *box, bool **match_r,
			 char *error, size_t error_size);
/* ESEARCH whose only source is the selected mailbox: SEARCH's path over
 * the session's view (sequence sets, "$" and SAVE work), answered with
 * the MAILBOX/UIDVALIDITY correlator, UIDs, and no ESEARCH when nothing
 * matched. Takes prog over. */
enum imap_cmd_result imap_search_esearch_selected(
	struct imap_cmd *cmd, struct imap_search_program *prog);
/* "* ESEARCH (TAG "tag" [MAILBOX m UIDVALIDITY v]) [UID] ..." for the
 * matching nums (ascending) and the RETURN options ret of prog (PARTIAL
 * and MODSEQ from prog); top is the highest modseq of them. mailbox
 * NULL: no MAILBOX. */
void imap_esearch_write(struct buf *out, const char *tag, const char *mailbox,
			unsigned int write_flags, uint32_t uidvalidity,
			bool uid, const struct imap_search_program *prog,
			unsigned int ret, const uint32_t *nums, size_t n,
			uint64_t top);

/* The entry for an upper-cased name, or NULL. */
const struct imap_cmd_def *imap_command_find(const char *name);

/* ---- the session ---- */

/* The deflate layer of COMPRESS=DEFLATE (imap-compress.c), between the
 * session and the conn (so under TLS: compressed, then encrypted). Output
 * is deflated and flushed (Z_SYNC_FLUSH) on every write, so nothing the
 * client is owed waits in zlib (CLIENT-QUIRKS: iOS stalls). Input is
 * inflated at most IMAP_COMPRESS_IN_MAX bytes ahead of the parser, so a
 * decompression bomb meets the same line and literal limits as plain
 * input. */
#define IMAP_COMPRESS_IN_MAX 65536
/* Turns compression on for s (after the OK went out). */
void imap_compress_start(struct imap_session *s);
void imap_compress_free(struct imap_compress **c);
/* Deflates data to the conn, flushed. */
void imap_compress_write(struct imap_session *s, const void *data,
			 size_t len);
/* Inflated input bytes ready (inflating what the conn has buffered); 0
 * also when the stream is corrupt (the conn is then closed, logged). */
size_t imap_compress_input_len(struct imap_session *s);
const uint8_t *imap_compress_peek(struct imap_session *s, size_t want,
				  size_t *len_r);
/* Drops n inflated bytes, zeroing them (they may hold a password). */
void imap_compress_consume(struct imap_session *s, size_t n);

struct imap_session {
	struct ioev_conn *conn;
	struct worker *w;
	const struct config *cfg;
	const struct config_imap *set;
	struct store *store;
	const char *id;			/* the conn's log id */
	enum listen_proto proto;
	enum imap_state state;
	struct imap_parser *parser;
	struct imap_parser_limits limits;	/* as logged in */
	unsigned errors;		/* BADs and NOs since the last OK */

	struct imap_cmd *cmd;		/* the command running, or NULL */
	/* the command waits for a raw line (imap_session_want_line) */
	enum imap_cmd_result (*line_cb)(struct imap_cmd *cmd,
					const char *line, size_t len);
	struct buf out;			/* untagged responses being built */
	bool in_input;			/* inside process_input: no recursion */
	bool job_pending;		/* imap_cmd_run_blocking running */
	bool paused;			/* input paused (imap_session_pause) */
	void (*job_done)(struct imap_cmd *cmd);

	/* ENABLEd (RFC 5161) */
	bool rev2;			/* IMAP4rev2 */
	bool utf8;			/* UTF8=ACCEPT (rev2 implies it) */
	/* the client ENABLEd UTF8=ACCEPT itself: SEARCH may not name a
	 * CHARSET then (RFC 9755 3), unless rev2's grammar allows it */
	bool utf8_accept;
	/* CONDSTORE (RFC 7162 3.1): ENABLEd, or turned on by a command
	 * that uses it; MODSEQ then goes out with every FETCH of flags */
	bool condstore;
	/* ENABLE QRESYNC (RFC 7162 3.2.3; implies condstore): VANISHED
	 * instead of EXPUNGE, SELECT (QRESYNC ...), FETCH (VANISHED) */
	bool qresync;
	/* the running command sent a MODSEQ (FETCH, STORE): expunges its
	 * closing sync holds back then need imap_sync_write_held_modseq
	 * (RFC 7162 3.2); cleared when the command ends */
	bool modseq_sent;
	/* ENABLE UIDONLY (RFC 9586): commands with sequence numbers are
	 * BAD [UIDREQUIRED], FETCH responses are UIDFETCH, EXPUNGE is
	 * VANISHED (whether or not QRESYNC is on) */
	bool uidonly;

	/* after login */
	int64_t account_id;
	char *user;			/* canonical address */
	bool counted;			/* in the per-user session count */
	struct login_attempt *login;	/* during LOGIN / AUTHENTICATE */
	struct ioev_timer *delay_timer;	/* failed-login delay */

	/* IMAP_STATE_SELECTED */
	struct imap_mailbox *box;
	/* SEARCHRES (RFC 5182): the UIDs of the last SEARCH ... SAVE */
	uint32_t *saved;
	size_t n_saved;

	/* COMPRESS=DEFLATE (imap-compress.c): the stream once active; on
	 * after the tagged OK of COMPRESS has gone out in clear */
	struct imap_compress *compress;
	bool compress_pending;

	/* NOTIFY SET (imap-cmd-notify.c), NULL without */
	struct imap_notify *notify;
};

/* Writes "TAG OK text\r\n" (NO, BAD) for the running command, counts
 * errors, and ends the command: the session then reads the next one. Use
 * as "return imap_cmd_ok(cmd, ...)" from a handler, or from the done
 * callback of a job (which ignores the return value). text may start
 * with a response code ("[TRYCREATE] ..."). */
enum imap_cmd_result imap_cmd_ok(struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum imap_cmd_result imap_cmd_no(struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum imap_cmd_result imap_cmd_bad(struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The store failed: NO [UNAVAILABLE] (temporary) or NO [SERVERBUG]. */
enum imap_cmd_result imap_cmd_store_error(struct imap_cmd *cmd,
					  enum store_result r,
					  const char *error);

/* Runs work(ctx) on the pool, then done(ctx) on the loop thread, unless the
 * connection has closed meanwhile (then only ctx_free). The handler returns
 * IMAP_CMD_PENDING; done writes the tagged reply with imap_cmd_ok() and
 * friends. Uses cmd->ctx / cmd->ctx_free for ctx. */
enum imap_cmd_result imap_cmd_run_blocking(struct imap_cmd *cmd,
					   threadpool_work_cb_t *work,
					   void (*done)(struct imap_cmd *cmd),
					   void *ctx, void (*ctx_free)(void *));

/* The same for work that ends on another thread (the store's writer):
 * start(ctx, h) runs at once on the loop thread and sees to it that
 * ioev_external_done(h) is called exactly once, from any thread (start
 * itself included); done(cmd) then runs on the loop thread, unless the
 * connection has closed meanwhile (then only ctx_free). The session, the
 * command and its arguments stay valid until then, whatever the client
 * does. */
enum imap_cmd_result imap_cmd_run_external(struct imap_cmd *cmd,
					   void (*start)(void *ctx,
							 struct ioev_external *h),
					   void (*done)(struct imap_cmd *cmd),
					   void *ctx, void (*ctx_free)(void *));

/* The command reads raw lines (AUTHENTICATE responses, IDLE's DONE)
 * instead of commands: cb(cmd, line, len) for each, line NULL for a line
 * that was refused (too long, NUL, bare CR). Stays in force until the
 * command ends; the line text is wiped after the command. */
void imap_session_want_line(struct imap_cmd *cmd,
			    enum imap_cmd_result (*cb)(struct imap_cmd *cmd,
						       const char *line,
						       size_t len));

/* Pauses (true) or resumes reading the client's input; the session
 * pauses while a command runs and resumes when it ends. */
void imap_session_pause(struct imap_session *s, bool pause);

/* Output: the session's write buffer for untagged responses. Append to it,
 * then imap_session_flush(). */
struct buf *imap_session_out(struct imap_session *s);
void imap_session_flush(struct imap_session *s);
/* Flushes out, then writes data (a bulk response: no copy into out). */
void imap_session_write(struct imap_session *s, const void *data, size_t len);
/* "* text\r\n" at once. */
void imap_session_untagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Whether the client has not read enough of what we sent: a handler that
 * streams a big response returns PENDING with cmd->drain set. */
bool imap_session_output_full(const struct imap_session *s);
/* Output the session may buffer before imap_session_output_full() (0:
 * the connection's default, 256 KiB), for a command that streams. */
void imap_session_set_output_high(struct imap_session *s, size_t high);

/* The CAPABILITY words for now (state, TLS), space separated. */
void imap_session_capabilities(const struct imap_session *s, struct buf *out);
/* Whether LOGIN / PLAIN may be used now (TLS, or loopback with
 * auth.plaintext_on_loopback). */
bool imap_session_plaintext_ok(const struct imap_session *s);
/* Counts a login of account_id against [imap] max_sessions_per_user;
 * false (nothing counted) when the account has that many sessions in
 * this process already. The count drops when the session closes. */
bool imap_session_user_add(struct imap_session *s, int64_t account_id);
/* Moves to AUTH or SELECTED (logs the change). */
void imap_session_set_state(struct imap_session *s, enum imap_state state);
/* Leaves the selected mailbox (no expunge): state AUTH. */
void imap_session_unselect(struct imap_session *s);
/* UNAUTHENTICATE (RFC 8437): leaves any mailbox (no expunge), forgets the
 * user, its session count and what was ENABLEd; state NOT_AUTH with the
 * pre-login limits. The connection (TLS) stays. */
void imap_session_unauthenticate(struct imap_session *s);
/* Says BYE text and closes once it is written. */
void imap_session_bye(struct imap_session *s, const char *text);

/* Resolves a sequence set against the selected mailbox (UIDs when uid,
 * else sequence numbers; "$" is the saved result) into message indexes in
 * order, no duplicates. A sequence number past the end is an error (BAD),
 * a UID that does not exist is skipped (RFC 9051 6.4.8). Returns 0, or -1
 * with *error_r static. *idx_r freed with free(). */
int imap_session_seqset(struct imap_session *s, const struct imap_arg *arg,
			bool uid, size_t **idx_r, size_t *count_r,
			const char **error_r);

/* Starts a FETCH response for the message at seq with uid: "* seq FETCH
 * (", or "* uid UIDFETCH (" in a UIDONLY session (RFC 9586 3.3). */
void imap_write_fetch_start(const struct imap_session *s, struct buf *out,
			    size_t seq, uint32_t uid);
/* Whether expunges go out as VANISHED (RFC 7162 3.2.10 QRESYNC, RFC 9586
 * 3.2 UIDONLY) instead of "* n EXPUNGE". */
bool imap_session_vanished(const struct imap_session *s);

/* ---- changes made elsewhere (imap-sync.c) ----
 *
 * A delivery, or another session's STORE, EXPUNGE, APPEND, COPY or MOVE,
 * reaches this session's view before the tagged reply of its next
 * command, and at once in IDLE. The session calls imap_sync_pending()
 * before every tagged reply; when true it calls imap_sync_start(), which
 * reads the changes on the pool, writes EXISTS / EXPUNGE / FETCH FLAGS
 * (EXPUNGE only when allow_expunge, RFC 9051 7.5.1) and then calls
 * then(s) on the loop thread. */
/* RFC 7162 3.2: while expunges are held back (RFC 9051 7.5.1), a
 * CONDSTORE session that was just sent MODSEQs gets a HIGHESTMODSEQ below
 * the held expunges', so a client that caches the highest MODSEQ it saw
 * does not skip them after a disconnect. */
void imap_sync_write_held_modseq(struct imap_session *s);
bool imap_sync_pending(const struct imap_session *s);
void imap_sync_start(struct imap_session *s, bool allow_expunge,
		     void (*then)(struct imap_session *s));

/* True when the selected mailbox's change counter moved since the view
 * was last brought up to date (expunges held back do not count). */
bool imap_sync_changed(const struct imap_session *s);

/* ---- waiting for changes made elsewhere (imap-watch.c) ----
 *
 * The worker's one store watch wakes every waiter (a session in IDLE, a
 * session with NOTIFY on) after any commit in any process; wake() looks
 * at the counters it cares about. */
struct imap_watcher {
	void (*wake)(struct imap_watcher *w);
	struct imap_watcher *prev, *next;
	bool added;
};
/* false (logged) when the watch cannot be made. Adding twice is a
 * no-op. */
bool imap_watch_add(struct imap_session *s, struct imap_watcher *w);
void imap_watch_remove(struct imap_watcher *w);

/* ---- NOTIFY (RFC 5465, imap-cmd-notify.c) ----
 *
 * A session with NOTIFY SET gets the changes it asked for while it runs
 * no command (and during IDLE): STATUS for other mailboxes, LIST for
 * mailbox names and subscriptions, and the selected mailbox's changes. */
imap_cmd_fn_t imap_cmd_notify;
/* Called when a command has ended and none runs: starts sending what is
 * due. True when it did (it then calls imap_session_resume() when
 * done), false when there is nothing to do. */
bool imap_notify_kick(struct imap_session *s);
/* True while a NOTIFY delivery runs: no command may start. */
bool imap_notify_busy(const struct imap_session *s);
/* Whether IDLE sends the selected mailbox's changes: always without
 * NOTIFY, and only when NOTIFY asked for them with it (RFC 5465 4). */
bool imap_notify_idle_selected(const struct imap_session *s);
/* Forgets what NOTIFY asked for (NOTIFY NONE, UNAUTHENTICATE, close). */
void imap_notify_free(struct imap_session *s);
/* Input may be read again after a NOTIFY delivery between commands. */
void imap_session_resume(struct imap_session *s);

/* Runs a command (UID when uid) of the table with args as if the client
 * had sent it, without its tagged reply: done(s) is called when it has
 * ended, whatever the outcome, or never if the connection closes. For
 * NOTIFY's MessageNew with FETCH attributes (RFC 5465 5.2). Only while
 * no command runs. */
void imap_session_run_internal(struct imap_session *s, const char *name,
			       bool uid, const struct imap_arg *args,
			       size_t n_args,
			       void (*done)(struct imap_session *s));

/* ---- STATUS items (imap-cmd-status.c), also LIST's STATUS return
 * option (RFC 5819, imap-cmd-list.c) ---- */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 1 << 0,
	IMAP_STATUS_UIDNEXT = 1 << 1,
	IMAP_STATUS_UIDVALIDITY = 1 << 2,
	IMAP_STATUS_UNSEEN = 1 << 3,
	IMAP_STATUS_DELETED = 1 << 4,
	IMAP_STATUS_SIZE = 1 << 5,
	IMAP_STATUS_RECENT = 1 << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1 << 7,
	IMAP_STATUS_DELETED_STORAGE = 1 << 8,	/* RFC 9208 4.2 */
	IMAP_STATUS_MAILBOXID = 1 << 9,		/* RFC 8474 4.2 */
};
#define IMAP_STATUS_ITEMS_MAX 10
/* The items asked for, each once, in the client's order. */
struct imap_status_items {
	unsigned mask;
	size_t count;
	enum imap_status_item order[IMAP_STATUS_ITEMS_MAX];
};
/* Parses the parenthesised item list (RFC 9051 6.3.11; RECENT only when
 * not rev2). Returns 0, or -1 with a static *error_r (answer BAD). */
int imap_status_items_parse(bool rev2, const struct imap_arg *list,
			    struct imap_status_items *items_r,
			    const char **error_r);
/* Appends "* STATUS name (ITEM n ...)" for st (RECENT is 0). write_flags
 * as imap_write_mailbox(); returns -1 with out unchanged and a static
 * *error_r when name cannot be written. */
int imap_status_write(struct buf *out, const char *name, unsigned write_flags,
		      const struct imap_status_items *items,
		      const struct store_mailbox_status *st,
		      const char **error_r);

#endif
