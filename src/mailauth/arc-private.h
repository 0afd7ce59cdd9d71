/* SPDX-License-Identifier: MIT */
/*
 * Inside the ARC module: what the sealer (arc-seal.c) takes from the
 * verified chain (arc-verify.c).
 */
#ifndef HERALD_MAILAUTH_ARC_PRIVATE_H
#define HERALD_MAILAUTH_ARC_PRIVATE_H

#include "lib/buf.h"
#include "mailauth/arc.h"

/* Appends the ARC sets 1..upto of v, each field relaxed-canonicalized and
 * ending in CRLF, in the order RFC 8617 5.1.1 hashes them
 * (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal). */
void arc_verifier_seal_input(const struct arc_verifier *v, unsigned upto,
			     struct buf *out);

#endif
