/* SPDX-License-Identifier: MIT */
/*
 * The CPU cost of DKIM per message (issue 14 targets): signing and
 * verifying messages of 5 KB and 1 MB with a 2048-bit RSA key and an
 * Ed25519 key, through src/mailauth/ as the server uses it (fed in 64 KiB
 * pieces; the key given as a parsed DNS answer, no lookup). Prints one
 * line per case: microseconds per message and MB/s; then what the
 * submission path adds per message: reading a domain's active keys (one
 * RSA, one Ed25519) from the key store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "mailauth/dkim.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
make_message(size_t size, struct buf *out)
{
	buf_puts(out, "From: Alice <alice@example.test>\r\n"
		      "To: Bob <bob@example.org>\r\n"
		      "Subject: a benchmark message\r\n"
		      "Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
		      "Message-ID: <bench@example.test>\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	while (out->len < size)
		buf_puts(out, "The quick brown fox jumps over the lazy dog, "
			      "again  and again.\t\r\n");
}

static struct dkim_sign_key *
make_key(int type, char **record_r)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
	char path[] = "/tmp/dkim-cost-XXXXXX";
	struct dkim_sign_key *key;
	char *err = NULL;
	struct buf rec;
	FILE *fp;
	int fd;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    (type == EVP_PKEY_RSA &&
	     EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) != 1) ||
	    EVP_PKEY_keygen(ctx, &pkey) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	EVP_PKEY_free(pkey);
	if (dkim_sign_key_load(path, "example.test", "bench", &key, &err) < 0)
		abort();
	unlink(path);
	buf_init(&rec);
	dkim_sign_key_record(key, &rec);
	*record_r = buf_steal(&rec);
	buf_deinit(&rec);
	return key;
}

static void
feed_sign(struct dkim_signer *s, const struct buf *m)
{
	for (size_t off = 0; off < m->len; off += 65536) {
		size_t n = m->len - off < 65536 ? m->len - off : 65536;

		dkim_signer_feed(s, (const uint8_t *)m->data + off, n);
	}
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 5 * 1024, 1024 * 1024 };
	static const int types[] = { EVP_PKEY_RSA, EVP_PKEY_ED25519 };
	int rounds_small = argc > 1 ? atoi(argv[1]) : 2000;

	for (size_t t = 0; t < 2; t++) {
		char *record;
		struct dkim_sign_key *key = make_key(types[t], &record);
		struct dns_result res = { 0 };
		struct dns_rr rr = { 0 };

		rr.txt.text = record;
		rr.txt.text_len = strlen(record);
		res.status = DNS_OK;
		res.type = DNS_TYPE_TXT;
		res.count = 1;
		res.rrs = &rr;
		for (size_t z = 0; z < 2; z++) {
			int rounds = z == 0 ? rounds_small : rounds_small / 20;
			struct buf m, sig, signed_msg;
			double t0, sign_us, verify_us;
			const char *err;

			if (rounds < 5)
				rounds = 5;
			buf_init(&m);
			buf_init(&signed_msg);
			make_message(sizes[z], &m);
			t0 = now_us();
			for (int i = 0; i < rounds; i++) {
				struct dkim_signer *s = dkim_signer_new(NULL);

				buf_init(&sig);
				dkim_signer_add_key(s, key);
				feed_sign(s, &m);
				if (dkim_signer_finish(s, &sig, &err) < 0)
					abort();
				if (i == 0) {
					buf_append(&signed_msg, sig.data,
						   sig.len);
					buf_append(&signed_msg, m.data, m.len);
				}
				buf_deinit(&sig);
				dkim_signer_free(&s);
			}
			sign_us = (now_us() - t0) / rounds;
			t0 = now_us();
			for (int i = 0; i < rounds; i++) {
				struct dkim_verify_limits lim = {
					.max_signatures = 5,
					.header_max = 1024 * 1024,
					.clock_skew_s = 300,
				};
				struct dkim_verifier *v = dkim_verifier_new(&lim);

				for (size_t off = 0; off < signed_msg.len;
				     off += 65536) {
					size_t n = signed_msg.len - off < 65536
						   ? signed_msg.len - off
						   : 65536;

					dkim_verifier_feed(
						v, (const uint8_t *)
						signed_msg.data + off, n);
				}
				dkim_verifier_finish(v);
				dkim_verifier_set_key(v, 0, &res);
				if (dkim_verifier_result(v, 0)->result !=
				    DKIM_RESULT_PASS)
					abort();
				dkim_verifier_free(&v);
			}
			verify_us = (now_us() - t0) / rounds;
			printf("%-8s %5zu KB  sign %9.1f us/msg (%7.1f MB/s)  "
			       "verify %9.1f us/msg (%7.1f MB/s)  rounds %d\n",
			       t == 0 ? "rsa2048" : "ed25519", sizes[z] / 1024,
			       sign_us, (double)m.len / sign_us, verify_us,
			       (double)signed_msg.len / verify_us, rounds);
			buf_deinit(&m);
			buf_deinit(&signed_msg);
		}
		dkim_sign_key_free(&key);
		free(record);
	}
	{
		char dir[] = "/tmp/dkim-cost-store-XXXXXX", *path, *err;
		struct dkim_sign_key **keys;
		size_t n;
		double t0;
		int rounds = rounds_small / 4 > 10 ? rounds_small / 4 : 10;

		if (mkdtemp(dir) == NULL ||
		    dkim_keystore_generate(dir, "example.test", "r", DKIM_ALG_RSA_SHA256,
					   2048, 1, 1, &path, &err) < 0)
			abort();
		free(path);
		if (dkim_keystore_generate(dir, "example.test", "e",
					   DKIM_ALG_ED25519_SHA256, 0, 1, 1,
					   &path, &err) < 0)
			abort();
		free(path);
		t0 = now_us();
		for (int i = 0; i < rounds; i++) {
			if (dkim_keystore_load_signing(dir, "example.test",
						       time(NULL), &keys, &n,
						       &err) < 0 || n != 2)
				abort();
			dkim_sign_keys_free(&keys, n);
		}
		printf("keystore load (rsa2048 + ed25519): %.1f us/msg  "
		       "rounds %d\n", (now_us() - t0) / rounds, rounds);
		path = xasprintf("rm -rf '%s'", dir);
		if (system(path) != 0)
			abort();
		free(path);
	}
	return 0;
}
