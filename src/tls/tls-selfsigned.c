/* SPDX-License-Identifier: MIT */
/*
 * The self-signed certificate used when tls.cert is not set, so that an
 * empty config still offers STARTTLS and implicit TLS. Made once in
 * <data_dir>/tls/ and reused; files are written to a temporary name,
 * fsynced and renamed so a crash never leaves half a key.
 */
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/buf.h"
#include "lib/mem.h"

#define SELFSIGNED_DAYS (10 * 365)

static char *
selfsigned_err(const char *what)
{
	char tmp[256];
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (e == 0)
		return xasprintf("self-signed certificate: %s", what);
	ERR_error_string_n(e, tmp, sizeof(tmp));
	return xasprintf("self-signed certificate: %s: %s", what, tmp);
}

static int
selfsigned_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* SAN built as a GENERAL_NAME, not via the config syntax, so a hostname
 * cannot inject extra names with a comma. */
static int
selfsigned_add_san(X509 *x, const char *hostname)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	int ok = -1;

	if (names == NULL || gn == NULL || ia5 == NULL ||
	    ASN1_STRING_set(ia5, hostname, (int)strlen(hostname)) != 1)
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	ia5 = NULL;
	if (sk_GENERAL_NAME_push(names, gn) == 0)
		goto out;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0) == 1)
		ok = 0;
out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ok;
}

static X509 *
selfsigned_make_cert(EVP_PKEY *pkey, const char *hostname)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;

	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;	/* positive, RFC 5280 4.1.2.2 */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
			    (long)SELFSIGNED_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, pkey) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)hostname, -1,
				       -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;
	if (selfsigned_add_san(x, hostname) < 0 ||
	    selfsigned_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    selfsigned_add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    selfsigned_add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    selfsigned_add_ext(x, NID_subject_key_identifier, "hash") < 0)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Writes mem to path via path.tmp with the given mode, fsync and rename. */
static int
selfsigned_write(const char *path, const char *data, size_t len, mode_t mode,
		 char **error_r)
{
	char *tmp = xasprintf("%s.tmp", path);
	size_t off = 0;
	int fd;

	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		*error_r = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = xasprintf("cannot write %s: %s", tmp,
					     strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		*error_r = xasprintf("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		*error_r = xasprintf("cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

/* PEM-encodes into an allocated string through a memory BIO. */
static char *
selfsigned_pem(EVP_PKEY *pkey, X509 *x, size_t *len_r)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;
	int ok;

	if (bio == NULL)
		return NULL;
	ok = pkey != NULL ?
		PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) :
		PEM_write_bio_X509(bio, x);
	if (ok == 1 && (n = BIO_get_mem_data(bio, &data)) > 0) {
		out = xmemdup(data, (size_t)n);
		*len_r = (size_t)n;
	}
	BIO_free(bio);
	return out;
}

static int
selfsigned_create(const char *cert_path, const char *key_path,
		  const char *hostname, char **error_r)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = NULL;
	char *pem_key = NULL, *pem_cert = NULL;
	size_t key_len = 0, cert_len = 0;
	int ret = -1;

	if (pkey == NULL) {
		*error_r = selfsigned_err("cannot generate a P-256 key");
		return -1;
	}
	x = selfsigned_make_cert(pkey, hostname);
	if (x == NULL) {
		*error_r = selfsigned_err("cannot build the certificate");
		goto out;
	}
	pem_key = selfsigned_pem(pkey, NULL, &key_len);
	pem_cert = selfsigned_pem(NULL, x, &cert_len);
	if (pem_key == NULL || pem_cert == NULL) {
		*error_r = selfsigned_err("cannot encode PEM");
		goto out;
	}
	/* the key first: a certificate without its key is never left behind
	 * as the pair tls_selfsigned_ensure() accepts */
	if (selfsigned_write(key_path, pem_key, key_len, 0600, error_r) < 0 ||
	    selfsigned_write(cert_path, pem_cert, cert_len, 0644, error_r) < 0)
		goto out;
	ret = 0;
out:
	if (pem_key != NULL)
		mem_wipe(pem_key, key_len);
	free(pem_key);
	free(pem_cert);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

int
tls_selfsigned_ensure(const char *data_dir, const char *hostname,
		      char **cert_path_r, char **key_path_r, char **error_r)
{
	char *dir, *cert, *key;
	struct stat st;
	int ret = 0;

	if (data_dir == NULL || hostname == NULL || hostname[0] == '\0') {
		*error_r = xstrdup("self-signed certificate: data_dir and "
				   "hostname must be set");
		return -1;
	}
	dir = xasprintf("%s/tls", data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	cert = xasprintf("%s/selfsigned.crt", dir);
	key = xasprintf("%s/selfsigned.key", dir);
	if (stat(cert, &st) < 0 || stat(key, &st) < 0)
		ret = selfsigned_create(cert, key, hostname, error_r);
	free(dir);
	if (ret == 0 && cert_path_r != NULL)
		*cert_path_r = cert;
	else
		free(cert);
	if (ret == 0 && key_path_r != NULL)
		*key_path_r = key;
	else
		free(key);
	return ret;
}
