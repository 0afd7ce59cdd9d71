/* SPDX-License-Identifier: MIT */
/*
 * FETCH and UID FETCH (RFC 9051 6.4.5, RFC 3516 BINARY): the plan
 * (imap-fetch), then \Seen for the body items on a read-write mailbox,
 * then the responses, produced on the pool in chunks of bounded size from
 * the MIME structure cache and the message blob, so a message of any size
 * streams with bounded memory and a client that reads slowly stalls only
 * its own command.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-downgrade.h"
#include "imap/imap-envelope.h"
#include "imap/imap-fetch.h"
#include "imap/imap-header-fields.h"
#include "imap/imap-acl.h"
#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "imap/imap-write.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mail/cte.h"
#include "mail/mime-cache.h"
#include "mail/mime-preview.h"

/* Octets one pool job produces before it hands them to the session:
 * the memory a FETCH holds beyond the session's output buffer. */
#define FETCH_CHUNK (256u * 1024)
/* Blocks in which a part is read from the blob. */
#define FETCH_BLOCK (64u * 1024)
/* Output a FETCH leaves unsent before it waits for the client to read,
 * while it runs: the pool produces the next chunks while the loop writes
 * (with the connection's 256 KiB, one chunk filled it and the two took
 * turns). Only for FETCH: other output (a flood of NOOP replies) still
 * stops reading at the default. */
#define FETCH_OUTPUT_HIGH (1024u * 1024)

/* What FETCH needs of one message, copied from the view so the pool
 * never reads the session. */
struct fetch_msg {
	uint32_t seq;
	uint32_t uid;
	uint64_t size;
	int64_t internal_date;
	int64_t saved_date;
	char blob_id[STORE_BLOB_ID_LEN + 1];
	char *flags;		/* "(\Seen ...)" when FLAGS goes out */
	bool flags_extra;	/* FLAGS not asked for: \Seen changed */
	bool expunged;		/* imap_msg.expunged: its body may be gone */
	uint64_t modseq;
	bool modseq_extra;	/* flags_extra in a CONDSTORE session */
	/* RFC 8474, read when the plan needs_ids ("": none) */
	char email_id[STORE_ID_SIZE];
	char thread_id[STORE_ID_SIZE];
};

/* A literal being written across chunks. */
struct fetch_stream {
	bool active;
	bool binary;		/* decode through dec */
	uint64_t raw_off;	/* next octet of the blob to read */
	uint64_t raw_left;	/* octets of the range not yet read */
	uint64_t skip;		/* decoded octets to drop (partial origin) */
	uint64_t left;		/* octets still to write */
	bool nul_to_8bit;	/* a literal, not literal8: NUL goes as 0x80 */
	struct cte_decoder dec;
};

struct fetch_ctx {
	struct store *store;
	int64_t mailbox_id;
	struct imap_fetch_plan plan;
	unsigned int write_flags;	/* imap_write_flags */
	/* [imap] fetch_header_max: the octets of a header HEADER.FIELDS
	 * reads (the filter needs it in one piece) */
	uint64_t header_max;
	struct fetch_msg *msgs;
	size_t count;
	/* loop thread only: the messages' indexes in the view (nothing in
	 * it moves while the command runs), their flags before, and
	 * whether this FETCH set \Seen on them */
	size_t *idx;
	uint32_t *seen_before;
	bool *seen_changed;
	/* a MODSEQ goes out (asked for, or with a \Seen change): RFC 7162
	 * 3.2 then wants the held expunges' HIGHESTMODSEQ before the OK */
	bool modseq_out;

	/* \Seen: the UIDs to mark and the result */
	uint32_t *seen_uids;
	size_t n_seen;
	struct store_flags_result seen_res;
	enum store_result seen_r;
	char *seen_error;
	/* (CHANGEDSINCE n VANISHED), RFC 7162 3.2.6: the UID set as sent
	 * and the UIDs in it expunged after n */
	bool vanished;
	bool seen_ran;
	uint64_t changedsince;
	struct imap_seqset uidset;
	uint32_t *v_uids;
	size_t n_v;
	/* the log was pruned past changedsince: every UID of the set the
	 * view lacks instead (RFC 7162 3.2.5.2) */
	bool v_gaps;
	enum store_result v_r;
	char *v_error;

	bool ids_read;		/* needs_ids: msgs' ids are in */
	/* UIDONLY (RFC 9586 3.3): "* uid UIDFETCH (", msgs' seq is the
	 * UID */
	bool uidonly;
	/* production, on the pool */
	size_t next;			/* message being written */
	bool in_msg;			/* its "* n FETCH (" is out */
	size_t item;			/* its next item */
	struct mime_cache *cache;
	/* the message's octets: a blob file, or a copy of a blob kept in
	 * the database (at most STORE_BLOB_INLINE_MAX) */
	int fd;
	const uint8_t *mem;
	size_t mem_len;
	/* mem is ours (free it), not the reader's: a message whose
	 * response continues in the next job keeps a copy, since the
	 * reader's snapshot ends with each job */
	bool mem_owned;
	/* one read transaction per job (store_blob_reader), never kept
	 * across a wait for the client */
	struct store_blob_reader *reader;
	struct fetch_stream st;
	struct buf out;			/* produced, not yet handed over */
	struct buf tmp;
	/* ENVELOPE, BODY and BODYSTRUCTURE from the worker's cache
	 * (imap-fetch-cache.c) when the plan needs no octets: hit[i] holds
	 * item i's text when from_cache (then cache is NULL) */
	bool item_cache;
	size_t item_cache_max;		/* [imap] fetch_cache_size */
	struct buf *hit;
	bool from_cache;
	/* PREVIEW: the message's preview as written ("..." or a literal)
	 * from the worker's cache (preview_ready), or to be made from the
	 * blob (preview_make) */
	struct buf preview;
	bool preview_ready;
	bool preview_make;
	/* every item that needs the message is the whole of it (BODY[],
	 * RFC822): the blob is the answer, no MIME record is read (cache
	 * stays NULL) */
	bool whole_only;
	uint64_t msg_size;		/* the message's, for whole_only */
	/* the command ends: NO with this text (before any octet of the
	 * message's response), or the connection must close (after) */
	char *no_text;
	bool fatal;
};

static void
fetch_ctx_free(void *p)
{
	struct fetch_ctx *c = p;

	imap_fetch_plan_deinit(&c->plan);
	for (size_t i = 0; i < c->count; i++)
		free(c->msgs[i].flags);
	free(c->msgs);
	free(c->idx);
	free(c->seen_before);
	free(c->seen_changed);
	free(c->seen_uids);
	store_flags_result_deinit(&c->seen_res);
	free(c->seen_error);
	imap_seqset_deinit(&c->uidset);
	free(c->v_uids);
	free(c->v_error);
	mime_cache_free(&c->cache);
	if (c->fd >= 0)
		close(c->fd);
	if (c->mem_owned)
		free((void *)c->mem);
	store_blob_reader_free(&c->reader);
	buf_deinit(&c->out);
	buf_deinit(&c->tmp);
	buf_deinit(&c->preview);
	for (size_t i = 0; c->hit != NULL && i < c->plan.count; i++)
		buf_deinit(&c->hit[i]);
	free(c->hit);
	free(c->no_text);
	free(c);
}

/* ---- writing one message's items (pool thread) ---- */

static void
write_internaldate(struct buf *out, int64_t t)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* date-time: date-day-fixed is SP DIGIT below 10 (RFC 9051 9) */
	buf_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
		   months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		   tm.tm_min, tm.tm_sec);
}

static void
envelope_cb(struct buf *out, const struct mime_part *msg,
	    const uint8_t *data, size_t size, void *context)
{
	const struct fetch_ctx *c = context;
	size_t len;
	const char *env = mime_cache_envelope(c->cache, msg, &len);

	(void)data;
	(void)size;
	imap_envelope_write(out, env != NULL ? env : "", len, NULL,
			    c->write_flags &
			    (IMAP_WRITE_UTF8 | IMAP_WRITE_DOWNGRADE));
}

/* Reads blob octets [off, off + len) into out (appending). */
static int
blob_read(struct fetch_ctx *c, uint64_t off, size_t len, struct buf *out)
{
	size_t done = 0;

	if (c->mem != NULL) {
		if (off > c->mem_len || len > c->mem_len - off)
			return -1;
		buf_append(out, c->mem + off, len);
		return 0;
	}
	buf_reserve(out, len);
	while (done < len) {
		ssize_t n = pread(c->fd, out->data + out->len, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
		out->len += (size_t)n;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* The decoded size of a part and whether it holds NUL, in one pass. */
static int
binary_measure(struct fetch_ctx *c, uint64_t off, uint64_t size, enum cte cte,
	       uint64_t *size_r, bool *nul_r)
{
	struct cte_decoder dec;
	uint64_t total = 0;
	bool nul = false;

	cte_decoder_init(&dec, cte);
	while (size > 0) {
		size_t n = size < FETCH_BLOCK ? (size_t)size : FETCH_BLOCK;

		buf_reset(&c->tmp);
		if (blob_read(c, off, n, &c->tmp) < 0)
			return -1;
		off += n;
		size -= n;
		if (cte == CTE_IDENTITY) {
			total += n;
			nul = nul || memchr(c->tmp.data, '\0', n) != NULL;
			continue;
		}
		struct buf dbuf;

		buf_init(&dbuf);
		cte_decode(&dec, (const uint8_t *)c->tmp.data, n, &dbuf);
		total += dbuf.len;
		nul = nul || memchr(dbuf.data, '\0', dbuf.len) != NULL;
		buf_deinit(&dbuf);
	}
	buf_reset(&c->tmp);
	cte_decode_finish(&dec, &c->tmp);
	total += c->tmp.len;
	nul = nul || memchr(c->tmp.data, '\0', c->tmp.len) != NULL;
	*size_r = total;
	*nul_r = nul;
	return 0;
}

/* The range (after <partial>) of a body of size octets: *off_r, *len_r. */
static void
partial_range(const struct imap_fetch_item *it, uint64_t size,
	      uint64_t *off_r, uint64_t *len_r)
{
	*off_r = 0;
	*len_r = size;
	if (!it->partial)
		return;
	if (it->partial_offset >= size) {
		*off_r = size;
		*len_r = 0;
		return;
	}
	*off_r = it->partial_offset;
	*len_r = size - it->partial_offset;
	if (*len_r > it->partial_count)
		*len_r = it->partial_count;
}

/* The name, with "<origin>" as asked (RFC 9051 7.5.2), also when the
 * origin is past the end. */
static void
write_item_name(struct buf *out, const struct imap_fetch_item *it)
{
	buf_puts(out, it->name);
	if (it->partial)
		buf_printf(out, "<%llu>",
			   (unsigned long long)it->partial_offset);
	buf_putc(out, ' ');
}

/* Writes octets as a literal (NUL as 0x80: CHAR8 excludes it). */
static void
append_literal_data(struct buf *out, const char *p, size_t n, bool nul_to_8bit)
{
	size_t start = out->len;

	buf_append(out, p, n);
	/* a body rarely holds NUL: one memchr, not a loop per octet */
	if (!nul_to_8bit || memchr(p, '\0', n) == NULL)
		return;
	for (char *q = out->data + start; q < out->data + out->len; q++)
		if (*q == '\0')
			*q = (char)0x80;
}

/* For a session without UTF8=ACCEPT, replaces the header section in hdr
 * by its downgraded form when it holds UTF-8 (RFC 9755 7; BODY[] and
 * TEXT stay as stored, so a sync client keeps the real message). */
static void
downgrade_header(const struct fetch_ctx *c, struct buf *hdr)
{
	struct buf d;

	if ((c->write_flags & IMAP_WRITE_DOWNGRADE) == 0 ||
	    !utf8_has_non_ascii((const uint8_t *)hdr->data, hdr->len))
		return;
	buf_init(&d);
	imap_downgrade_header(&d, (const uint8_t *)hdr->data, hdr->len);
	buf_reset(hdr);
	buf_append(hdr, d.data, d.len);
	buf_deinit(&d);
}

/* BODY[section]: the answer is the blob range, streamed, or for
 * HEADER.FIELDS(.NOT) the filtered header. Returns -1 on a read error. */
static int
item_section(struct fetch_ctx *c, const struct imap_fetch_item *it)
{
	struct imap_section sec;
	const char *why;
	uint64_t off, len;

	if (c->cache == NULL) {
		/* whole_only: BODY[] is the blob */
		memset(&sec, 0, sizeof(sec));
		sec.kind = IMAP_SECTION_FULL;
		sec.size = c->mem != NULL ? c->mem_len : c->msg_size;
	} else if (imap_section_resolve(c->cache->root, it->section, &sec,
					&why) != IMAP_SECTION_OK) {
		/* a part this message does not have (the plan checked the
		 * syntax) */
		write_item_name(&c->out, it);
		buf_puts(&c->out, "NIL");
		return 0;
	}
	if (it->has_fields) {
		size_t hlen = (size_t)(sec.size < c->header_max ?
				       sec.size : c->header_max);
		struct buf sel;

		buf_reset(&c->tmp);
		if (hlen > 0 && blob_read(c, sec.offset, hlen, &c->tmp) < 0)
			return -1;
		buf_init(&sel);
		imap_header_fields_write(&sel, (const uint8_t *)c->tmp.data,
					 c->tmp.len, &it->fields,
					 it->fields_not);
		downgrade_header(c, &sel);
		partial_range(it, sel.len, &off, &len);
		write_item_name(&c->out, it);
		buf_printf(&c->out, "{%llu}\r\n", (unsigned long long)len);
		append_literal_data(&c->out, sel.data + off, (size_t)len, true);
		buf_deinit(&sel);
		return 0;
	}
	if ((sec.kind == IMAP_SECTION_HEADER ||
	     sec.kind == IMAP_SECTION_MIME) &&
	    (c->write_flags & IMAP_WRITE_DOWNGRADE) != 0 &&
	    sec.size <= c->header_max) {
		/* a header for a legacy session: read whole, downgraded
		 * when it holds UTF-8 */
		struct buf hdr;

		buf_init(&hdr);
		if (sec.size > 0 &&
		    blob_read(c, sec.offset, (size_t)sec.size, &hdr) < 0) {
			buf_deinit(&hdr);
			return -1;
		}
		downgrade_header(c, &hdr);
		partial_range(it, hdr.len, &off, &len);
		write_item_name(&c->out, it);
		buf_printf(&c->out, "{%llu}\r\n", (unsigned long long)len);
		append_literal_data(&c->out, hdr.data + off, (size_t)len, true);
		buf_deinit(&hdr);
		return 0;
	}
	partial_range(it, sec.size, &off, &len);
	write_item_name(&c->out, it);
	buf_printf(&c->out, "{%llu}\r\n", (unsigned long long)len);
	c->st = (struct fetch_stream){
		.active = len > 0, .raw_off = sec.offset + off,
		.raw_left = len, .left = len, .nul_to_8bit = true,
	};
	return 0;
}

/* BINARY[part] and BINARY.SIZE[part] (RFC 3516). Returns -1 on a read
 * error, 1 for an encoding we cannot decode (NO [UNKNOWN-CTE]). */
static int
item_binary(struct fetch_ctx *c, const struct imap_fetch_item *it)
{
	struct imap_section sec;
	const char *why;
	enum cte cte;
	uint64_t size, off, len;
	bool nul;

	if (imap_section_resolve(c->cache->root, it->section, &sec, &why) !=
	    IMAP_SECTION_OK) {
		buf_puts(&c->out, it->name);
		buf_puts(&c->out, it->kind == IMAP_FETCH_BINARY_SIZE ? " 0" :
			 " NIL");
		return 0;
	}
	/* the whole message and parts that hold parts are not encoded
	 * (RFC 2045 6.4: a multipart is 7bit, 8bit or binary) */
	cte = sec.part == c->cache->root && it->section[0] == '\0' ?
		CTE_IDENTITY : cte_from_name(sec.part->encoding);
	if (cte == CTE_UNKNOWN)
		return 1;
	if (binary_measure(c, sec.offset, sec.size, cte, &size, &nul) < 0)
		return -1;
	if (it->kind == IMAP_FETCH_BINARY_SIZE) {
		buf_puts(&c->out, it->name);
		buf_printf(&c->out, " %llu", (unsigned long long)size);
		return 0;
	}
	partial_range(it, size, &off, &len);
	write_item_name(&c->out, it);
	/* literal8 only where the octets need it (RFC 3516 4.2) */
	buf_printf(&c->out, "%s{%llu}\r\n", nul ? "~" : "",
		   (unsigned long long)len);
	c->st = (struct fetch_stream){
		.active = len > 0, .binary = true, .raw_off = sec.offset,
		.raw_left = sec.size, .skip = off, .left = len,
	};
	cte_decoder_init(&c->st.dec, cte);
	return 0;
}

/* Continues the literal in c->st up to the chunk budget. */
static int
stream_step(struct fetch_ctx *c)
{
	struct fetch_stream *st = &c->st;

	while (st->active && c->out.len < FETCH_CHUNK) {
		size_t n;

		if (!st->binary) {
			n = st->left < FETCH_BLOCK ? (size_t)st->left :
				FETCH_BLOCK;
			if (c->mem != NULL) {
				/* straight from the blob: no copy between */
				if (st->raw_off > c->mem_len ||
				    n > c->mem_len - st->raw_off)
					return -1;
				append_literal_data(&c->out,
						    (const char *)c->mem +
						    st->raw_off, n,
						    st->nul_to_8bit);
			} else {
				buf_reset(&c->tmp);
				if (blob_read(c, st->raw_off, n, &c->tmp) < 0)
					return -1;
				append_literal_data(&c->out, c->tmp.data, n,
						    st->nul_to_8bit);
			}
			st->raw_off += n;
			st->left -= n;
			st->active = st->left > 0;
			continue;
		}
		struct buf dbuf;

		buf_init(&dbuf);
		if (st->raw_left > 0) {
			n = st->raw_left < FETCH_BLOCK ? (size_t)st->raw_left :
				FETCH_BLOCK;
			buf_reset(&c->tmp);
			if (blob_read(c, st->raw_off, n, &c->tmp) < 0) {
				buf_deinit(&dbuf);
				return -1;
			}
			st->raw_off += n;
			st->raw_left -= n;
			cte_decode(&st->dec, (const uint8_t *)c->tmp.data, n,
				   &dbuf);
		} else {
			cte_decode_finish(&st->dec, &dbuf);
		}
		size_t from = dbuf.len < st->skip ? dbuf.len : (size_t)st->skip;
		size_t take = dbuf.len - from;

		st->skip -= from;
		if (take > st->left)
			take = (size_t)st->left;
		buf_append(&c->out, dbuf.data + from, take);
		st->left -= take;
		if (st->raw_left == 0 && st->left > 0) {
			/* the blob changed under us: keep the syntax */
			while (st->left-- > 0)
				buf_putc(&c->out, ' ');
			st->left = 0;
		}
		buf_deinit(&dbuf);
		st->active = st->left > 0;
	}
	return 0;
}

static bool
item_cacheable(const struct imap_fetch_item *it)
{
	return it->kind == IMAP_FETCH_ENVELOPE ||
	       it->kind == IMAP_FETCH_BODY ||
	       it->kind == IMAP_FETCH_BODYSTRUCTURE;
}

static unsigned
item_cache_key(const struct fetch_ctx *c, const struct imap_fetch_item *it)
{
	return (unsigned)it->kind | c->write_flags << 8;
}

static int
preview_read(void *ctx, uint64_t offset, size_t len, struct buf *out)
{
	return blob_read(ctx, offset, len, out);
}

static unsigned
preview_cache_key(const struct fetch_ctx *c)
{
	return (unsigned)IMAP_FETCH_PREVIEW | c->write_flags << 8;
}

/* PREVIEW's nstring (RFC 8970 3.2): "" when the message has no text to
 * show, NIL for PREVIEW (LAZY) when it is not in the worker's cache. A
 * legacy session gets non-ASCII text as encoded words, like the other
 * header-like strings (imap_write_string's IMAP_WRITE_DOWNGRADE). */
static void
write_preview(struct fetch_ctx *c, const struct fetch_msg *m,
	      struct buf *out)
{
	struct buf text;
	size_t start = out->len;

	if (c->preview_ready) {
		buf_append(out, c->preview.data, c->preview.len);
		return;
	}
	if (!c->preview_make || c->cache == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_init(&text);
	mime_preview_extract_read(c->cache->root, m->size, preview_read, c,
				  &text);
	imap_write_string(out, text.data != NULL ? text.data : "", text.len,
			  c->write_flags);
	buf_deinit(&text);
	if (c->item_cache_max > 0)
		imap_fetch_cache_put(m->blob_id, preview_cache_key(c),
				     out->data + start, out->len - start,
				     c->item_cache_max);
}

/* Writes the item (or starts its literal). -1: read error; 1: NO. */
static int
write_item(struct fetch_ctx *c, const struct fetch_msg *m,
	   const struct imap_fetch_item *it)
{
	struct buf *out = &c->out;
	size_t start;

	if (item_cacheable(it)) {
		buf_puts(out, it->kind == IMAP_FETCH_ENVELOPE ? "ENVELOPE " :
			 it->kind == IMAP_FETCH_BODY ? "BODY " :
			 "BODYSTRUCTURE ");
		if (c->from_cache) {
			buf_append(out, c->hit[c->item].data,
				   c->hit[c->item].len);
			return 0;
		}
	}
	start = out->len;
	switch (it->kind) {
	case IMAP_FETCH_UID:
		buf_printf(out, "UID %u", m->uid);
		break;
	case IMAP_FETCH_FLAGS:
		buf_puts(out, "FLAGS ");
		buf_puts(out, m->flags != NULL ? m->flags : "()");
		break;
	case IMAP_FETCH_INTERNALDATE:
		buf_puts(out, "INTERNALDATE ");
		write_internaldate(out, m->internal_date);
		break;
	case IMAP_FETCH_SAVEDATE:
		/* every message has one: the store sets it when the message
		 * enters the mailbox (delivery, APPEND, COPY, MOVE) */
		buf_puts(out, "SAVEDATE ");
		write_internaldate(out, m->saved_date);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		buf_printf(out, "RFC822.SIZE %llu",
			   (unsigned long long)m->size);
		break;
	case IMAP_FETCH_ENVELOPE:
		envelope_cb(out, c->cache->root, NULL, 0, c);
		break;
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE: {
		struct imap_bodystructure_params p = {
			.extended = it->kind == IMAP_FETCH_BODYSTRUCTURE,
			.utf8 = (c->write_flags & IMAP_WRITE_UTF8) != 0,
			.downgrade =
				(c->write_flags & IMAP_WRITE_DOWNGRADE) != 0,
			.envelope = envelope_cb,
			.envelope_context = c,
		};

		imap_bodystructure_write(out, c->cache->root, NULL, 0, &p);
		break;
	}
	case IMAP_FETCH_SECTION:
		return item_section(c, it);
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return item_binary(c, it);
	case IMAP_FETCH_MODSEQ:
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	case IMAP_FETCH_EMAILID:
		/* RFC 8474 5.1: "(" objectid ")"; NIL for a message gone */
		if (m->email_id[0] != '\0')
			buf_printf(out, "EMAILID (%s)", m->email_id);
		else
			buf_puts(out, "EMAILID NIL");
		break;
	case IMAP_FETCH_PREVIEW:
		buf_puts(out, "PREVIEW ");
		write_preview(c, m, out);
		break;
	case IMAP_FETCH_THREADID:
		/* NIL: no thread (RFC 8474 5.2) */
		if (m->thread_id[0] != '\0')
			buf_printf(out, "THREADID (%s)", m->thread_id);
		else
			buf_puts(out, "THREADID NIL");
		break;
	}
	if (c->item_cache && item_cacheable(it))
		imap_fetch_cache_put(m->blob_id, item_cache_key(c, it),
				     out->data + start, out->len - start,
				     c->item_cache_max);
	return 0;
}

/* Every cacheable item of the plan from the worker's cache, or false. */
static bool
items_from_cache(struct fetch_ctx *c, const struct fetch_msg *m)
{
	if (c->hit == NULL)
		c->hit = xcalloc(c->plan.count, sizeof(*c->hit));
	for (size_t i = 0; i < c->plan.count; i++) {
		const struct imap_fetch_item *it = &c->plan.items[i];

		if (!item_cacheable(it))
			continue;
		if (c->hit[i].data == NULL)
			buf_init(&c->hit[i]);
		buf_reset(&c->hit[i]);
		if (!imap_fetch_cache_get(m->blob_id, item_cache_key(c, it),
					  &c->hit[i]))
			return false;
	}
	return true;
}

/* Loads what the message's items need; on failure the command ends NO
 * before any octet of this message's response. */
static bool
msg_begin(struct fetch_ctx *c, const struct fetch_msg *m)
{
	const char *error = NULL;
	enum store_result r = STORE_OK;
	bool structure = c->plan.needs_structure && !c->whole_only;
	bool octets = c->plan.needs_octets;

	c->preview_ready = false;
	c->preview_make = false;
	if (c->plan.has_preview) {
		buf_reset(&c->preview);
		c->preview_ready = c->item_cache_max > 0 && !m->expunged &&
			imap_fetch_cache_get(m->blob_id, preview_cache_key(c),
					     &c->preview);
		/* RFC 8970 4: LAZY asks for no work to make one */
		c->preview_make = !c->preview_ready && !c->plan.preview_lazy;
		structure = structure || c->preview_make;
		octets = octets || c->preview_make;
	}
	/* a message expunged elsewhere is not served from the cache: its
	 * answer is the store's (EXPUNGEISSUED once its body is gone) */
	if (c->item_cache && !m->expunged && !c->preview_make &&
	    items_from_cache(c, m)) {
		c->from_cache = true;
		return true;
	}
	if ((structure || octets) && c->reader == NULL)
		c->reader = store_blob_reader_new(c->store);
	if (structure)
		r = store_blob_reader_mime(c->reader, m->blob_id, m->size,
					   &c->cache, &error);
	c->msg_size = m->size;
	if (r == STORE_OK && octets) {
		const uint8_t *data = NULL;
		size_t len = 0;

		r = store_blob_reader_get(c->reader, m->blob_id, m->size,
					  &data, &len, &c->fd, &error);
		if (r == STORE_OK && data != NULL) {
			/* the reader's until this job ends (fetch_work) */
			c->mem = data;
			c->mem_len = len;
			c->mem_owned = false;
		}
	}
	if (r != STORE_OK && m->expunged) {
		/* RFC 9051 7.1: expunged elsewhere, its EXPUNGE held back
		 * (imap-sync.c) and its body already collected */
		c->no_text = xasprintf("[EXPUNGEISSUED] Message %u was "
				       "expunged by another session", m->seq);
		return false;
	}
	if (r != STORE_OK) {
		c->no_text = xasprintf("[%s] FETCH failed for message %u: %s",
				       r == STORE_E_TEMP ? "UNAVAILABLE" :
				       "SERVERBUG", m->seq,
				       error != NULL ? error :
				       store_result_str(r));
		return false;
	}
	/* RFC 3516: an encoding we cannot decode fails the command before
	 * its response starts */
	for (size_t i = 0; c->cache != NULL && i < c->plan.count; i++) {
		const struct imap_fetch_item *it = &c->plan.items[i];
		struct imap_section sec;
		const char *why;

		if (it->kind != IMAP_FETCH_BINARY &&
		    it->kind != IMAP_FETCH_BINARY_SIZE)
			continue;
		if (it->section[0] == '\0' ||
		    imap_section_resolve(c->cache->root, it->section, &sec,
					 &why) != IMAP_SECTION_OK)
			continue;
		if (cte_from_name(sec.part->encoding) == CTE_UNKNOWN) {
			c->no_text = xasprintf("[UNKNOWN-CTE] Cannot decode "
					       "%s of message %u",
					       sec.part->encoding, m->seq);
			return false;
		}
	}
	return true;
}

static void
msg_end(struct fetch_ctx *c)
{
	mime_cache_free(&c->cache);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->mem_owned)
		free((void *)c->mem);
	c->mem = NULL;
	c->mem_owned = false;
	c->mem_len = 0;
	c->from_cache = false;
	c->in_msg = false;
	c->item = 0;
	c->next++;
}

/* The pool job: produces responses until the chunk is full, the
 * messages are done, or the command must end. */
/* EMAILID and THREADID of every message, in one read, before the first
 * response; a failure ends the command NO. */
static void
ids_read(struct fetch_ctx *c)
{
	struct store_message_ids *ids = NULL;
	uint32_t *uids;
	size_t n = 0, k = 0;
	const char *error = NULL;
	enum store_result r;

	c->ids_read = true;
	if (c->count == 0)
		return;
	uids = xcalloc(c->count, sizeof(*uids));
	for (size_t i = 0; i < c->count; i++)
		uids[i] = c->msgs[i].uid;
	/* the set's order is the view's, UID order */
	r = store_message_ids(c->store, c->mailbox_id, uids, c->count, &ids,
			      &n, &error);
	free(uids);
	if (r != STORE_OK) {
		c->no_text = xasprintf("[%s] FETCH failed: %s",
				       r == STORE_E_TEMP ? "UNAVAILABLE" :
				       "SERVERBUG", error != NULL ? error :
				       store_result_str(r));
		return;
	}
	for (size_t i = 0; i < c->count && k < n; i++) {
		struct fetch_msg *m = &c->msgs[i];

		while (k < n && ids[k].uid < m->uid)
			k++;
		if (k < n && ids[k].uid == m->uid) {
			memcpy(m->email_id, ids[k].email_id,
			       sizeof(m->email_id));
			memcpy(m->thread_id, ids[k].thread_id,
			       sizeof(m->thread_id));
		}
	}
	free(ids);
}

static void
fetch_work(void *p)
{
	struct fetch_ctx *c = p;

	if (c->plan.needs_ids && !c->ids_read)
		ids_read(c);

	while (c->next < c->count && c->out.len < FETCH_CHUNK &&
	       c->no_text == NULL && !c->fatal) {
		const struct fetch_msg *m = &c->msgs[c->next];

		if (!c->in_msg) {
			if (!msg_begin(c, m))
				break;
			buf_printf(&c->out, c->uidonly ? "* %u UIDFETCH (" :
				   "* %u FETCH (", m->seq);
			c->in_msg = true;
			c->item = 0;
		}
		if (c->st.active) {
			if (stream_step(c) < 0)
				c->fatal = true;
			continue;
		}
		if (c->item < c->plan.count) {
			int ret;

			if (c->item > 0)
				buf_putc(&c->out, ' ');
			ret = write_item(c, m, &c->plan.items[c->item]);
			c->item++;
			/* a read error mid-response; UNKNOWN-CTE (ret > 0)
			 * was ruled out by msg_begin, so cannot come here */
			if (ret != 0)
				c->fatal = true;
			continue;
		}
		if (m->flags_extra) {
			buf_puts(&c->out, " FLAGS ");
			buf_puts(&c->out, m->flags);
		}
		if (m->modseq_extra)
			buf_printf(&c->out, " MODSEQ (%llu)",
				   (unsigned long long)m->modseq);
		buf_puts(&c->out, ")\r\n");
		msg_end(c);
	}
	/* the snapshot goes back before the loop waits for the client;
	 * a message not finished keeps its octets */
	if (c->mem != NULL && !c->mem_owned) {
		uint8_t *copy = xmalloc(c->mem_len > 0 ? c->mem_len : 1);

		memcpy(copy, c->mem, c->mem_len);
		c->mem = copy;
		c->mem_owned = true;
	}
	store_blob_reader_free(&c->reader);
}

/* ---- the loop thread ---- */

static enum imap_cmd_result fetch_resume(struct imap_cmd *cmd);

static void
fetch_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct fetch_ctx *c = cmd->ctx;

	if (c->out.len > 0) {
		imap_session_write(s, c->out.data, c->out.len);
		buf_reset(&c->out);
	}
	if (c->fatal) {
		/* mid-response: nothing the client could parse can follow */
		imap_session_bye(s, "Cannot read a message being sent");
		return;
	}
	if (c->no_text != NULL || c->next >= c->count)
		imap_session_set_output_high(s, 0);
	if (c->no_text != NULL) {
		(void)imap_cmd_no(cmd, "%s", c->no_text);
		return;
	}
	if (c->next >= c->count) {
		if (c->modseq_out) {
			s->modseq_sent = true;
			imap_sync_write_held_modseq(s);
		}
		(void)imap_cmd_ok(cmd, "%s completed",
				  cmd->uid ? "UID FETCH" : "FETCH");
		return;
	}
	if (imap_session_output_full(s)) {
		cmd->drain = fetch_resume;
		return;
	}
	(void)fetch_resume(cmd);
}

static enum imap_cmd_result
fetch_resume(struct imap_cmd *cmd)
{
	return imap_cmd_run_blocking(cmd, fetch_work, fetch_done, cmd->ctx,
				     fetch_ctx_free);
}

/* FLAGS text for the messages that need it (after \Seen), from the
 * view, then the responses. */
static void
fetch_begin_output(struct imap_cmd *cmd, struct fetch_ctx *c)
{
	struct imap_session *s = cmd->s;
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < c->count; i++) {
		struct fetch_msg *m = &c->msgs[i];

		m->flags_extra = !c->plan.has_flags && c->seen_changed[i];
		/* the view's, after \Seen (RFC 7162 3.2: a flag change
		 * goes out with its MODSEQ) */
		m->modseq = s->box->msgs[c->idx[i]].modseq;
		m->modseq_extra = s->condstore && !c->plan.has_modseq &&
				  c->seen_changed[i];
		if (m->modseq_extra || c->plan.has_modseq)
			c->modseq_out = true;
		if (!c->plan.has_flags && !m->flags_extra)
			continue;
		buf_reset(&b);
		imap_msg_write_flags(s, s->box, &s->box->msgs[c->idx[i]], &b);
		m->flags = xstrdup(b.data);
	}
	buf_deinit(&b);
	/* back to the default when the command ends (fetch_done) */
	if (c->count > 1)
		imap_session_set_output_high(s, FETCH_OUTPUT_HIGH);
	(void)fetch_resume(cmd);
}

static void
seen_work(void *p)
{
	struct fetch_ctx *c = p;
	const char *error = NULL;
	struct store_flags_change change = { .add = STORE_FLAG_SEEN };

	c->seen_r = store_flags_store(c->store, c->mailbox_id, c->seen_uids,
				      c->n_seen, &change, &c->seen_res,
				      &error);
	if (c->seen_r != STORE_OK)
		c->seen_error = xstrdup(error != NULL ? error :
					store_result_str(c->seen_r));
}

static void
seen_done(struct imap_cmd *cmd)
{
	struct imap_mailbox *box = cmd->s->box;
	struct fetch_ctx *c = cmd->ctx;

	if (c->seen_r != STORE_OK) {
		(void)imap_cmd_store_error(cmd, c->seen_r, c->seen_error);
		return;
	}
	imap_mailbox_own(box);
	for (size_t k = 0; k < c->seen_res.count; k++) {
		const struct store_flags_msg *fm = &c->seen_res.msgs[k];
		ssize_t at = imap_mailbox_find_uid(box, fm->uid);

		if (at < 0 || !fm->changed)
			continue;
		box->msgs[at].flags |= STORE_FLAG_SEEN;
		if (fm->modseq > box->msgs[at].modseq)
			box->msgs[at].modseq = fm->modseq;
	}
	/* FLAGS goes out for each message whose view gained \Seen here
	 * (RFC 9051 6.4.5), asked for or not */
	for (size_t i = 0; i < c->count; i++)
		c->seen_changed[i] = (box->msgs[c->idx[i]].flags &
				      STORE_FLAG_SEEN) &&
			!(c->seen_before[i] & STORE_FLAG_SEEN);
	fetch_begin_output(cmd, c);
}

/* FETCH's modifier list (RFC 4466 2.4): (CHANGEDSINCE n), RFC 7162
 * 3.1.4.1, with n a mod-sequence-value (not 0). Returns 0, or -1 with a
 * static *error_r. */
static int
fetch_modifiers(const struct imap_arg *list, bool qresync, bool uid,
		uint64_t *changedsince_r, bool *vanished_r,
		struct imap_partial_range *partial_r, bool *has_partial_r,
		const char **error_r)
{
	if (list->list_count == 0) {
		*error_r = "Empty FETCH modifier list";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (imap_arg_atom_equals(a, "CHANGEDSINCE") &&
		    *changedsince_r == 0) {
			if (i + 1 >= list->list_count ||
			    !imap_arg_get_number64(&list->list[i + 1],
						   changedsince_r) ||
			    *changedsince_r == 0 ||
			    *changedsince_r > INT64_MAX) {
				*error_r = "CHANGEDSINCE needs a mod-sequence";
				return -1;
			}
			i++;
			continue;
		}
		/* RFC 9394 3.2: a page of the set (after CHANGEDSINCE) */
		if (imap_arg_atom_equals(a, "PARTIAL") && !*has_partial_r) {
			const struct imap_arg *r = i + 1 < list->list_count ?
				&list->list[i + 1] : NULL;

			if (r == NULL || r->type != IMAP_ARG_ATOM ||
			    !imap_partial_range_parse(r->str, r->len,
						      partial_r)) {
				*error_r = "PARTIAL needs a range";
				return -1;
			}
			*has_partial_r = true;
			i++;
			continue;
		}
		if (imap_arg_atom_equals(a, "VANISHED") && qresync && uid &&
		    !*vanished_r) {
			*vanished_r = true;
			continue;
		}
		*error_r = imap_arg_atom_equals(a, "VANISHED") ?
			"VANISHED needs QRESYNC and UID FETCH" :
			"Unknown FETCH modifier";
		return -1;
	}
	if (*vanished_r && *changedsince_r == 0) {
		*error_r = "VANISHED needs CHANGEDSINCE";
		return -1;
	}
	return 0;
}

/* The UIDs of the set expunged after changedsince (the store's change
 * log) that the view does not hold: a UID still in the view is the
 * sync's to announce. */
static void
vanished_work(void *p)
{
	struct fetch_ctx *c = p;
	struct store_mailbox_delta d;
	const char *error = NULL;

	memset(&d, 0, sizeof(d));
	c->v_r = store_mailbox_delta(c->store, c->mailbox_id,
				     c->changedsince, UINT32_MAX, &d, &error);
	if (c->v_r != STORE_OK) {
		c->v_error = xstrdup(error != NULL ? error :
				     store_result_str(c->v_r));
		return;
	}
	c->v_gaps = d.expunged_partial;
	c->v_uids = xcalloc(d.n_expunged + 1, sizeof(*c->v_uids));
	for (size_t i = 0; i < d.n_expunged && !c->v_gaps; i++) {
		for (size_t k = 0; k < c->uidset.count; k++) {
			uint32_t lo, hi;

			imap_seq_range_bounds(&c->uidset.ranges[k],
					      UINT32_MAX, &lo, &hi);
			if (d.expunged[i] >= lo && d.expunged[i] <= hi) {
				c->v_uids[c->n_v++] = d.expunged[i];
				break;
			}
		}
	}
	store_mailbox_delta_free(&d);
}

static enum imap_cmd_result fetch_continue(struct imap_cmd *cmd,
					   struct fetch_ctx *c);

static void
vanished_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct fetch_ctx *c = cmd->ctx;
	struct buf *out = imap_session_out(s);
	size_t k = 0;

	if (c->v_r != STORE_OK) {
		(void)imap_cmd_store_error(cmd, c->v_r, c->v_error);
		return;
	}
	for (size_t i = 0; i < c->n_v; i++)
		if (imap_mailbox_find_uid(s->box, c->v_uids[i]) < 0)
			c->v_uids[k++] = c->v_uids[i];
	/* RFC 7162 3.2.6: before the FETCHes */
	if (c->v_gaps) {
		size_t mark = out->len;
		uint32_t *pairs;
		size_t n = imap_uid_pairs(&c->uidset, &pairs);

		buf_puts(out, "* VANISHED (EARLIER) ");
		if (imap_write_uid_gaps(out, pairs, n, s->box))
			buf_puts(out, "\r\n");
		else
			buf_truncate(out, mark);
		free(pairs);
	} else if (k > 0) {
		buf_puts(out, "* VANISHED (EARLIER) ");
		imap_write_uid_set(out, c->v_uids, k);
		buf_puts(out, "\r\n");
	}
	c->vanished = false;
	(void)fetch_continue(cmd, c);
}

enum imap_cmd_result
imap_cmd_fetch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_mailbox *box = s->box;
	struct fetch_ctx *c;
	const char *error = NULL;
	uint64_t changedsince = 0;
	bool vanished = false, has_partial = false;
	struct imap_partial_range partial;
	size_t n, n_items;

	if (cmd->n_args < 2)
		return imap_cmd_bad(cmd, "FETCH needs a sequence set and items");
	n_items = cmd->n_args - 1;
	/* "FETCH 1 PREVIEW (LAZY)": the list is PREVIEW's (RFC 8970 7) */
	if (cmd->n_args == 3 && cmd->args[2].type == IMAP_ARG_LIST &&
	    !(imap_arg_atom_equals(&cmd->args[1], "PREVIEW") &&
	      imap_fetch_is_preview_mods(&cmd->args[2]))) {
		if (fetch_modifiers(&cmd->args[2], s->qresync, cmd->uid,
				    &changedsince, &vanished, &partial,
				    &has_partial, &error) < 0)
			return imap_cmd_bad(cmd, "%s", error);
		n_items--;
	}
	/* RFC 9738 with RFC 9394: PARTIAL's range counts the messages, not
	 * the set; the set is not cut (a window of its highest messages
	 * would not be the range asked for) and a range above the limit
	 * does nothing */
	if (has_partial) {
		int64_t span = partial.hi - partial.lo;

		if ((uint64_t)(span < 0 ? -span : span) + 1 >
		    s->set->message_limit)
			return imap_cmd_no(cmd, "[MESSAGELIMIT %u] %s of more "
					   "than %u messages",
					   s->set->message_limit,
					   cmd->uid ? "UID FETCH" : "FETCH",
					   s->set->message_limit);
		cmd->no_limit = true;
	}
	c = xcalloc(1, sizeof(*c));
	if (vanished) {
		const struct imap_arg *a = &cmd->args[0];

		if (a->type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(a->str, a->len,
				      IMAP_SEQSET_RANGES_DEFAULT, &c->uidset,
				      &error) < 0 || c->uidset.saved) {
			imap_seqset_deinit(&c->uidset);
			free(c);
			return imap_cmd_bad(cmd, "VANISHED needs a UID set");
		}
		c->vanished = true;
		c->changedsince = changedsince;
	}
	c->fd = -1;
	buf_init(&c->out);
	buf_init(&c->tmp);
	buf_init(&c->preview);
	if (imap_fetch_plan_parse(cmd->args + 1, n_items, cmd->uid,
				  &c->plan, &error) < 0 ||
	    imap_session_seqset(s, &cmd->args[0], cmd->uid, &c->idx,
				&c->count, &error) < 0) {
		fetch_ctx_free(c);
		return imap_cmd_bad(cmd, "%s", error);
	}
	if (changedsince > 0) {
		/* RFC 7162 3.1.4.1: only messages changed since, with
		 * their MODSEQ */
		size_t k = 0;

		for (size_t i = 0; i < c->count; i++)
			if (box->msgs[c->idx[i]].modseq > changedsince)
				c->idx[k++] = c->idx[i];
		c->count = k;
		if (!c->plan.has_modseq) {
			c->plan.items = xreallocarray(c->plan.items,
						      c->plan.count + 1,
						      sizeof(*c->plan.items));
			memset(&c->plan.items[c->plan.count], 0,
			       sizeof(*c->plan.items));
			c->plan.items[c->plan.count++].kind =
				IMAP_FETCH_MODSEQ;
			c->plan.has_modseq = true;
		}
	}
	if (has_partial) {
		size_t from, to;

		imap_partial_range_window(&partial, c->count, &from, &to);
		if (to > from)
			memmove(c->idx, c->idx + from,
				(to - from) * sizeof(*c->idx));
		c->count = to - from;
	}
	/* RFC 7162 3.1: a command that uses CONDSTORE turns it on */
	if (c->plan.has_modseq)
		s->condstore = true;
	c->store = s->store;
	c->mailbox_id = box->id;
	/* RFC 9755 7: a session that did not enable UTF8=ACCEPT gets the
	 * header text of internationalized messages downgraded */
	c->write_flags = s->utf8 || s->rev2 ? IMAP_WRITE_UTF8 :
		IMAP_WRITE_DOWNGRADE;
	c->header_max = s->set->fetch_header_max;
	c->uidonly = s->uidonly;
	c->item_cache_max = (size_t)s->set->fetch_cache_size;
	c->item_cache = c->item_cache_max > 0 && c->plan.needs_structure &&
			!c->plan.needs_octets;
	c->whole_only = c->plan.needs_octets;
	for (size_t i = 0; i < c->plan.count; i++) {
		const struct imap_fetch_item *it = &c->plan.items[i];

		if (item_cacheable(it) || it->kind == IMAP_FETCH_PREVIEW ||
		    it->kind == IMAP_FETCH_BINARY ||
		    it->kind == IMAP_FETCH_BINARY_SIZE ||
		    (it->kind == IMAP_FETCH_SECTION &&
		     (it->section[0] != '\0' || it->has_fields)))
			c->whole_only = false;
	}
	n = c->count > 0 ? c->count : 1;
	c->msgs = xcalloc(n, sizeof(*c->msgs));
	c->seen_changed = xcalloc(n, sizeof(*c->seen_changed));
	c->seen_before = xcalloc(n, sizeof(*c->seen_before));
	for (size_t i = 0; i < c->count; i++) {
		const struct imap_msg *v = &box->msgs[c->idx[i]];
		struct fetch_msg *m = &c->msgs[i];

		m->seq = s->uidonly ? v->uid : (uint32_t)(c->idx[i] + 1);
		m->uid = v->uid;
		m->size = v->size;
		m->internal_date = v->internal_date;
		m->saved_date = v->saved_date;
		memcpy(m->blob_id, v->blob_id, sizeof(m->blob_id));
		m->expunged = v->expunged;
		c->seen_before[i] = v->flags;
		/* RFC 9051 6.4.5: the body items set \Seen, on a mailbox
		 * opened read-write */
		if (c->plan.sets_seen && !box->readonly &&
		    !(v->flags & STORE_FLAG_SEEN) &&
		    /* RFC 4314 4: not without "s" */
		    imap_acl_check_selected(box, STORE_ACL_SEEN) ==
		    IMAP_ACL_OK) {
			if (c->seen_uids == NULL)
				c->seen_uids = xcalloc(n, sizeof(*c->seen_uids));
			c->seen_uids[c->n_seen++] = v->uid;
		}
	}
	return fetch_continue(cmd, c);
}

/* The steps that need the pool before the output: VANISHED, \Seen. */
static enum imap_cmd_result
fetch_continue(struct imap_cmd *cmd, struct fetch_ctx *c)
{
	if (c->vanished)
		return imap_cmd_run_blocking(cmd, vanished_work, vanished_done,
					     c, fetch_ctx_free);
	if (c->n_seen > 0 && c->seen_uids != NULL && !c->seen_ran) {
		c->seen_ran = true;
		return imap_cmd_run_blocking(cmd, seen_work, seen_done, c,
					     fetch_ctx_free);
	}
	cmd->ctx = c;
	cmd->ctx_free = fetch_ctx_free;
	fetch_begin_output(cmd, c);
	return IMAP_CMD_PENDING;
}
