/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: RFC 4314 rights strings (IMAP SETACL, `herald share`).
 * What parses must format back into letters that parse to the same
 * rights, and the formatted text always fits STORE_ACL_RIGHTS_SIZE.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[STORE_ACL_RIGHTS_SIZE];
	const char *error = NULL;
	unsigned rights = 0, again = 0;

	if (store_acl_rights_parse((const char *)data, size, &rights,
				   &error) < 0) {
		if (error == NULL)
			abort();
		return 0;
	}
	if ((rights & ~STORE_ACL_ALL) != 0)
		abort();
	for (int virtual = 0; virtual < 2; virtual++) {
		store_acl_rights_format(rights, virtual != 0, out);
		if (strlen(out) >= STORE_ACL_RIGHTS_SIZE ||
		    store_acl_rights_parse(out, strlen(out), &again,
					   &error) < 0)
			abort();
		/* "d" stands for all of x t e: only exact without it */
		if (!virtual && again != rights)
			abort();
	}
	return 0;
}
