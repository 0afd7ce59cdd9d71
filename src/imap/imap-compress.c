/* SPDX-License-Identifier: MIT */
/*
 * COMPRESS=DEFLATE (RFC 4978): the command and the raw deflate layer (no
 * zlib header, windowBits -15 for what the client sends) between the
 * session and its conn. Sitting above ioev, it compresses before TLS
 * encrypts. Every write is flushed (Z_SYNC_FLUSH, RFC 4978 4), and input
 * is inflated only as far as the parser is about to read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "imap/imap-private.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "lib/mem.h"

struct imap_compress {
	z_stream in;		/* the client's commands */
	z_stream out;		/* our responses */
	bool in_init, out_init;
	bool failed;		/* the client's stream was corrupt */
	uint8_t *plain;		/* inflated, not yet consumed by the parser */
	size_t plain_off, plain_len;
	uint64_t raw_in, raw_out, plain_in, plain_out;
};

static voidpf
z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return xcalloc(items, size);
}

static void
z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

void
imap_compress_free(struct imap_compress **cp)
{
	struct imap_compress *c = *cp;

	if (c == NULL)
		return;
	if (c->in_init)
		(void)inflateEnd(&c->in);
	if (c->out_init)
		(void)deflateEnd(&c->out);
	if (c->plain != NULL)
		mem_wipe(c->plain, IMAP_COMPRESS_IN_MAX);
	free(c->plain);
	xfree(cp);
}

void
imap_compress_start(struct imap_session *s)
{
	struct imap_compress *c = xcalloc(1, sizeof(*c));
	int wbits = (int)s->set->compress_window_bits;

	c->in.zalloc = c->out.zalloc = z_alloc;
	c->in.zfree = c->out.zfree = z_free;
	/* the client may use a 32 KiB window: inflate needs all of it */
	if (inflateInit2(&c->in, -15) != Z_OK)
		panic("imap: inflateInit2 failed");
	c->in_init = true;
	/* deflate's state is 2^(wbits+2) for the window plus
	 * 2^(memLevel+9) for the hash: memLevel wbits-7 makes it
	 * 2^(wbits+3), 128 KiB at the default 14 (docs/limits.md) */
	if (deflateInit2(&c->out, (int)s->set->compress_level, Z_DEFLATED,
			 -wbits, wbits - 7, Z_DEFAULT_STRATEGY) != Z_OK)
		panic("imap: deflateInit2 failed");
	c->out_init = true;
	c->plain = xmalloc(IMAP_COMPRESS_IN_MAX);
	s->compress = c;
	log_debug(s->id, "imap", "compress", "level=%u window_bits=%d",
		  s->set->compress_level, wbits);
}

void
imap_compress_write(struct imap_session *s, const void *data, size_t len)
{
	struct imap_compress *c = s->compress;
	uint8_t chunk[16384];

	if (len == 0 || ioev_conn_is_closed(s->conn))
		return;
	c->out.next_in = (Bytef *)(uintptr_t)data;
	c->out.avail_in = (uInt)len;
	c->plain_out += len;
	/* zlib's contract for a flush: call again while it filled all the
	 * output space; done (input taken, flushed) once it did not */
	do {
		size_t n;

		c->out.next_out = chunk;
		c->out.avail_out = sizeof(chunk);
		if (deflate(&c->out, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			panic("imap: deflate state broken");
		n = sizeof(chunk) - c->out.avail_out;
		c->raw_out += n;
		if (n > 0 && ioev_conn_write(s->conn, chunk, n) < 0)
			break;
	} while (c->out.avail_out == 0);
	c->out.next_in = NULL;
	c->out.avail_in = 0;
}

static void
fail(struct imap_session *s, const char *why)
{
	struct imap_compress *c = s->compress;

	c->failed = true;
	log_info(s->id, "imap", "compress-error", "rip=%s error=\"%s\" "
		 "raw_in=%llu", ioev_conn_peer_ip(s->conn), why,
		 (unsigned long long)c->raw_in);
	ioev_conn_close(s->conn);
}

size_t
imap_compress_input_len(struct imap_session *s)
{
	struct imap_compress *c = s->compress;

	if (c->failed)
		return 0;
	if (c->plain_off > 0) {
		memmove(c->plain, c->plain + c->plain_off,
			c->plain_len - c->plain_off);
		c->plain_len -= c->plain_off;
		c->plain_off = 0;
	}
	while (c->plain_len < IMAP_COMPRESS_IN_MAX) {
		size_t raw = ioev_conn_input_len(s->conn), n, used, made;
		const uint8_t *p;
		int ret;

		/* paused input reads as empty here too */
		if (raw == 0)
			break;
		p = ioev_conn_peek(s->conn, raw, &n);
		c->in.next_in = (Bytef *)(uintptr_t)p;
		c->in.avail_in = (uInt)n;
		c->in.next_out = c->plain + c->plain_len;
		c->in.avail_out = (uInt)(IMAP_COMPRESS_IN_MAX - c->plain_len);
		ret = inflate(&c->in, Z_SYNC_FLUSH);
		used = n - c->in.avail_in;
		made = IMAP_COMPRESS_IN_MAX - c->plain_len - c->in.avail_out;
		c->in.next_in = NULL;
		c->in.avail_in = 0;
		ioev_conn_consume(s->conn, used);
		c->raw_in += used;
		c->plain_in += made;
		c->plain_len += made;
		if (ret == Z_STREAM_END) {
			fail(s, "the client ended its deflate stream");
			return 0;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			fail(s, c->in.msg != NULL ? c->in.msg :
			     "corrupt deflate data");
			return 0;
		}
		if (used == 0 && made == 0)
			break;
	}
	return c->plain_len;
}

const uint8_t *
imap_compress_peek(struct imap_session *s, size_t want, size_t *len_r)
{
	struct imap_compress *c = s->compress;
	size_t avail = c->plain_len - c->plain_off;

	*len_r = want < avail ? want : avail;
	return c->plain + c->plain_off;
}

void
imap_compress_consume(struct imap_session *s, size_t n)
{
	struct imap_compress *c = s->compress;

	mem_wipe(c->plain + c->plain_off, n);
	c->plain_off += n;
	if (c->plain_off == c->plain_len)
		c->plain_off = c->plain_len = 0;
}

enum imap_cmd_result
imap_cmd_compress(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *a = cmd->args;

	if (cmd->n_args != 1 || a->type != IMAP_ARG_ATOM ||
	    a->len != 7 || strncasecmp(a->str, "DEFLATE", 7) != 0)
		return imap_cmd_bad(cmd, "COMPRESS takes one mechanism: "
				    "DEFLATE");
	/* RFC 5530 3: the mechanism is on already (TLS compression is off
	 * in tls/, so only our own) */
	if (s->compress != NULL || s->compress_pending)
		return imap_cmd_no(cmd, "[COMPRESSIONACTIVE] DEFLATE is "
				   "active already");
	/* the OK goes out in clear; compression starts right after its
	 * CRLF (RFC 4978 3), in cmd_end */
	s->compress_pending = true;
	return imap_cmd_ok(cmd, "DEFLATE active");
}
