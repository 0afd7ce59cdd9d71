/* SPDX-License-Identifier: MIT */
/*
 * Content-addressed message blobs: <data_dir>/blobs/<2 hex>/<sha256 hex>.
 * Written once through a temp file in blobs/tmp (same filesystem): write,
 * fsync, link into place (never replacing an existing file), fsync the
 * directory. Only then may a database row reference the id (DESIGN.md 5).
 */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "lib/mem.h"

struct store_blob_writer {
	struct store *store;
	int fd;
	char *tmp_path;
	EVP_MD_CTX *md;
	uint64_t size;
};

static enum store_result
errno_result(int err)
{
	/* A missing file is a broken reference, not something to retry; all
	 * other I/O errors (ENOSPC, EIO, EMFILE...) may go away. */
	return err == ENOENT ? STORE_E_NOT_FOUND : STORE_E_TEMP;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	if (ret < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	return 0;
}

/* Creates dir if missing; when it was created, fsyncs its parent so the
 * new entry survives a crash. */
static int
mkdir_durable(const char *dir, const char *parent)
{
	if (mkdir(dir, 0750) == 0)
		return fsync_dir(parent);
	return errno == EEXIST ? 0 : -1;
}

bool
store_blob_id_is_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return i == STORE_BLOB_ID_LEN;
}

/* A temp file this old belongs to a writer that died (kill -9, crash):
 * writers live for one message, so a day leaves a wide margin for other
 * processes that share data_dir and are still writing. */
#define BLOB_TMP_MAX_AGE_S (24 * 3600)

static void
tmp_cleanup(const char *tmp_dir)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *de;
	time_t limit = time(NULL) - BLOB_TMP_MAX_AGE_S;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < limit)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

enum store_result
store_blob_init(struct store *store, const char *data_dir,
		const char **error_r)
{
	char *parent = xstrdup(data_dir);
	char *slash = strrchr(parent, '/');

	if (slash != NULL && slash != parent)
		*slash = '\0';
	else if (slash == parent)
		parent[1] = '\0';
	else {
		free(parent);
		parent = xstrdup(".");
	}
	if (mkdir_durable(data_dir, parent) < 0) {
		int err = errno;
		free(parent);
		return store_error(error_r, STORE_E_TEMP,
				   "cannot create %s: %s", data_dir,
				   strerror(err));
	}
	free(parent);
	store->blob_dir = xasprintf("%s/blobs", data_dir);
	store->blob_tmp_dir = xasprintf("%s/blobs/tmp", data_dir);
	if (mkdir_durable(store->blob_dir, data_dir) < 0 ||
	    mkdir_durable(store->blob_tmp_dir, store->blob_dir) < 0)
		return store_error(error_r, STORE_E_TEMP,
				   "cannot create %s: %s", store->blob_dir,
				   strerror(errno));
	tmp_cleanup(store->blob_tmp_dir);
	return STORE_OK;
}

enum store_result
store_blob_writer_new(struct store *store, struct store_blob_writer **w_r,
		      const char **error_r)
{
	struct store_blob_writer *w;

	*w_r = NULL;
	w = xcalloc(1, sizeof(*w));
	w->store = store;
	w->tmp_path = xasprintf("%s/XXXXXX", store->blob_tmp_dir);
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int err = errno;
		free(w->tmp_path);
		free(w);
		return store_error(error_r, STORE_E_TEMP,
				   "cannot create a blob temp file: %s",
				   strerror(err));
	}
	w->md = EVP_MD_CTX_new();
	if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		panic("store: SHA-256 unavailable");
	*w_r = w;
	return STORE_OK;
}

enum store_result
store_blob_writer_write(struct store_blob_writer *w, const void *data,
			size_t len, const char **error_r)
{
	const uint8_t *p = data;
	size_t left = len;

	while (left > 0) {
		ssize_t n = write(w->fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return store_error(error_r, STORE_E_TEMP,
					   "blob write failed: %s",
					   strerror(errno));
		}
		p += n;
		left -= (size_t)n;
	}
	if (EVP_DigestUpdate(w->md, data, len) != 1)
		panic("store: SHA-256 update failed");
	w->size += len;
	return STORE_OK;
}

void
store_blob_writer_abort(struct store_blob_writer **wp)
{
	struct store_blob_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path != NULL) {
		unlink(w->tmp_path);
		free(w->tmp_path);
	}
	EVP_MD_CTX_free(w->md);
	free(w);
	*wp = NULL;
}

static void
blob_paths(struct store *store, const char *id, char **dir_r, char **path_r)
{
	*dir_r = xasprintf("%s/%.2s", store->blob_dir, id);
	*path_r = xasprintf("%s/%.2s/%s", store->blob_dir, id, id);
}

enum store_result
store_blob_writer_finish(struct store_blob_writer **wp,
			 char id_r[STORE_BLOB_ID_LEN + 1], uint64_t *size_r,
			 const char **error_r)
{
	static const char hex[] = "0123456789abcdef";
	struct store_blob_writer *w = *wp;
	struct store *store = w->store;
	uint8_t digest[32];
	unsigned int dlen = 0;
	char *dir, *path;
	enum store_result r = STORE_OK;
	int err;

	if (fsync(w->fd) < 0) {
		err = errno;
		store_blob_writer_abort(wp);
		return store_error(error_r, STORE_E_TEMP,
				   "blob fsync failed: %s", strerror(err));
	}
	if (close(w->fd) < 0) {
		err = errno;
		w->fd = -1;
		store_blob_writer_abort(wp);
		return store_error(error_r, STORE_E_TEMP,
				   "blob close failed: %s", strerror(err));
	}
	w->fd = -1;
	if (EVP_DigestFinal_ex(w->md, digest, &dlen) != 1 || dlen != 32)
		panic("store: SHA-256 final failed");
	for (size_t i = 0; i < 32; i++) {
		id_r[2 * i] = hex[digest[i] >> 4];
		id_r[2 * i + 1] = hex[digest[i] & 15];
	}
	id_r[STORE_BLOB_ID_LEN] = '\0';

	blob_paths(store, id_r, &dir, &path);
	if (mkdir_durable(dir, store->blob_dir) < 0) {
		r = store_error(error_r, STORE_E_TEMP, "cannot create %s: %s",
				dir, strerror(errno));
	} else if (link(w->tmp_path, path) < 0 && errno != EEXIST) {
		/* link() refuses to replace, so existing content (same
		 * hash) is never rewritten; rename() is the fallback for
		 * filesystems without hard links. */
		if (rename(w->tmp_path, path) < 0)
			r = store_error(error_r, STORE_E_TEMP,
					"cannot store blob %s: %s", id_r,
					strerror(errno));
	}
	/* Also after EEXIST: another process may have linked the file but
	 * not yet synced the directory, and our caller is about to commit a
	 * reference to it. */
	if (r == STORE_OK && fsync_dir(dir) < 0)
		r = store_error(error_r, STORE_E_TEMP,
				"cannot sync %s: %s", dir, strerror(errno));
	free(dir);
	free(path);
	if (size_r != NULL)
		*size_r = w->size;
	store_blob_writer_abort(wp);
	return r;
}

enum store_result
store_blob_put(struct store *store, const void *data, size_t len,
	       char id_r[STORE_BLOB_ID_LEN + 1], const char **error_r)
{
	struct store_blob_writer *w;
	enum store_result r;

	r = store_blob_writer_new(store, &w, error_r);
	if (r != STORE_OK)
		return r;
	r = store_blob_writer_write(w, data, len, error_r);
	if (r != STORE_OK) {
		store_blob_writer_abort(&w);
		return r;
	}
	return store_blob_writer_finish(&w, id_r, NULL, error_r);
}

enum store_result
store_blob_open(struct store *store, const char *id, int *fd_r,
		const char **error_r)
{
	char *dir, *path;
	int fd, err;

	*fd_r = -1;
	if (!store_blob_id_is_valid(id))
		return store_error(error_r, STORE_E_INVALID, "bad blob id");
	blob_paths(store, id, &dir, &path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = errno;
	free(dir);
	free(path);
	if (fd < 0)
		return store_error(error_r, errno_result(err),
				   "cannot open blob %s: %s", id,
				   strerror(err));
	*fd_r = fd;
	return STORE_OK;
}

bool
store_blob_exists(struct store *store, const char *id)
{
	char *dir, *path;
	bool exists;

	if (!store_blob_id_is_valid(id))
		return false;
	blob_paths(store, id, &dir, &path);
	exists = access(path, F_OK) == 0;
	free(dir);
	free(path);
	return exists;
}

enum store_result
store_blob_read(struct store *store, const char *id, uint8_t **data_r,
		size_t *len_r, const char **error_r)
{
	struct stat st;
	uint8_t *data;
	size_t got = 0, size;
	int fd, err;
	enum store_result r;

	*data_r = NULL;
	*len_r = 0;
	r = store_blob_open(store, id, &fd, error_r);
	if (r != STORE_OK)
		return r;
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return store_error(error_r, STORE_E_TEMP, "cannot stat blob: %s",
				   strerror(err));
	}
	size = (size_t)st.st_size;
	/* UNSAFE: size + 1 cannot wrap, st_size is far below SIZE_MAX. */
	data = xmalloc(size + 1);
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			close(fd);
			free(data);
			return store_error(error_r, STORE_E_TEMP,
					   "cannot read blob %s: %s", id,
					   strerror(err));
		}
		got += (size_t)n;
	}
	close(fd);
	data[size] = '\0';
	*data_r = data;
	*len_r = size;
	return STORE_OK;
}
