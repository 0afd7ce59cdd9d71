/* SPDX-License-Identifier: MIT */
/*
 * The DKIM key store: one PEM file per selector under
 * data_dir/dkim/DOMAIN/SELECTOR.key (directories 0700, files 0600), with
 * a comment line before the PEM block saying when the key was made and
 * from when it signs. Which key signs: per domain and algorithm, the
 * newest whose time has come (docs/mailauth.md "Rotation").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "lib/mem.h"
#include "mailauth/dkim.h"

#define META_PREFIX "herald-dkim:"

bool
dkim_name_is_valid(const char *s)
{
	size_t label = 0, len = strlen(s);

	if (len == 0 || len > 253 || s[len - 1] == '.')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		char c = *p;

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static char *
domain_dir(const char *data_dir, const char *domain)
{
	return xasprintf("%s/dkim/%s", data_dir, domain);
}

static int
ensure_dir(const char *path, char **error_r)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", path,
				     strerror(errno));
		return -1;
	}
	return 0;
}

static EVP_PKEY *
generate(enum dkim_algorithm alg, unsigned bits)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;

	ctx = EVP_PKEY_CTX_new_id(alg == DKIM_ALG_ED25519_SHA256 ?
				  EVP_PKEY_ED25519 : EVP_PKEY_RSA, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    (alg == DKIM_ALG_RSA_SHA256 &&
	     EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1) ||
	    EVP_PKEY_keygen(ctx, &pkey) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

int
dkim_keystore_generate(const char *data_dir, const char *domain,
		       const char *selector, enum dkim_algorithm alg,
		       unsigned bits, time_t created, time_t sign_after,
		       char **path_r, char **error_r)
{
	char *dir, *path, *tmp;
	EVP_PKEY *pkey;
	FILE *fp;
	struct stat st;
	int fd, ok;

	*path_r = NULL;
	if (!dkim_name_is_valid(domain) || !dkim_name_is_valid(selector)) {
		*error_r = xstrdup("domain and selector: lower-case letters, "
				   "digits, '-', '_' and dots");
		return -1;
	}
	if (alg == DKIM_ALG_RSA_SHA256 &&
	    (bits < 1024 || bits > 8192)) {
		*error_r = xstrdup("RSA keys: 1024 to 8192 bits");
		return -1;
	}
	dir = xasprintf("%s/dkim", data_dir);
	if (ensure_dir(dir, error_r) < 0) {
		free(dir);
		return -1;
	}
	free(dir);
	dir = domain_dir(data_dir, domain);
	if (ensure_dir(dir, error_r) < 0) {
		free(dir);
		return -1;
	}
	path = xasprintf("%s/%s.key", dir, selector);
	free(dir);
	if (stat(path, &st) == 0) {
		*error_r = xasprintf("%s exists: choose another selector "
				     "(--selector)", path);
		free(path);
		return -1;
	}
	if ((pkey = generate(alg, bits)) == NULL) {
		*error_r = xstrdup("key generation failed");
		free(path);
		return -1;
	}
	tmp = xasprintf("%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		*error_r = xasprintf("cannot create %s: %s", tmp,
				     strerror(errno));
		if (fd >= 0)
			close(fd);
		EVP_PKEY_free(pkey);
		free(tmp);
		free(path);
		return -1;
	}
	/* PEM readers skip text before the BEGIN line */
	fprintf(fp, META_PREFIX " created=%lld sign_after=%lld\n",
		(long long)created, (long long)sign_after);
	ok = PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) == 1;
	EVP_PKEY_free(pkey);
	ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		*error_r = xasprintf("cannot write %s: %s", path,
				     strerror(errno));
		unlink(tmp);
		free(tmp);
		free(path);
		return -1;
	}
	free(tmp);
	*path_r = path;
	return 0;
}

static void
read_meta(const char *path, const struct stat *st, time_t *created_r,
	  time_t *sign_after_r)
{
	FILE *fp = fopen(path, "r");
	char line[200];
	long long c, s;

	*created_r = st->st_mtime;
	*sign_after_r = st->st_mtime;
	if (fp == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    sscanf(line, META_PREFIX " created=%lld sign_after=%lld", &c,
		   &s) == 2) {
		*created_r = (time_t)c;
		*sign_after_r = (time_t)s;
	}
	fclose(fp);
}

static int
info_cmp(const void *a, const void *b)
{
	const struct dkim_key_info *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c != 0)
		return c;
	if (x->alg != y->alg)
		return x->alg < y->alg ? -1 : 1;
	if (x->sign_after != y->sign_after)
		return x->sign_after > y->sign_after ? -1 : 1;
	return strcmp(x->selector, y->selector);
}

/* records: make each key's TXT record too (the listing); without, only
 * what choosing the signing keys needs. */
static void
scan_domain(const char *data_dir, const char *domain, bool records,
	    struct dkim_key_info **infos, size_t *n)
{
	char *dir = domain_dir(data_dir, domain);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct dkim_sign_key *key = NULL;
		struct dkim_key_info *ki;
		char *selector, *path, *err = NULL;
		struct stat st;
		struct buf rec;

		if (len <= 4 || strcmp(de->d_name + len - 4, ".key") != 0)
			continue;
		selector = xstrndup(de->d_name, len - 4);
		path = xasprintf("%s/%s", dir, de->d_name);
		if (!dkim_name_is_valid(selector) || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode)) {
			free(selector);
			free(path);
			continue;
		}
		*infos = xreallocarray(*infos, *n + 1, sizeof(**infos));
		ki = &(*infos)[(*n)++];
		memset(ki, 0, sizeof(*ki));
		ki->domain = xstrdup(domain);
		ki->selector = selector;
		ki->path = path;
		read_meta(path, &st, &ki->created, &ki->sign_after);
		if (dkim_sign_key_load(path, domain, selector, &key,
				       &err) < 0) {
			ki->error = err;
			continue;
		}
		ki->alg = key->alg;
		ki->bits = key->bits;
		if (records) {
			buf_init(&rec);
			dkim_sign_key_record(key, &rec);
			ki->record = buf_steal(&rec);
			buf_deinit(&rec);
		}
		dkim_sign_key_free(&key);
	}
	closedir(d);
	free(dir);
}

static int
keystore_list(const char *data_dir, const char *domain, time_t now,
	      bool records, struct dkim_key_info **infos_r, size_t *n_r,
	      char **error_r)
{
	struct dkim_key_info *infos = NULL;
	size_t n = 0;

	if (domain != NULL) {
		scan_domain(data_dir, domain, records, &infos, &n);
	} else {
		char *top = xasprintf("%s/dkim", data_dir);
		DIR *d = opendir(top);
		struct dirent *de;

		if (d == NULL && errno != ENOENT) {
			*error_r = xasprintf("cannot read %s: %s", top,
					     strerror(errno));
			free(top);
			return -1;
		}
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (dkim_name_is_valid(de->d_name))
				scan_domain(data_dir, de->d_name, records, &infos,
					    &n);
		}
		if (d != NULL)
			closedir(d);
		free(top);
	}
	if (n > 1)
		qsort(infos, n, sizeof(*infos), info_cmp);
	/* the newest key of each domain and algorithm whose time has come
	 * signs; newer ones wait (pending), older ones are retired */
	for (size_t i = 0; i < n; i++) {
		struct dkim_key_info *ki = &infos[i];

		if (ki->error != NULL) {
			ki->state = DKIM_KEY_BROKEN;
		} else if (ki->sign_after > now) {
			ki->state = DKIM_KEY_PENDING;
		} else {
			bool newer = false;

			for (size_t j = 0; j < n; j++) {
				if (j != i && infos[j].error == NULL &&
				    strcmp(infos[j].domain, ki->domain) == 0 &&
				    infos[j].alg == ki->alg &&
				    infos[j].sign_after <= now &&
				    (infos[j].sign_after > ki->sign_after ||
				     (infos[j].sign_after == ki->sign_after &&
				      strcmp(infos[j].selector,
					     ki->selector) < 0)))
					newer = true;
			}
			ki->state = newer ? DKIM_KEY_RETIRED : DKIM_KEY_ACTIVE;
		}
	}
	*infos_r = infos;
	*n_r = n;
	return 0;
}

int
dkim_keystore_list(const char *data_dir, const char *domain, time_t now,
		   struct dkim_key_info **infos_r, size_t *n_r,
		   char **error_r)
{
	return keystore_list(data_dir, domain, now, true, infos_r, n_r,
			     error_r);
}

void
dkim_key_infos_free(struct dkim_key_info **infos, size_t n)
{
	if (*infos == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*infos)[i].domain);
		free((*infos)[i].selector);
		free((*infos)[i].path);
		free((*infos)[i].record);
		free((*infos)[i].error);
	}
	free(*infos);
	*infos = NULL;
}

bool
dkim_keystore_has_domain(const char *data_dir, const char *domain)
{
	char *dir;
	struct stat st;
	bool ret;

	if (!dkim_name_is_valid(domain))
		return false;
	dir = domain_dir(data_dir, domain);
	ret = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	free(dir);
	return ret;
}

const char *
dkim_key_state_name(enum dkim_key_state state)
{
	switch (state) {
	case DKIM_KEY_ACTIVE: return "active";
	case DKIM_KEY_PENDING: return "pending";
	case DKIM_KEY_RETIRED: return "retired";
	case DKIM_KEY_BROKEN: return "broken";
	}
	return "broken";
}

int
dkim_keystore_load_signing(const char *data_dir, const char *domain,
			   time_t now, struct dkim_sign_key ***keys_r,
			   size_t *n_r, char **error_r)
{
	struct dkim_key_info *infos;
	struct dkim_sign_key **keys = NULL;
	size_t n, nk = 0;

	*keys_r = NULL;
	*n_r = 0;
	if (!dkim_name_is_valid(domain))
		return 0;
	if (keystore_list(data_dir, domain, now, false, &infos, &n,
			  error_r) < 0)
		return -1;
	/* RSA first: the signature every receiver checks (mox #45) */
	for (size_t i = 0; i < n; i++) {
		struct dkim_sign_key *key;
		char *err = NULL;

		if (infos[i].state != DKIM_KEY_ACTIVE)
			continue;
		if (dkim_sign_key_load(infos[i].path, infos[i].domain,
				       infos[i].selector, &key, &err) < 0) {
			free(err);
			continue;
		}
		keys = xreallocarray(keys, nk + 1, sizeof(*keys));
		keys[nk++] = key;
	}
	dkim_key_infos_free(&infos, n);
	*keys_r = keys;
	*n_r = nk;
	return 0;
}

void
dkim_sign_keys_free(struct dkim_sign_key ***keys, size_t n)
{
	if (*keys == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		dkim_sign_key_free(&(*keys)[i]);
	free(*keys);
	*keys = NULL;
}
