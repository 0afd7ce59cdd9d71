/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: RFC 5322 address-list extraction. Whatever parses
 * must give addresses within the limits, each of which parses again as a
 * list of exactly itself; the entries view (IMAP ENVELOPE) agrees: same
 * verdict, one mailbox entry per address, groups opened and closed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/header-address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_entries(const char *value, size_t len,
	      const struct header_address_limits *limits, int want_ret,
	      size_t want_n)
{
	struct header_address_entry *e;
	size_t n, mailboxes = 0;
	bool in_group = false;
	int ret;

	ret = header_address_list_parse_entries(value, len, limits, &e, &n,
						NULL, NULL);
	if (ret != want_ret || (ret < 0 && (e != NULL || n != 0)))
		abort();
	for (size_t i = 0; i < n; i++) {
		switch (e[i].type) {
		case HEADER_ADDRESS_ENTRY_MAILBOX:
			if (e[i].local == NULL ||
			    (e[i].domain == NULL && !limits->allow_no_domain))
				abort();
			mailboxes++;
			break;
		case HEADER_ADDRESS_ENTRY_GROUP_START:
			if (in_group)
				abort();
			in_group = true;
			break;
		case HEADER_ADDRESS_ENTRY_GROUP_END:
			if (!in_group)
				abort();
			in_group = false;
			break;
		}
	}
	if (in_group || (ret == 0 && mailboxes != want_n))
		abort();
	header_address_entries_free(&e, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header_address_limits limits;
	enum header_address_error err;
	const char *error;
	char **addrs;
	size_t n;

	if (size < 1)
		return 0;
	header_address_limits_default(&limits);
	limits.allow_no_domain = (data[0] & 1) != 0;
	limits.max_addresses = 1 + (data[0] >> 1);
	data++;
	size--;
	if (header_address_list_parse((const char *)data, size, &limits, &addrs,
				      &n, &err, &error) < 0) {
		if (addrs != NULL || error == NULL || err == HEADER_ADDRESS_OK)
			abort();
		check_entries((const char *)data, size, &limits, -1, 0);
		return 0;
	}
	check_entries((const char *)data, size, &limits, 0, n);
	if (n > limits.max_addresses || (n == 0) != (addrs == NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		char **again;
		size_t m;

		if (strlen(addrs[i]) > limits.max_address_len)
			abort();
		if (header_address_list_parse(addrs[i], strlen(addrs[i]),
					      &limits, &again, &m, &err,
					      &error) < 0 ||
		    m != 1 || strcmp(again[0], addrs[i]) != 0)
			abort();
		header_address_list_free(&again, m);
	}
	header_address_list_free(&addrs, n);
	return 0;
}
