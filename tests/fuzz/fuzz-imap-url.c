/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the IMAP URL parser of CATENATE (imap-url). A URL
 * that parses names a mailbox without NUL, a nonzero UID, and a section
 * without NUL; the parser reads nothing past the slice (ASan).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-url.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size octets: an overread is caught */
	char *s = xmalloc(size > 0 ? size : 1);
	struct imap_url url;
	const char *error;

	memcpy(s, data, size);
	if (imap_url_parse(s, size, &url, &error) == 0) {
		if (url.mailbox == NULL || url.mailbox[0] == '\0' ||
		    url.uid == 0)
			abort();
		if (url.absolute && (url.host == NULL || url.host[0] == '\0'))
			abort();
		imap_url_deinit(&url);
	} else if (url.mailbox != NULL || url.section != NULL) {
		abort();
	}
	free(s);
	return 0;
}
