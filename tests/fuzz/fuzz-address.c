/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: RFC 5321 path and mailbox parsing. Whatever parses
 * must format to a canonical string that parses back to an equal address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_roundtrip(const struct address *addr, const struct address_limits *l)
{
	struct address back;
	struct address_limits big = *l;
	enum address_error err;
	const char *error;
	char *s;

	if (addr->is_null || addr->domain == NULL)
		return;
	s = address_to_string(addr);
	/* quoting may lengthen it past the limits */
	big.max_local_len = big.max_domain_len = big.max_path_len = 100000;
	if (address_parse_mailbox(s, strlen(s), &big, ADDRESS_PARSE_UTF8,
				  &back, &err, &error) < 0)
		abort();
	if (!address_equal(addr, &back))
		abort();
	address_deinit(&back);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address_limits limits;
	struct address addr;
	enum address_error err;
	const char *error;
	size_t consumed;
	unsigned flags;

	if (size < 1)
		return 0;
	flags = data[0] & 7;
	data++;
	size--;
	address_limits_default(&limits);
	if (address_parse_path((const char *)data, size, &limits, flags, &addr,
			       &consumed, &err, &error) == 0) {
		if (consumed == 0 || consumed > size ||
		    consumed > limits.max_path_len)
			abort();
		fuzz_roundtrip(&addr, &limits);
		address_deinit(&addr);
	}
	if (address_parse_mailbox((const char *)data, size, &limits, flags,
				  &addr, &err, &error) == 0) {
		fuzz_roundtrip(&addr, &limits);
		address_deinit(&addr);
	}
	return 0;
}
