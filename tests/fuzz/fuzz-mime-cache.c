/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the MIME structure record (mail/mime-cache). The
 * first octet picks the mode. Even: the rest is a message; its parsed
 * tree, written and read back, must give the same record again, and the
 * ENVELOPE from the record must equal the one from the message. Odd: the
 * rest is a record as if read from the store; reading it must never
 * crash, and one that reads must describe ranges inside the message and
 * write back to a record that reads again to the same octets.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-bodystructure.h"
#include "imap/imap-envelope.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime-cache.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check_ranges(const struct mime_cache *c)
{
	for (size_t i = 0; i < c->part_count; i++) {
		const struct mime_part *p = &c->parts[i];

		if (p->body_offset != p->header_offset + p->header_size ||
		    p->body_offset + p->body_size > c->msg_size)
			abort();
	}
}

static void
fz_record(const uint8_t *data, size_t size)
{
	struct mime_cache *c = NULL;
	const char *error = NULL;
	/* the message size is the record's own, if it has one */
	uint64_t msg_size = 0;

	if (size > 4) {
		for (size_t i = 4, shift = 0; i < size && shift < 64;
		     i++, shift += 7) {
			msg_size |= (uint64_t)(data[i] & 0x7f) << shift;
			if ((data[i] & 0x80) == 0)
				break;
		}
	}
	if (mime_cache_read(data, size, msg_size, &c, &error) < 0) {
		if (c != NULL || error == NULL)
			abort();
		return;
	}
	fz_check_ranges(c);
	struct buf out;

	buf_init(&out);
	imap_bodystructure_write(&out, c->root, NULL, 0,
		&(struct imap_bodystructure_params){ .extended = true });
	buf_deinit(&out);
	mime_cache_free(&c);
}

static void
fz_env_cb(struct buf *out, const struct mime_part *msg, const uint8_t *d,
	  size_t n, void *context)
{
	size_t len;
	const char *env = mime_cache_envelope(context, msg, &len);

	if (env == NULL)
		abort();
	imap_envelope_write(out, env, len, NULL, 0);
}

static void
fz_message(const uint8_t *msg, size_t size)
{
	struct mime_part *root = mime_parse(msg, size, NULL);
	struct mime_cache *c = NULL;
	const char *error = NULL;
	struct buf rec, rec2, a, b;

	buf_init(&rec);
	buf_init(&rec2);
	buf_init(&a);
	buf_init(&b);
	mime_cache_write_mem(&rec, root, msg, size);
	if (mime_cache_read((const uint8_t *)rec.data, rec.len, size, &c,
			    &error) < 0)
		abort();
	fz_check_ranges(c);
	mime_cache_write_mem(&rec2, c->root, msg, size);
	if (rec.len != rec2.len || memcmp(rec.data, rec2.data, rec.len) != 0)
		abort();
	/* ENVELOPE within the cap: the record's equals the message's */
	if (root->header_size <= MIME_CACHE_ENVELOPE_HEADER_MAX) {
		size_t len;
		const char *env = mime_cache_envelope(c, c->root, &len);

		imap_envelope_write(&a, (const char *)msg,
				    (size_t)root->header_size, NULL, 0);
		imap_envelope_write(&b, env, len, NULL, 0);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	imap_bodystructure_write(&a, root, msg, size,
		&(struct imap_bodystructure_params){
			.extended = true,
			.envelope = imap_envelope_part_write });
	imap_bodystructure_write(&b, c->root, NULL, 0,
		&(struct imap_bodystructure_params){
			.extended = true, .envelope = fz_env_cb,
			.envelope_context = c });
	/* nested headers may pass the cap only in a huge input */
	if (size <= MIME_CACHE_ENVELOPE_HEADER_MAX &&
	    (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
		abort();
	mime_cache_free(&c);
	mime_part_free(&root);
	buf_deinit(&rec);
	buf_deinit(&rec2);
	buf_deinit(&a);
	buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fz_record(data + 1, size - 1);
	else
		fz_message(data + 1, size - 1);
	return 0;
}
