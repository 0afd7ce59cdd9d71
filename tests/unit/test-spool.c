/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/spool: a message fed whole, octet by octet and in
 * random pieces comes back the same from memory or from its temp file; the
 * file is made only past the threshold and leaves no name behind; a write
 * that fails (no space) is reported at the end, not lost; the spools of a
 * process together stay within their memory budget.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "lib/spool.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/herald-spool-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

static size_t
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static uint8_t *
make_content(size_t len)
{
	uint8_t *p = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + i / 977) & 0xff);
	return p;
}

/* Everything read back with spool_pread in odd-sized steps. */
static void
assert_content(const struct spool *sp, const uint8_t *want, size_t len)
{
	uint8_t *got = xmalloc(len + 1);
	size_t off = 0;

	while (off < len) {
		ssize_t n = spool_pread(sp, got + off, 7777, off);

		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_int_equal(spool_pread(sp, got, 10, len), 0);
	assert_memory_equal(got, want, len);
	free(got);
}

enum split { WHOLE, OCTETS, RANDOM };

static struct spool *
feed(const uint8_t *data, size_t len, size_t mem_max, enum split how,
     unsigned seed)
{
	struct spool *sp = spool_new(tmpdir, mem_max);
	size_t off = 0;

	srand(seed);
	while (off < len) {
		size_t n = len - off;

		if (how == OCTETS)
			n = 1;
		else if (how == RANDOM && n > 1)
			n = 1 + (size_t)rand() % (n < 70000 ? n : 70000);
		spool_write(sp, data + off, n);
		off += n;
	}
	return sp;
}

static void
test_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 65536,
					300000, 1 << 20 };
	static const enum split splits[] = { WHOLE, OCTETS, RANDOM };
	int err = 0;
	const char *why = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *data = make_content(sizes[i]);

		for (size_t k = 0; k < 3; k++) {
			if (splits[k] == OCTETS && sizes[i] > 300000)
				continue;
			struct spool *sp = feed(data, sizes[i], 4096,
						splits[k], (unsigned)i);

			assert_int_equal(spool_finish(sp, &err, &why), 0);
			assert_int_equal(spool_size(sp), sizes[i]);
			if (sizes[i] <= 4096) {
				/* in memory, NUL-terminated, no file */
				assert_int_equal(spool_fd(sp), -1);
				assert_non_null(spool_data(sp));
				assert_memory_equal(spool_data(sp), data,
						    sizes[i]);
				assert_int_equal(spool_data(sp)[sizes[i]], 0);
			} else {
				struct stat st;

				assert_null(spool_data(sp));
				assert_true(spool_fd(sp) >= 0);
				assert_int_equal(fstat(spool_fd(sp), &st), 0);
				assert_int_equal(st.st_size, sizes[i]);
			}
			/* unnamed: nothing to clean up after a crash */
			assert_int_equal(dir_entries(tmpdir), 0);
			assert_content(sp, data, sizes[i]);
			spool_free(&sp);
			assert_null(sp);
		}
		free(data);
	}
}

/* No directory to spool in: the failure is kept for spool_finish(). */
static void
test_no_dir(void **state)
{
	char *dir = xasprintf("%s/missing", tmpdir);
	struct spool *sp = spool_new(dir, 4096);
	uint8_t *data = make_content(20000);
	int err = 0;
	const char *why = NULL;

	(void)state;
	spool_write(sp, data, 5000);
	spool_write(sp, data + 5000, 15000);
	assert_int_equal(spool_finish(sp, &err, &why), -1);
	assert_int_equal(err, ENOENT);
	assert_non_null(strstr(why, "cannot create the message spool"));
	assert_int_equal(spool_size(sp), 20000);
	spool_free(&sp);
	free(data);
	free(dir);
}

/* A full disk (here: a file size limit) in the middle of the message. */
static void
test_write_fails(void **state)
{
	struct rlimit old, lim = { .rlim_cur = 100000, .rlim_max = 0 };
	struct sigaction ign = { .sa_handler = SIG_IGN }, prev;
	uint8_t *data = make_content(300000);
	int err = 0;
	const char *why = NULL;
	struct spool *sp;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_max = old.rlim_max;
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGXFSZ, &ign, &prev), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	sp = feed(data, 300000, 4096, RANDOM, 7);
	assert_int_equal(spool_finish(sp, &err, &why), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	sigaction(SIGXFSZ, &prev, NULL);
	assert_int_equal(err, EFBIG);
	assert_non_null(strstr(why, "cannot write the message spool"));
	assert_int_equal(spool_size(sp), 300000);
	spool_free(&sp);
	free(data);
}

/* 40 sessions each receiving 200 KB with a 256 KiB per-session limit
 * held 8 MB; with a 1 MiB budget the ones past it go to their files
 * (even small ones), those on file stop staging, and every message still
 * reads back whole. */
static void
test_memory_budget(void **state)
{
	enum { N = 40, LEN = 200000, BUDGET = 1 << 20, MEM_MAX = 256 << 10 };
	struct spool *sp[N];
	uint8_t *data = make_content(LEN);
	size_t peak = 0, on_file = 0;
	int err = 0;
	const char *why = NULL;

	(void)state;
	assert_int_equal(spool_memory_held(), 0);
	spool_set_memory_budget(BUDGET);
	for (size_t i = 0; i < N; i++)
		sp[i] = spool_new(tmpdir, MEM_MAX);
	/* all sessions receive at once, 4 KiB at a time (the reader's
	 * stage) */
	for (size_t off = 0; off < LEN; off += 4096) {
		size_t n = LEN - off < 4096 ? LEN - off : 4096;

		for (size_t i = 0; i < N; i++)
			spool_write(sp[i], data + off, n);
		if (spool_memory_held() > peak)
			peak = spool_memory_held();
	}
	/* within the budget but for one growth step of one spool */
	assert_true(peak <= BUDGET + MEM_MAX + 1);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(spool_finish(sp[i], &err, &why), 0);
		on_file += spool_fd(sp[i]) >= 0;
		assert_content(sp[i], data, LEN);
	}
	assert_true(on_file >= N - BUDGET / LEN);
	/* a small message past the budget goes to a file too */
	{
		struct spool *small = spool_new(tmpdir, MEM_MAX);

		spool_write(small, "hi\r\n", 4);
		assert_int_equal(spool_finish(small, &err, &why), 0);
		assert_true(spool_fd(small) >= 0);
		assert_content(small, (const uint8_t *)"hi\r\n", 4);
		spool_free(&small);
	}
	for (size_t i = 0; i < N; i++)
		spool_free(&sp[i]);
	assert_int_equal(spool_memory_held(), 0);
	/* under the budget again: in memory as before */
	{
		struct spool *small = spool_new(tmpdir, MEM_MAX);

		spool_write(small, "hi\r\n", 4);
		assert_int_equal(spool_finish(small, &err, &why), 0);
		assert_int_equal(spool_fd(small), -1);
		spool_free(&small);
	}
	spool_set_memory_budget(SIZE_MAX);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_dir),
		cmocka_unit_test(test_write_fails),
		cmocka_unit_test(test_memory_budget),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
