/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 fetched once for the process (sha256.h says why).
 */
#include "lib/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *fetched;

static void
fetch(void)
{
	fetched = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

const EVP_MD *
sha256_md(void)
{
	pthread_once(&fetch_once, fetch);
	return fetched != NULL ? fetched : EVP_sha256();
}
