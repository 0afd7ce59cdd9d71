/* SPDX-License-Identifier: MIT */
/*
 * The MIME structure cache (docs/store.md): records are made as blobs are
 * stored (store-blob.c calls in here), saved beside them, read back and
 * checked for FETCH, and made late, from the blob, for bodies stored
 * before the cache existed or whose record does not read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mail/mime-cache.h"
#include "mail/mime.h"
#include "store/store-private.h"

/* Blocks in which a blob is read to parse it. */
#define STORE_MIME_READ_BLOCK (64 * 1024)

static void
mime_put_done(struct store *store, void *ctx, enum store_result result,
	      const char *error)
{
	struct store_mime_put *mp = ctx;

	(void)store;
	if (result != STORE_OK)
		log_warn(NULL, "store", "mime-cache-insert-failed",
			 "blob=%s result=%s error=\"%s\"", mp->id,
			 store_result_str(result), error != NULL ? error : "");
	free(mp->data);
	free(mp);
}

void
store_mime_queue(struct store *store, const char *id, const void *data,
		 size_t len)
{
	struct store_mime_put *mp;

	if (store->ops->mime_put == NULL)
		return;
	mp = xcalloc(1, sizeof(*mp));
	memcpy(mp->id, id, sizeof(mp->id) - 1);
	mp->data = xmemdup(data, len);
	mp->len = len;
	/* not waited for: it rides with the next commit, and until then
	 * a FETCH that misses it parses the blob again (same record) */
	if (store_commit_queue(store, store->ops->mime_put, mp, mime_put_done,
			       NULL) != STORE_OK) {
		free(mp->data);
		free(mp);
	}
}

static int
fd_read(void *ctx, uint64_t offset, size_t len, struct buf *out)
{
	int fd = *(const int *)ctx;
	size_t done = 0;

	buf_reserve(out, len);
	while (done < len) {
		ssize_t n = pread(fd, out->data + out->len, len - done,
				  (off_t)(offset + done));

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

int
store_mime_record_fd(int fd, struct mime_part *root, uint64_t size,
		     struct buf *out)
{
	return mime_cache_write(out, root, size, fd_read, &fd);
}

/* Parses blob id from its file descriptor, saves the record, reads it
 * back into *cache_r. */
static enum store_result
mime_from_blob(struct store *store, const char *id, uint64_t size,
	       struct mime_cache **cache_r, const char **error_r)
{
	struct mime_parser *parser;
	struct mime_part *root;
	uint8_t *block;
	uint64_t total = 0;
	struct buf rec;
	const char *why;
	enum store_result r;
	int fd, ret;

	r = store_blob_open(store, id, &fd, error_r);
	if (r != STORE_OK)
		return r;
	parser = mime_parser_new(NULL);
	block = xmalloc(STORE_MIME_READ_BLOCK);
	for (;;) {
		ssize_t n = pread(fd, block, STORE_MIME_READ_BLOCK,
				  (off_t)total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = store_error(error_r, STORE_E_TEMP,
					"cannot read blob %s: %s", id,
					strerror(errno));
			break;
		}
		if (n == 0)
			break;
		mime_parser_feed(parser, block, (size_t)n);
		total += (uint64_t)n;
	}
	free(block);
	root = mime_parser_finish(&parser);
	if (r == STORE_OK && total != size)
		r = store_error(error_r, STORE_E_TEMP,
				"blob %s has %llu octets, its message %llu", id,
				(unsigned long long)total,
				(unsigned long long)size);
	buf_init(&rec);
	if (r == STORE_OK && store_mime_record_fd(fd, root, total, &rec) < 0)
		r = store_error(error_r, STORE_E_TEMP,
				"cannot read blob %s", id);
	close(fd);
	mime_part_free(&root);
	if (r == STORE_OK) {
		store_mime_queue(store, id, rec.data, rec.len);
		ret = mime_cache_read((const uint8_t *)rec.data, rec.len, size,
				      cache_r, &why);
		if (ret < 0)
			panic("store: a fresh MIME record does not read: %s",
			      why);
	}
	buf_deinit(&rec);
	return r;
}

enum store_result
store_mime_get(struct store *store, const char *id, uint64_t size,
	       struct mime_cache **cache_r, const char **error_r)
{
	uint8_t *data = NULL;
	size_t len = 0;
	const char *why;
	enum store_result r;

	*cache_r = NULL;
	if (!store_blob_id_is_valid(id))
		return store_error(error_r, STORE_E_INVALID,
				   "not a blob id");
	r = store->ops->mime_get != NULL ?
		store->ops->mime_get(store, id, &data, &len, error_r) :
		STORE_E_NOT_FOUND;
	if (r == STORE_OK) {
		int ret = mime_cache_read(data, len, size, cache_r, &why);

		if (ret == 0) {
			free(data);
			return STORE_OK;
		}
		/* another version (expected after an upgrade, silent), or
		 * damage: made again and replaced */
		if (len >= 4 && data[3] == MIME_CACHE_VERSION)
			log_warn(NULL, "store", "mime-cache-damaged",
				 "blob=%s reason=\"%s\"", id, why);
		free(data);
	} else if (r != STORE_E_NOT_FOUND) {
		return r;
	}
	return mime_from_blob(store, id, size, cache_r, error_r);
}
