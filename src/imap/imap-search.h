/* SPDX-License-Identifier: MIT */
/*
 * SEARCH programs (RFC 9051 6.4.4, RFC 3501 6.4.4, ESEARCH RFC 4731,
 * SEARCHRES RFC 5182): the parser turning a command's argument tree into a
 * tree of keys within complexity limits, and the evaluation of that tree
 * over a mailbox's messages (cheap keys on the session's view, header keys
 * on the stored header text, BODY and TEXT through the store's full-text
 * index).
 */
#ifndef HERALD_IMAP_IMAP_SEARCH_H
#define HERALD_IMAP_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"

struct store_search;

/* Defaults of the complexity limits ([imap] search_keys_max,
 * search_depth_max). */
#define IMAP_SEARCH_KEYS_DEFAULT 1000
#define IMAP_SEARCH_DEPTH_DEFAULT 64
/* Distinct KEYWORD / UNKEYWORD names in one program. */
#define IMAP_SEARCH_KEYWORDS_MAX 64

struct imap_search_limits {
	unsigned int keys_max;	/* keys in the program, each NOT, OR and
				 * parenthesised list counting as one */
	unsigned int depth_max;	/* NOT, OR and parentheses open at once */
};

enum imap_search_type {
	IMAP_SK_ALL,
	IMAP_SK_AND,		/* every child (a list, or the program) */
	IMAP_SK_OR,		/* two children */
	IMAP_SK_NOT,		/* one child */
	IMAP_SK_FLAGS,		/* all of flags set (enum store_flag) */
	IMAP_SK_UNFLAGS,	/* none of flags set */
	IMAP_SK_KEYWORD,	/* keyword number kw set */
	IMAP_SK_UNKEYWORD,
	IMAP_SK_RECENT,		/* IMAP4rev1 \Recent */
	IMAP_SK_NEW,		/* \Recent and not \Seen */
	IMAP_SK_OLD,		/* not \Recent */
	IMAP_SK_BEFORE,		/* internal date's day < day */
	IMAP_SK_ON,
	IMAP_SK_SINCE,		/* >= day */
	IMAP_SK_SENTBEFORE,	/* the Date field's day */
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER,		/* RFC822.SIZE > size */
	IMAP_SK_SMALLER,
	IMAP_SK_SEQ,		/* sequence numbers in set */
	IMAP_SK_UID,		/* UIDs in set */
	IMAP_SK_HEADER,		/* field contains str (FROM, TO, ...) */
	IMAP_SK_BODY,		/* body text contains str */
	IMAP_SK_TEXT,		/* header or body text contains str */
	IMAP_SK_OLDER,		/* WITHIN (RFC 5032): internal date < since */
	IMAP_SK_YOUNGER,	/* >= since */
	IMAP_SK_SAVEDBEFORE,	/* SAVEDATE (RFC 8514): the save date's day */
	IMAP_SK_SAVEDON,
	IMAP_SK_SAVEDSINCE,
	IMAP_SK_EMAILID,	/* RFC 8474: the email id is str */
	IMAP_SK_THREADID,	/* the thread id is str */
	IMAP_SK_MODSEQ,		/* RFC 7162 3.1.5: modseq >= size */
	IMAP_SK_UIDAFTER,	/* RFC 9738: UID > size */
	IMAP_SK_UIDBEFORE,	/* RFC 9738: UID < size */
};

/* What a key costs to decide for a message: the view's data, the stored
 * header text, the body text. AND evaluates cheaper children first. */
enum imap_search_cost {
	IMAP_SEARCH_COST_VIEW = 0,
	IMAP_SEARCH_COST_HEADER = 1,
	IMAP_SEARCH_COST_BODY = 2,
};

struct imap_search_key {
	enum imap_search_type type;
	enum imap_search_cost cost;	/* the most of its subtree */
	uint32_t flags;
	unsigned int kw;		/* index in program keywords */
	int64_t day;			/* days since 1970-01-01 */
	/* OLDER, YOUNGER: unix seconds, the time of parsing less the
	 * interval (RFC 5032: relative to when the command is processed) */
	int64_t since;
	uint64_t size;
	struct imap_seqset set;		/* SEQ, UID */
	/* HEADER: the field name as sent; str the value, folded
	 * (lib/unifold), str_len octets; BODY, TEXT: the needle, folded */
	char *field;
	char *str;
	size_t str_len;
	/* BODY, TEXT with an index lookup: the matching entries (sorted)
	 * once looked up; lookup_done says whether it was */
	int64_t *docs;
	size_t n_docs;
	bool lookup_done;
	bool lookup_usable;
	struct imap_search_key *children;
	size_t n_children;
};

/* RETURN options (RFC 4731, RFC 5182 SAVE, RFC 9394 PARTIAL). */
enum imap_search_return {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_ALL = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE = 1 << 4,
	IMAP_SEARCH_RET_PARTIAL = 1 << 5,
};

/* A partial-range (RFC 9394 2): positions 1-based in the result, from
 * its start (lo <= hi, both positive) or, negative, from its end (-1 the
 * last: -lo <= -hi, i.e. lo -1 and hi -5 for "-1:-5"). Written back in
 * this order whatever order the client gave. */
struct imap_partial_range {
	int64_t lo;
	int64_t hi;
};

/* Parses a partial-range atom "a:b" or "-a:-b" (nz-numbers up to
 * 2^32-1, both of one sign, either order); false when it is none. */
bool imap_partial_range_parse(const char *s, size_t len,
			      struct imap_partial_range *r);

/* The window [*from_r, *to_r) of a result of n entries that r selects
 * (empty when it lies past the result). */
void imap_partial_range_window(const struct imap_partial_range *r, size_t n,
			       size_t *from_r, size_t *to_r);

struct imap_search_program {
	struct imap_search_key root;	/* an AND */
	/* RETURN was given (even empty): answer with ESEARCH */
	bool has_return;
	unsigned int ret;		/* enum imap_search_return bits; an
					 * empty RETURN () is ALL */
	struct imap_partial_range partial;	/* with RET_PARTIAL */
	/* KEYWORD and UNKEYWORD names, as sent, kw indexes into this */
	char **keywords;
	size_t n_keywords;
	/* whether some key needs the store (cost above VIEW) */
	bool needs_store;
	/* whether some key is EMAILID or THREADID (the store's ids are
	 * read for the messages the view cannot decide) */
	bool needs_ids;
	/* some key is MODSEQ: the result ends with the highest modseq
	 * of the messages found (RFC 7162 3.1.5) */
	bool has_modseq;
	/* whether some key uses "$" (the saved result) */
	bool uses_saved;
	size_t n_keys;
};

enum imap_search_parse_result {
	IMAP_SEARCH_PARSE_OK,
	IMAP_SEARCH_PARSE_BAD,		/* answer BAD error */
	IMAP_SEARCH_PARSE_BADCHARSET,	/* answer NO [BADCHARSET (...)] */
};

void imap_search_limits_default(struct imap_search_limits *limits_r);

/*
 * Parses the arguments after SEARCH (after UID SEARCH): [RETURN (...)]
 * [CHARSET name] keys. CHARSET UTF-8 and US-ASCII are known (any case);
 * strings are UTF-8 (RFC 9051 and RFC 6855 make UTF-8 the only charset a
 * server must know). NEW, OLD and RECENT are read in IMAP4rev2 sessions
 * too (where no message is recent). On success fills prog_r (free with
 * imap_search_program_deinit) and returns OK; else *error_r is static
 * text for the response and prog_r is empty.
 */
enum imap_search_parse_result
imap_search_parse(const struct imap_arg *args, size_t n_args,
		  const struct imap_search_limits *limits,
		  struct imap_search_program *prog_r, const char **error_r);
void imap_search_program_deinit(struct imap_search_program *prog);
/* Forgets the search-index look-ups BODY and TEXT keys keep between
 * mailboxes (key docs, lookup_done): the index is per account, so a
 * program run over another account's mailbox (a shared one, RFC 4314)
 * must look up again. */
void imap_search_program_forget_lookups(struct imap_search_program *prog);
/* Whether some key is a message sequence set other than "$" (refused
 * after ENABLE UIDONLY, RFC 9586 3, and in ESEARCH over other mailboxes,
 * RFC 7377). */
bool imap_search_program_uses_seq(const struct imap_search_program *prog);

/*
 * One message as the evaluation sees it: a snapshot of the session's view
 * (taken on the loop thread, read on the pool).
 */
struct imap_search_msg {
	uint32_t seq;
	uint32_t uid;
	uint32_t flags;
	bool recent;
	int64_t internal_date;
	int64_t saved_date;
	uint64_t size;
	uint64_t modseq;
	uint64_t keywords;	/* bit kw: has program keyword kw */
	const char *blob_id;	/* for the store keys */
	/* EMAILID and THREADID keys: the message's ids (NULL: none) */
	const char *email_id;
	const char *thread_id;
	/* its search index entry when known beforehand
	 * (store_search_mailbox_docs), else doc_known false */
	int64_t doc;
	bool doc_known;
};

/* The sets of SEQ and UID keys are resolved against these (sequence
 * numbers and UIDs of the view, "*" the last, "$" the saved UIDs). */
struct imap_search_view {
	uint32_t last_seq;	/* the message count */
	uint32_t last_uid;	/* the highest UID, 0 when empty */
	const uint32_t *saved;	/* sorted UIDs, for "$" */
	size_t n_saved;
};

enum imap_search_match {
	IMAP_SEARCH_NO,
	IMAP_SEARCH_YES,
	IMAP_SEARCH_MAYBE,	/* needs the store */
};

/* Whether msg is among the messages a SEARCH looks at for RFC 9738's
 * limit: those the sequence-set, UID, UIDAFTER and UIDBEFORE keys that
 * the program ANDs (at its top level and in parenthesised lists there)
 * hold for. SORT and THREAD count their scope the same way. */
bool imap_search_in_scope(const struct imap_search_program *prog,
			  const struct imap_search_view *view,
			  const struct imap_search_msg *msg);

/* Decides what the view alone can: YES, NO, or MAYBE when a key needing
 * the store decides. Loop thread, no I/O. */
enum imap_search_match
imap_search_match_view(const struct imap_search_program *prog,
		       const struct imap_search_view *view,
		       const struct imap_search_msg *msg);

/* Decides a message fully, reading its header and body text through
 * search (the store, on a pool thread). Returns 0 with *match_r, or -1
 * with *error_r (the store failed). */
int imap_search_match_store(struct imap_search_program *prog,
			    const struct imap_search_view *view,
			    const struct imap_search_msg *msg,
			    struct store_search *search, bool *match_r,
			    const char **error_r);

/* Days since 1970-01-01 of an RFC 5322 Date field value in its own zone
 * (the time and the zone disregarded, RFC 9051 SENT*), or -1. */
int64_t imap_search_date_day(const char *value, size_t len);

#endif
