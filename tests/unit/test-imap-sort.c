/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for SORT and THREAD (RFC 5256): base subject extraction with
 * the RFC's rules case by case, the i;unicode-casemap and i;ascii-casemap
 * comparators, Date and msg-id parsing, the per-message record, the
 * order of SORT criteria, and both THREAD algorithms on small constructed
 * mailboxes (dummy parents, loops in References, duplicate Message-IDs,
 * subject gathering).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/basesubject.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/buf.h"
#include "lib/unicasemap.h"

struct subj_case {
	const char *in;
	const char *base;
	bool reply;
};

static const struct subj_case subj_cases[] = {
	{ "", "", false },
	{ "hello", "hello", false },
	{ "  hello  ", "hello", false },
	{ "hello\tworld", "hello world", false },
	{ "hello \r\n  world", "hello world", false },
	{ "Re: hello", "hello", true },
	{ "RE: hello", "hello", true },
	{ "re:hello", "hello", true },
	{ "Re : hello", "hello", true },
	{ "Re: Re: re: hello", "hello", true },
	{ "Fw: hello", "hello", true },
	{ "FWD: hello", "hello", true },
	{ "Fwd : hello", "hello", true },
	{ "Re[2]: hello", "hello", true },
	{ "Re [list]: hello", "hello", true },
	{ "[list] Re: hello", "hello", true },
	{ "[list] hello", "hello", false },
	{ "[list][other] hello", "hello", false },
	{ "[list]", "[list]", false },
	{ "Re: [list]", "[list]", true },
	{ "[a] [b]", "[b]", false },
	{ "hello (fwd)", "hello", true },
	{ "hello (FWD) (fwd)  ", "hello", true },
	{ "hello(fwd)", "hello", true },
	{ "[fwd: hello]", "hello", true },
	{ "[Fwd: Re: hello]", "hello", true },
	{ "Re: [fwd: re: hello]", "hello", true },
	{ "[fwd: [fwd: hello (fwd)]]", "hello", true },
	{ "[fwd: hello", "[fwd: hello", false },
	{ "Rex: hello", "Rex: hello", false },
	{ "Reply: hello", "Reply: hello", false },
	{ "fwdx: hello", "fwdx: hello", false },
	{ "re: ", "", true },
	{ "Re:", "", true },
	{ "(fwd)", "", true },
	{ "Re: hello world  again", "hello world again", true },
	/* RFC 2047 encoded words are decoded first (step 1) */
	{ "=?UTF-8?Q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9", true },
	{ "=?ISO-8859-1?Q?Caf=E9?= =?ISO-8859-1?Q?_au_lait?=",
	  "Caf\xc3\xa9 au lait", false },
	{ "Re: =?UTF-8?B?aGVsbG8=?=", "hello", true },
	{ "=?UTF-8?Q?=5Bfwd=3A_x=5D?=", "x", true },
	/* an undecodable word stays */
	{ "=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?=", false },
};

static void
test_base_subject(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(subj_cases) / sizeof(subj_cases[0]);
	     i++) {
		const struct subj_case *c = &subj_cases[i];
		struct buf out;
		bool reply;

		buf_init(&out);
		reply = mail_base_subject(c->in, strlen(c->in), &out);
		if (strcmp(out.data, c->base) != 0 || reply != c->reply)
			fail_msg("\"%s\": got \"%s\" reply=%d, want \"%s\" "
				 "reply=%d", c->in, out.data, reply, c->base,
				 c->reply);
		buf_deinit(&out);
	}
}

/* A long run of blobs is linear, not quadratic. */
static void
test_base_subject_blob_run(void **state)
{
	struct buf in, out;

	(void)state;
	buf_init(&in);
	buf_init(&out);
	for (int i = 0; i < 100000; i++)
		buf_puts(&in, "[a]");
	buf_puts(&in, "x");
	mail_base_subject(in.data, in.len, &out);
	assert_string_equal(out.data, "x");
	buf_reset(&in);
	buf_reset(&out);
	for (int i = 0; i < 50000; i++)
		buf_puts(&in, "[fwd: ");
	buf_puts(&in, "y");
	for (int i = 0; i < 50000; i++)
		buf_puts(&in, "]");
	assert_true(mail_base_subject(in.data, in.len, &out));
	assert_string_equal(out.data, "y");
	buf_deinit(&in);
	buf_deinit(&out);
}

static void
casemap(const char *s, struct buf *out)
{
	buf_reset(out);
	unicasemap_append(s, strlen(s), out);
}

static void
test_unicasemap(void **state)
{
	struct buf a, b;

	(void)state;
	buf_init(&a);
	buf_init(&b);
	casemap("Hello, World", &a);
	assert_string_equal(a.data, "HELLO, WORLD");
	/* precomposed and decomposed e-acute, any case, are equal */
	casemap("caf\xc3\xa9", &a);
	casemap("CAFE\xcc\x81", &b);
	assert_string_equal(a.data, b.data);
	/* titlecase of the DZ digraphs; fi ligature; ohm sign; nbsp */
	casemap("\xc7\x86", &a);			/* U+01C6 dz caron */
	casemap("D\xc5\xbd", &b);			/* D Z-caron */
	assert_string_equal(a.data, b.data);
	casemap("\xef\xac\x81", &a);			/* U+FB01 */
	assert_string_equal(a.data, "FI");
	casemap("\xe2\x84\xa6", &a);			/* U+2126 ohm */
	casemap("\xcf\x89", &b);			/* omega */
	assert_string_equal(a.data, b.data);
	casemap("a\xc2\xa0" "b", &a);
	assert_string_equal(a.data, "A B");
	/* Greek final sigma and sigma; Cyrillic */
	casemap("\xcf\x82", &a);
	casemap("\xce\xa3", &b);
	assert_string_equal(a.data, b.data);
	casemap("\xd0\xbf\xd1\x80\xd0\xb8", &a);
	casemap("\xd0\x9f\xd0\xa0\xd0\x98", &b);
	assert_string_equal(a.data, b.data);
	/* invalid UTF-8 is kept as octets */
	casemap("a\xff" "b", &a);
	assert_memory_equal(a.data, "A\xff" "B", 3);
	/* order: code point order of the forms */
	assert_true(unicasemap_compare("apple", 5, "Banana", 6) < 0);
	assert_true(unicasemap_compare("\xc3\xa9t\xc3\xa9", 5, "ETE", 3) > 0);
	assert_true(unicasemap_compare("\xc3\xa9", 2, "E\xcc\x81", 3) == 0);
	assert_true(unicasemap_compare("", 0, "a", 1) < 0);
	/* i;ascii-casemap leaves non-ASCII alone */
	buf_reset(&a);
	unicasemap_ascii_append("caf\xc3\xa9", 5, &a);
	assert_string_equal(a.data, "CAF\xc3\xa9");
	assert_string_equal(unicasemap_version(), "14.0.0");
	buf_deinit(&a);
	buf_deinit(&b);
}

static void
test_date(void **state)
{
	static const struct {
		const char *in;
		int64_t t;
	} good[] = {
		{ "Mon, 07 Feb 1994 22:43:04 -0800", 760689784 },
		{ "7 Feb 1994 22:43:04 -0800", 760689784 },
		{ " Tue, 8 Feb 1994 06:43:04 +0000 (UTC)", 760689784 },
		{ "08 Feb 1994 06:43 GMT", 760689784 - 4 },
		{ "08 Feb 94 07:43:04 +0100", 760689784 },
		{ "Tue (x), 08 (y) Feb 1994 06:43:04 UT", 760689784 },
		{ "08 Feb 1994 01:43:04 EST", 760689784 },
		/* an unknown zone or none is UTC */
		{ "08 Feb 1994 06:43:04 XYZ", 760689784 },
		{ "08 Feb 1994 06:43:04", 760689784 },
		{ "01 Jan 1970 00:00:00 +0100", -3600 },
	};
	static const char *const bad[] = {
		"", "garbage", "Mon 07 Feb 1994 22:43:04 -0800",
		"32 Jan 2020 10:00:00 +0000", "29 Feb 2023 10:00:00 +0000",
		"07 Fev 1994 22:43:04 -0800", "07 Feb 1994 24:00:00 +0000",
		"07 Feb 1994 22:60:00 +0000", "07 Feb 1994", "07 Feb 19945",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (imap_sort_date_parse(good[i].in, strlen(good[i].in),
					 &t) < 0)
			fail_msg("\"%s\" refused", good[i].in);
		if (t != good[i].t)
			fail_msg("\"%s\": %lld, want %lld", good[i].in,
				 (long long)t, (long long)good[i].t);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (imap_sort_date_parse(bad[i], strlen(bad[i]), &t) == 0)
			fail_msg("\"%s\" read", bad[i]);
}

static void
test_msgid(void **state)
{
	const char *v = " <a@b> junk (<c@d>) <nope> <x y@z> <e@f>\r\n <g@h>";
	const char *want[] = { "a@b", "e@f", "g@h" };
	size_t pos = 0, len, k = 0;
	const char *id;

	(void)state;
	while (imap_sort_msgid_next(v, strlen(v), &pos, &id, &len)) {
		assert_true(k < 3);
		assert_int_equal(len, strlen(want[k]));
		assert_memory_equal(id, want[k], len);
		k++;
	}
	assert_int_equal(k, 3);
	pos = 0;
	assert_false(imap_sort_msgid_next("<@b> <a@> <>", 12, &pos, &id,
					  &len));
}

static void
build(const char *hdr, struct buf *rec, struct imap_sort_rec *r)
{
	buf_reset(rec);
	imap_sort_record_build(hdr, strlen(hdr), rec);
	assert_true(imap_sort_record_parse(rec->data, rec->len, r));
}

static void
test_record(void **state)
{
	struct buf rec;
	struct imap_sort_rec r;
	const char *p;

	(void)state;
	buf_init(&rec);
	build("Date: Mon, 07 Feb 1994 22:43:04 -0800\r\n"
	      "Subject: Re: [list] =?UTF-8?Q?Caf=C3=A9?=\r\n"
	      "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.com>\r\n"
	      "To: undisclosed:;, \"Bob B\" <bob@example.org>\r\n"
	      "Cc: <carol@example.net>\r\n"
	      "Message-ID: <m1@example.com>\r\n"
	      "In-Reply-To: <ignored@x>\r\n"
	      "References: <r1@x> <r2@x>\r\n\r\n", &rec, &r);
	assert_true(r.has_date);
	assert_int_equal(r.date, 760689784);
	assert_true(r.reply);
	assert_string_equal(r.subject, "CAFE\xcc\x81");
	assert_string_equal(r.from, "JOERG");
	assert_string_equal(r.to, "BOB");
	assert_string_equal(r.cc, "CAROL");
	assert_string_equal(r.display_from, "JO\xcc\x88RG");
	assert_string_equal(r.display_to, "BOB B");
	assert_string_equal(r.msgid, "m1@example.com");
	assert_int_equal(r.n_refs, 2);
	assert_string_equal(r.refs, "r1@x");
	p = r.refs + strlen(r.refs) + 1;
	assert_string_equal(p, "r2@x");
	/* nothing there; In-Reply-To when References has no valid id */
	build("Date: whenever\r\nIn-Reply-To: <p@x> <q@x>\r\n"
	      "References: junk\r\nFrom: <>\r\n\r\n", &rec, &r);
	assert_false(r.has_date);
	assert_false(r.reply);
	assert_string_equal(r.subject, "");
	assert_string_equal(r.from, "");
	assert_string_equal(r.display_from, "");
	assert_null(r.msgid);
	assert_int_equal(r.n_refs, 1);
	assert_string_equal(r.refs, "p@x");
	/* display: the address without a name */
	build("To: a@b.example\r\nFrom: \"\" <c@d.example>\r\n\r\n", &rec, &r);
	assert_string_equal(r.display_to, "A@B.EXAMPLE");
	assert_string_equal(r.display_from, "C@D.EXAMPLE");
	/* damaged records are refused */
	assert_false(imap_sort_record_parse(rec.data, rec.len - 1, &r));
	assert_false(imap_sort_record_parse("x", 1, &r));
	buf_deinit(&rec);
}

static void
test_references_cap(void **state)
{
	struct buf hdr, rec;
	struct imap_sort_rec r;

	(void)state;
	buf_init(&hdr);
	buf_init(&rec);
	buf_puts(&hdr, "References:");
	for (int i = 0; i < 1000; i++)
		buf_printf(&hdr, " <id%d@x>", i);
	buf_puts(&hdr, "\r\n\r\n");
	imap_sort_record_build(hdr.data, hdr.len, &rec);
	assert_true(imap_sort_record_parse(rec.data, rec.len, &r));
	assert_int_equal(r.n_refs, IMAP_SORT_REFS_MAX);
	assert_string_equal(r.refs, "id744@x");
	buf_deinit(&hdr);
	buf_deinit(&rec);
}

static void
parse_criteria(const char *const *atoms, size_t n,
	       struct imap_sort_program *p, int want)
{
	struct imap_arg list, items[8];
	const char *err = NULL;

	memset(&list, 0, sizeof(list));
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < n; i++) {
		items[i].type = IMAP_ARG_ATOM;
		items[i].str = atoms[i];
		items[i].len = strlen(atoms[i]);
	}
	list.type = IMAP_ARG_LIST;
	list.list = items;
	list.list_count = n;
	assert_int_equal(imap_sort_criteria_parse(&list, p, &err), want);
	if (want < 0)
		assert_non_null(err);
}

static void
test_sort_order(void **state)
{
	static const char *const c1[] = { "REVERSE", "DATE", "subject" };
	static const char *const c2[] = { "SIZE" };
	static const char *const bad1[] = { "REVERSE" };
	static const char *const bad2[] = { "REVERSE", "REVERSE", "DATE" };
	static const char *const bad3[] = { "DATE", "NOPE" };
	struct imap_sort_program p;
	struct imap_sort_msg m[4];

	(void)state;
	parse_criteria(c1, 3, &p, 0);
	assert_int_equal(p.n, 2);
	assert_true(p.c[0].reverse);
	assert_false(p.c[1].reverse);
	assert_true(p.needs_records);
	parse_criteria(bad1, 1, &p, -1);
	parse_criteria(bad2, 3, &p, -1);
	parse_criteria(bad3, 2, &p, -1);
	parse_criteria(c1, 0, &p, -1);
	parse_criteria(c1, 3, &p, 0);
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 4; i++) {
		m[i].seq = (uint32_t)i + 1;
		m[i].internal_date = 1000 + i;
	}
	/* 1 and 3 have no Date: their internal date stands in */
	m[1].rec.has_date = true;
	m[1].rec.date = 500;
	m[3].rec.has_date = true;
	m[3].rec.date = 1002;		/* ties with 3's internal date */
	m[0].rec.subject = "B";
	m[1].rec.subject = "A";
	m[2].rec.subject = "B";
	m[3].rec.subject = "A";
	imap_sort_messages(m, 4, &p);	/* REVERSE DATE SUBJECT */
	/* dates 1000, 500, 1002, 1002: 4 (A) before 3 (B) */
	assert_int_equal(m[0].seq, 4);
	assert_int_equal(m[1].seq, 3);
	assert_int_equal(m[2].seq, 1);
	assert_int_equal(m[3].seq, 2);
	/* equal keys keep sequence order, also reversed */
	parse_criteria(c2, 1, &p, 0);
	p.c[0].reverse = true;
	for (int i = 0; i < 4; i++) {
		m[i].seq = (uint32_t)(4 - i);
		m[i].size = 7;
	}
	imap_sort_messages(m, 4, &p);
	for (int i = 0; i < 4; i++)
		assert_int_equal(m[i].seq, i + 1);
}

/* ---- THREAD ---- */

struct tmsg {
	const char *subject;	/* base subject (casemapped by hand) */
	bool reply;
	const char *id;
	const char *refs;	/* space separated */
	int64_t sent;
};

static char *
thread(enum imap_thread_algorithm algo, const struct tmsg *t, size_t n)
{
	struct imap_thread_msg *m = calloc(n + 1, sizeof(*m));
	struct buf refs[16], out;
	char *res;

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		buf_init(&refs[i]);
		m[i].num = m[i].seq = (uint32_t)i + 1;
		m[i].sent = t[i].sent != 0 ? t[i].sent : (int64_t)i + 1;
		m[i].subject = t[i].subject;
		m[i].reply = t[i].reply;
		m[i].msgid = t[i].id;
		if (t[i].refs != NULL) {
			for (const char *p = t[i].refs; *p != '\0';) {
				size_t l = strcspn(p, " ");

				buf_append(&refs[i], p, l);
				buf_putc(&refs[i], '\0');
				m[i].n_refs++;
				p += l;
				p += strspn(p, " ");
			}
		}
		m[i].refs = refs[i].data;
	}
	buf_init(&out);
	imap_thread_write(algo, m, n, &out);
	for (size_t i = 0; i < n; i++)
		buf_deinit(&refs[i]);
	free(m);
	res = buf_steal(&out);
	buf_deinit(&out);
	return res;
}

#define CHECK_THREAD(algo, msgs, want) do { \
	char *got_ = thread(algo, msgs, sizeof(msgs) / sizeof(msgs[0])); \
	if (strcmp(got_, want) != 0) \
		fail_msg("got %s, want %s", got_, want); \
	free(got_); \
} while (0)

static void
test_thread_ordered_subject(void **state)
{
	static const struct tmsg m[] = {
		{ "A", false, NULL, NULL, 10 },
		{ "B", false, NULL, NULL, 20 },
		{ "A", true, NULL, NULL, 5 },
		{ "A", false, NULL, NULL, 30 },
		{ "B", false, NULL, NULL, 40 },
		{ "C", false, NULL, NULL, 1 },
	};
	enum imap_thread_algorithm a;

	(void)state;
	/* A: 3 (5) first, then 1 and 4; B: 2 then 5; C alone, earliest */
	CHECK_THREAD(IMAP_THREAD_ORDEREDSUBJECT, m, "(6)(3 (1)(4))(2 5)");
	assert_true(imap_thread_algorithm_parse("references", &a));
	assert_int_equal(a, IMAP_THREAD_REFERENCES);
	assert_true(imap_thread_algorithm_parse("OrderedSubject", &a));
	assert_false(imap_thread_algorithm_parse("REFS", &a));
}

static void
test_thread_references(void **state)
{
	/* a chain and a sibling */
	static const struct tmsg chain[] = {
		{ "S", false, "a", NULL, 0 },
		{ "S", true, "b", "a", 0 },
		{ "S", true, "c", "a b", 0 },
		{ "S", true, "d", "a", 0 },
	};
	/* a missing parent: a dummy with two children stays at the root,
	 * with one it is pruned */
	static const struct tmsg dummy[] = {
		{ "X", false, "b", "x", 0 },
		{ "Y", false, "c", "x", 0 },
		{ "Z", false, "d", "y", 0 },
	};
	/* the RFC's step 1.A: a missing middle reference is a dummy that
	 * is pruned, its child promoted */
	static const struct tmsg middle[] = {
		{ "P", false, "p", NULL, 0 },
		{ "Q", false, "q", "p m", 0 },
	};
	/* a loop in References: b says a is its parent, a says b */
	static const struct tmsg loop[] = {
		{ "L", false, "a", "b", 0 },
		{ "M", false, "b", "a", 0 },
	};
	/* duplicate Message-ID: only the first has it */
	static const struct tmsg dup[] = {
		{ "D", false, "a", NULL, 0 },
		{ "E", false, "a", NULL, 0 },
		{ "F", false, "c", "a", 0 },
	};
	/* subject gathering: a reply joins its original; two originals get
	 * a dummy; an empty subject is never gathered */
	static const struct tmsg subj[] = {
		{ "HELLO", false, "1", NULL, 0 },
		{ "HELLO", true, "2", NULL, 0 },
		{ "WORLD", false, "3", NULL, 0 },
		{ "WORLD", false, "4", NULL, 0 },
		{ "", false, "5", NULL, 0 },
		{ "", false, "6", NULL, 0 },
	};
	/* the reply came first: the original still becomes the thread */
	static const struct tmsg reply_first[] = {
		{ "T", true, "1", NULL, 0 },
		{ "T", false, "2", NULL, 0 },
	};
	/* siblings by sent date, not by sequence; threads by their first */
	static const struct tmsg dates[] = {
		{ "R", false, "r", NULL, 50 },
		{ "R", true, "s", "r", 90 },
		{ "R", true, "t", "r", 60 },
		{ "U", false, "u", NULL, 10 },
	};
	/* the last reference wins over a parent set from another
	 * message's References (step 1.B) */
	static const struct tmsg last_wins[] = {
		{ "A", false, "a", NULL, 0 },
		{ "B", false, "b", NULL, 0 },
		{ "C", false, "x", "a c", 0 },	/* makes a the parent of c */
		{ "C", false, "c", "b", 0 },	/* but c says b, x follows */
	};
	/* no Message-ID at all, a self reference */
	static const struct tmsg odd[] = {
		{ "O", false, NULL, NULL, 0 },
		{ "O2", false, "s", "s", 0 },
	};

	(void)state;
	CHECK_THREAD(IMAP_THREAD_REFERENCES, chain, "(1 (2 3)(4))");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, dummy, "((1)(2))(3)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, middle, "(1 2)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, loop, "(2 1)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, dup, "(1 3)(2)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, subj,
		     "(1 2)((3)(4))(5)(6)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, reply_first, "(2 1)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, dates, "(4)(1 (3)(2))");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, last_wins, "(1)(2 4 3)");
	CHECK_THREAD(IMAP_THREAD_REFERENCES, odd, "(1)(2)");
}

/* A deep chain (every message replying to the one before) and a wide
 * thread: no recursion to overflow, sane output. */
static void
test_thread_deep(void **state)
{
	size_t n = 20000;
	struct imap_thread_msg *m = calloc(n, sizeof(*m));
	char (*ids)[16] = calloc(n, sizeof(*ids));
	struct buf out;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%zu@x", i);
		m[i].num = m[i].seq = (uint32_t)i + 1;
		m[i].sent = (int64_t)i;
		m[i].subject = "S";
		m[i].msgid = ids[i];
		if (i > 0) {
			m[i].refs = ids[i - 1];
			m[i].n_refs = 1;
		}
	}
	buf_init(&out);
	imap_thread_write(IMAP_THREAD_REFERENCES, m, n, &out);
	assert_true(strncmp(out.data, "(1 2 3 ", 7) == 0);
	assert_true(out.data[out.len - 1] == ')');
	buf_reset(&out);
	imap_thread_write(IMAP_THREAD_ORDEREDSUBJECT, m, n, &out);
	assert_true(strncmp(out.data, "(1 (2)(3)", 9) == 0);
	buf_deinit(&out);
	free(ids);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_base_subject_blob_run),
		cmocka_unit_test(test_unicasemap),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_msgid),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_references_cap),
		cmocka_unit_test(test_sort_order),
		cmocka_unit_test(test_thread_ordered_subject),
		cmocka_unit_test(test_thread_references),
		cmocka_unit_test(test_thread_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
