/* SPDX-License-Identifier: MIT */
/*
 * Inside the DMARC module: the two readers of a From field's value
 * (dmarc-from.c), exposed so the unit tests and the fuzz target can check
 * that the quick one never says anything the full one would not.
 */
#ifndef HERALD_MAILAUTH_DMARC_PRIVATE_H
#define HERALD_MAILAUTH_DMARC_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "mailauth/dmarc.h"

/* The quick reader: true with *domain_r (allocated, lower case) only for
 * the plainest values, "Name <local@example.com>" or "local@example.com"
 * (a display name of letters, digits and spaces; a dot-atom local part;
 * an LDH domain), whose one domain no reader can see differently; false
 * (nothing allocated) for everything else, which the full reader then
 * reads. */
bool dmarc_from_value_simple(const char *value, size_t len,
			     char **domain_r);
/* The full reader of a value (the address parser, the encoded-word
 * check), as dmarc_from_domain() uses it when the quick one declines. */
enum dmarc_from_status dmarc_from_value_full(const char *value, size_t len,
					     char **domain_r);

#endif
