/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 as fetched once from OpenSSL's default provider. EVP_sha256()
 * in a digest call makes OpenSSL 3 look the implementation up in its
 * provider store again each time (a name-map walk under a lock, about a
 * third of a 5 KB message's blob id and twice the cost of hashing a short
 * DKIM field), so the store's blob ids and DKIM share this one.
 */
#ifndef HERALD_LIB_SHA256_H
#define HERALD_LIB_SHA256_H

struct evp_md_st;

/* The SHA-256 implementation, fetched at the first call (thread-safe)
 * and kept until exit; EVP_sha256() if the fetch failed. */
const struct evp_md_st *sha256_md(void);

#endif
