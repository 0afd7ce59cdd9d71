/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the keys the store threads a message by
 * (mail/thread-keys.c): which ids are kept and in what order, and each of
 * struct mail_thread_limits (the [store] thread_* settings) cutting where
 * docs/limits.md says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/thread-keys.h"

struct keys_case {
	const char *name;
	struct mail_thread_limits lim;	/* all 0: the defaults */
	const char *header;
	const char *msgid;		/* NULL: none */
	const char *refs;		/* kept ids, space-separated */
	const char *subject;
};

#define DEF { 0 }

static const struct keys_case keys_cases[] = {
	{ "plain", DEF, "Message-ID: <a@x>\r\nSubject: Hello\r\n",
	  "a@x", "", "HELLO" },
	{ "reply: In-Reply-To first, then References from the oldest",
	  DEF, "Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\n"
	  "References: <a@x> (note) <b@x>\r\nSubject: Re: Re: Hello\r\n",
	  "c@x", "b@x a@x", "HELLO" },
	{ "own id and duplicates left out", DEF,
	  "Message-ID: <c@x>\r\nReferences: <a@x> <c@x> <a@x> <b@x>\r\n",
	  "c@x", "a@x b@x", "" },
	{ "refs_max 2: In-Reply-To's and the last References",
	  { .refs_max = 2 },
	  "In-Reply-To: <i@x>\r\nReferences: <r1@x> <r2@x> <r3@x>\r\n",
	  NULL, "i@x r3@x", "" },
	{ "refs_max 1: In-Reply-To's only", { .refs_max = 1 },
	  "In-Reply-To: <i@x>\r\nReferences: <r1@x> <r2@x>\r\n",
	  NULL, "i@x", "" },
	{ "refs_max 3 without In-Reply-To: the last three", { .refs_max = 3 },
	  "References: <r1@x> <r2@x> <r3@x> <r4@x> <r5@x>\r\n",
	  NULL, "r3@x r4@x r5@x", "" },
	{ "msgid_max 5: a longer id is ignored", { .msgid_max = 5 },
	  "Message-ID: <long@x.example>\r\n"
	  "References: <a@xyz> <toolong@x>\r\n",
	  NULL, "a@xyz", "" },
	{ "subject_max 4 (i;unicode-casemap: upper case)",
	  { .subject_max = 4 },
	  "Subject: Re: Quarterly plan\r\n", NULL, "", "QUAR" },
	{ "header_max: a field past it is not seen", { .header_max = 40 },
	  "Message-ID: <a@x>\r\nX-Filler: 0123456789\r\n"
	  "In-Reply-To: <p@x>\r\nSubject: Late\r\n",
	  "a@x", "", "" },
};

static struct mail_thread_limits
limits_of(const struct keys_case *c)
{
	struct mail_thread_limits l = mail_thread_limits_default;

	if (c->lim.refs_max != 0)
		l.refs_max = c->lim.refs_max;
	if (c->lim.msgid_max != 0)
		l.msgid_max = c->lim.msgid_max;
	if (c->lim.subject_max != 0)
		l.subject_max = c->lim.subject_max;
	if (c->lim.header_max != 0)
		l.header_max = c->lim.header_max;
	return l;
}

static void
test_keys(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(keys_cases) / sizeof(keys_cases[0]);
	     i++) {
		const struct keys_case *c = &keys_cases[i];
		struct mail_thread_limits lim = limits_of(c);
		char *text = xasprintf("%s\r\nbody\r\n", c->header);
		struct mail_thread_keys k;
		struct buf refs;

		mail_thread_keys_parse(text, strlen(text), &lim, &k);
		buf_init(&refs);
		for (size_t j = 0; j < k.n_refs; j++) {
			if (j > 0)
				buf_append(&refs, " ", 1);
			buf_append(&refs, k.refs[j], strlen(k.refs[j]));
		}
		if ((c->msgid == NULL) != (k.message_id == NULL) ||
		    (c->msgid != NULL && strcmp(c->msgid, k.message_id) != 0) ||
		    strcmp(c->refs, refs.data != NULL ? refs.data : "") != 0 ||
		    strcmp(c->subject, k.base_subject) != 0)
			fail_msg("%s: got id %s refs \"%s\" subject \"%s\"",
				 c->name, k.message_id != NULL ?
				 k.message_id : "(none)",
				 refs.data != NULL ? refs.data : "",
				 k.base_subject);
		assert_true(k.n_refs <= lim.refs_max);
		buf_deinit(&refs);
		mail_thread_keys_deinit(&k);
		free(text);
	}
}

/* More References than refs_max in a long header: the default keeps the
 * 20 nearest, and a large setting keeps them all. */
static void
test_keys_many_refs(void **state)
{
	struct mail_thread_limits lim = mail_thread_limits_default;
	struct mail_thread_keys k;
	struct buf h;

	(void)state;
	buf_init(&h);
	buf_append(&h, "References:", 11);
	for (int i = 0; i < 300; i++) {
		char id[32];
		int n = snprintf(id, sizeof(id), " <r%d@x>", i);

		buf_append(&h, id, (size_t)n);
	}
	buf_append(&h, "\r\n\r\n", 4);
	mail_thread_keys_parse(h.data, h.len, &lim, &k);
	assert_int_equal(k.n_refs, MAIL_THREAD_REFS_MAX_DEFAULT);
	assert_string_equal(k.refs[0], "r280@x");
	assert_string_equal(k.refs[19], "r299@x");
	mail_thread_keys_deinit(&k);
	lim.refs_max = 1000;
	mail_thread_keys_parse(h.data, h.len, &lim, &k);
	assert_int_equal(k.n_refs, 300);
	assert_string_equal(k.refs[0], "r0@x");
	mail_thread_keys_deinit(&k);
	/* nothing to keep: no array */
	mail_thread_keys_parse("Subject: x\r\n\r\n", 14, &lim, &k);
	assert_int_equal(k.n_refs, 0);
	assert_null(k.refs);
	mail_thread_keys_deinit(&k);
	buf_deinit(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_keys_many_refs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
