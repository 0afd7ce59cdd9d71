/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the DMARC report parsers and writers fed by DNS and
 * peers (mailauth/dmarc-report.c): the rua URI list of any domain's DMARC
 * record, and a report row built from peer text (key, decode, XML). The
 * first octet picks the mode. Every kept URI is one address with an '@'
 * and no control or comma; a key decodes back; the XML holds no control
 * octet and no '<' or '&' that the writer did not put there.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mailauth/dmarc-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_rua(const char *text)
{
	struct dmarc_report_uri *u = NULL;
	size_t skipped = 0;
	size_t n = dmarc_report_rua_parse(text, 4, &u, &skipped);

	if (n > 4 || (n == 0) != (u == NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *a = u[i].address;

		if (strchr(a, '@') == NULL || strchr(a, ',') != NULL)
			abort();
		for (const char *p = a; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				abort();
	}
	dmarc_report_uris_free(&u, n);
}

static void
fuzz_row(const char *text)
{
	struct dmarc_report_dkim sig = { text, text, "pass" };
	struct dmarc_report_input in = {
		.policy_domain = "example.org",
		.source_ip = text, .header_from = text, .envelope_from = text,
		.disposition = text, .reason = text, .reason_comment = text,
		.spf_domain = text, .spf_scope = text, .spf_result = text,
		.dkim = &sig, .n_dkim = 1, .p = text, .fo = text,
	};
	struct dmarc_report_meta m = {
		.org_name = text, .email = text, .report_id = text,
		.domain = text,
	};
	struct dmarc_report_row row;
	struct buf key, policy, xml;

	buf_init(&key);
	buf_init(&policy);
	buf_init(&xml);
	dmarc_report_row_key(&in, &key);
	dmarc_report_policy_text(&in, &policy);
	if (dmarc_report_row_parse(key.data, &row) < 0 || row.n_dkim != 1)
		abort();
	row.count = 1;
	m.policy = policy.data;
	dmarc_report_xml(&m, &row, 1, &xml);
	for (size_t i = 0; i < xml.len; i++) {
		unsigned char c = (unsigned char)xml.data[i];

		if (c < 0x20 && c != '\n')
			abort();
	}
	/* text elements carry no raw markup: every '<' opens a tag name
	 * the writer knows (a letter, '/' or '?') */
	for (const char *p = strchr(xml.data, '<'); p != NULL;
	     p = strchr(p + 1, '<'))
		if (!(p[1] == '/' || p[1] == '?' ||
		      (p[1] >= 'a' && p[1] <= 'z')))
			abort();
	dmarc_report_row_deinit(&row);
	buf_deinit(&key);
	buf_deinit(&policy);
	buf_deinit(&xml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 1)
		fuzz_rua(text);
	else
		fuzz_row(text);
	free(text);
	return 0;
}
