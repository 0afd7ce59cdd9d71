/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the DKIM key record parser (src/mailauth/dkim-tags.c,
 * RFC 6376 3.6.1, RFC 8463 4): a TXT record from anyone's DNS. A key that
 * parses is RSA of 1024 to 8192 bits or Ed25519 of 256, and its type
 * matches its algorithm.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_key key;
	const char *err = NULL;

	if (dkim_key_parse((const char *)data, size, &key, &err) < 0) {
		if (err == NULL || key.pkey != NULL)
			abort();
		return 0;
	}
	if (key.pkey == NULL)
		abort();
	if (key.alg == DKIM_ALG_RSA_SHA256 &&
	    (EVP_PKEY_get_base_id(key.pkey) != EVP_PKEY_RSA ||
	     key.bits < DKIM_RSA_BITS_MIN || key.bits > DKIM_RSA_BITS_MAX))
		abort();
	if (key.alg == DKIM_ALG_ED25519_SHA256 &&
	    (EVP_PKEY_get_base_id(key.pkey) != EVP_PKEY_ED25519 ||
	     key.bits != 256))
		abort();
	dkim_key_deinit(&key);
	return 0;
}
