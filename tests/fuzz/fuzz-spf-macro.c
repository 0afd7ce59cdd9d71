/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the SPF macro expander (mailauth/spf-macro.c), run on
 * macro-strings from DNS with sender and HELO values from the peer. The
 * first octet picks domain-spec or explanation syntax; the rest is
 * "STRING\0LOCAL-PART\0HELO". The syntax check and the expansion agree,
 * the output stays within SPF_MACRO_MAX (plus one escaped value), and a
 * domain truncated from it is at most 253 octets or has no dot to cut at.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mailauth/spf-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_macro_vars v = {
		.o = "example.com", .d = "mail.example.com",
		.i = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2",
		.c = "2001:db8::1", .v = "ip6", .r = "mx.example.net",
		.p = "unknown", .t = 1700000000,
	};
	struct buf in, out, sender;
	enum spf_macro_ret ret;
	bool exp;
	char *parts[3] = { NULL, NULL, NULL };
	size_t len, n = 0;

	if (size < 1)
		return 0;
	exp = data[0] & 1;
	buf_init(&in);
	buf_append(&in, data + 1, size - 1);
	/* split on the first two NULs: string, local-part, HELO */
	parts[n++] = in.data;
	for (size_t i = 0; i < in.len && n < 3; i++) {
		if (in.data[i] == '\0')
			parts[n++] = in.data + i + 1;
	}
	len = strlen(parts[0]);
	v.l = parts[1] != NULL ? parts[1] : "postmaster";
	v.h = parts[2] != NULL ? parts[2] : "helo.example";
	buf_init(&sender);
	buf_printf(&sender, "%s@%s", v.l, v.o);
	v.s = sender.data;
	buf_init(&out);
	ret = spf_macro_expand(parts[0], len, exp, &v, &out);
	if (ret == SPF_MACRO_NEED_P)
		abort();
	if ((ret == SPF_MACRO_SYNTAX) == spf_macro_is_valid(parts[0], len, exp))
		abort();
	/* a value (at most the input) escaped triples */
	if (out.len > SPF_MACRO_MAX + 3 * (size + sender.len) + 8)
		abort();
	if (ret == SPF_MACRO_OK) {
		spf_domain_truncate(&out);
		if (out.len > 253 && memchr(out.data, '.', out.len) != NULL)
			abort();
		(void)spf_name_is_queryable(out.data);
		(void)spf_domain_spec_is_valid(parts[0], len);
	}
	buf_deinit(&out);
	buf_deinit(&sender);
	buf_deinit(&in);
	return 0;
}
