/* SPDX-License-Identifier: MIT */
/*
 * Store micro-benchmark: durable deliveries per second (store_blob_put of a
 * unique message, then store_deliver to one INBOX) with 1, 4, 16 and 32
 * writer threads, each round in a fresh data_dir. Each message replies to
 * the one before it from the same bench thread, so full mode threads it as
 * delivery does (one lookup hit, two id inserts; -T: no threading, as
 * before migration 18). Not part of make check; build with
 * `make -C bench/store` after `make`.
 */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "mail/thread-keys.h"
#include "store/store.h"

enum bench_mode {
	BENCH_FULL,	/* blob_put + deliver: what SMTP does */
	BENCH_INDEX,	/* deliver only, one shared blob: the index ceiling */
};

struct bench_thread {
	struct store *store;
	int64_t account;
	int index;
	enum bench_mode mode;
	size_t size;
	const char *shared_blob;
	const atomic_bool *stop;
	uint64_t done;
	uint64_t failed;
};

/* full mode: thread keys from each message, as delivery reads them */
static bool threading = true;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of this process's thread named name, from
 * /proc (the store names its writer "herald-writer"); -1 if none. */
static double
thread_cpu(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	double cpu = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[300], comm[64] = "", stat[1024];
		unsigned long ut, st;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat",
			 e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(stat, sizeof(stat), f) != NULL) {
			/* fields 14 and 15, after the ")" of the name */
			const char *p = strrchr(stat, ')');

			if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d "
						"%*d %*u %*u %*u %*u %*u %lu %lu",
						&ut, &st) == 2)
				cpu = (double)(ut + st) /
				      (double)sysconf(_SC_CLK_TCK);
		}
		fclose(f);
	}
	closedir(d);
	return cpu;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* A message of exactly size bytes, unique per (thread, counter). */
static void
make_message(char *buf, size_t size, int thread, uint64_t n)
{
	int head = snprintf(buf, size,
			    "From: bench%d@example.com\r\n"
			    "Message-ID: <%d.%llu@bench>\r\n"
			    "In-Reply-To: <%d.%llu@bench>\r\n"
			    "Subject: Re: thread %d\r\n\r\n", thread, thread,
			    (unsigned long long)n, thread,
			    (unsigned long long)(n > 0 ? n - 1 : 0), thread);
	size_t i = head > 0 && (size_t)head < size ? (size_t)head : 0;

	for (; i < size; i++)
		buf[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' :
			(char)('a' + (char)((i + n) % 26));
}

static void *
thread_main(void *arg)
{
	struct bench_thread *t = arg;
	char *msg = xmalloc(t->size + 1);
	const char *error = NULL;

	for (uint64_t n = 0; !atomic_load(t->stop); n++) {
		char blob[STORE_BLOB_ID_LEN + 1];
		struct store_target target = { .account_id = t->account };
		struct mail_thread_keys keys = { 0 };

		if (t->mode == BENCH_FULL) {
			make_message(msg, t->size, t->index, n);
			if (threading) {
				mail_thread_keys_parse(msg, t->size,
						       store_thread_limits(
							       t->store),
						       &keys);
				target.thread_subject = keys.base_subject;
				target.thread_msgid = keys.message_id;
				target.thread_refs =
					(const char *const *)keys.refs;
				target.n_thread_refs = keys.n_refs;
			}
			if (store_blob_put(t->store, msg, t->size, blob,
					   &error) != STORE_OK) {
				fprintf(stderr, "blob_put: %s\n", error);
				t->failed++;
				mail_thread_keys_deinit(&keys);
				continue;
			}
		} else {
			memcpy(blob, t->shared_blob, sizeof(blob));
		}
		if (store_deliver(t->store, blob, t->size, 0, &target, 1, NULL,
				  &error) != STORE_OK) {
			fprintf(stderr, "deliver: %s\n", error);
			t->failed++;
		} else {
			t->done++;
		}
		mail_thread_keys_deinit(&keys);
	}
	free(msg);
	return NULL;
}

static int
bench_round(const char *base, int nthreads, double seconds, size_t size,
	    enum bench_mode mode, unsigned batch_max)
{
	char dir[4096];
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct store *store = NULL;
	struct bench_thread *threads;
	pthread_t *tids;
	struct store_stats st0, st1;
	const char *error = NULL;
	char shared[STORE_BLOB_ID_LEN + 1] = "";
	atomic_bool stop = false;
	uint64_t total = 0, failed = 0;
	int64_t account = 0;
	double t0, t1, w0, w1;

	snprintf(dir, sizeof(dir), "%s/herald-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return -1;
	}
	cfg->data_dir = xasprintf("%s/data", dir);
	cfg->store.backend = CONFIG_STORE_SQLITE;
	cfg->store.group_commit_max = batch_max;
	cfg->store.busy_timeout_ms = 10000;
	if (store_open(cfg, &store, &error) != STORE_OK ||
	    store_domain_add(store, "example.com", &error) != STORE_OK ||
	    store_user_add(store, "bench@example.com", "{PLAIN}x", NULL, 0,
			   &account, &error) != STORE_OK) {
		fprintf(stderr, "setup: %s\n", error);
		return -1;
	}
	if (mode == BENCH_INDEX) {
		char *msg = xmalloc(size + 1);
		make_message(msg, size, 0, 0);
		if (store_blob_put(store, msg, size, shared, &error) !=
		    STORE_OK) {
			fprintf(stderr, "blob_put: %s\n", error);
			return -1;
		}
		free(msg);
	}
	threads = xcalloc((size_t)nthreads, sizeof(*threads));
	tids = xcalloc((size_t)nthreads, sizeof(*tids));
	store_get_stats(store, &st0);
	w0 = thread_cpu("herald-writer");
	t0 = now_s();
	for (int i = 0; i < nthreads; i++) {
		threads[i] = (struct bench_thread){
			.store = store, .account = account, .index = i,
			.mode = mode, .size = size, .shared_blob = shared,
			.stop = &stop,
		};
		if (pthread_create(&tids[i], NULL, thread_main,
				   &threads[i]) != 0) {
			perror("pthread_create");
			return -1;
		}
	}
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, true);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(tids[i], NULL);
		total += threads[i].done;
		failed += threads[i].failed;
	}
	t1 = now_s();
	w1 = thread_cpu("herald-writer");
	store_get_stats(store, &st1);
	printf("%-5s threads=%-3d %8.0f deliveries/s  (%llu in %.2f s, "
	       "%llu failed, %llu commits, avg batch %.1f, max %llu, "
	       "writer CPU %.0f us/delivery)\n",
	       mode == BENCH_FULL ? "full" : "index", nthreads,
	       (double)total / (t1 - t0), (unsigned long long)total, t1 - t0,
	       (unsigned long long)failed,
	       (unsigned long long)(st1.commits - st0.commits),
	       st1.commits > st0.commits ?
	       (double)(st1.ops - st0.ops) / (double)(st1.commits - st0.commits) :
	       0.0, (unsigned long long)st1.max_batch,
	       total > 0 && w0 >= 0 ? (w1 - w0) / (double)total * 1e6 : 0.0);
	fflush(stdout);
	store_close(&store);
	free(threads);
	free(tids);
	free(cfg->data_dir);
	free(cfg);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? 0 : -1;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: bench-store [-t SECONDS] [-d DIR] [-s BYTES] "
		"[-b BATCH_MAX] [-m full|index] [-T] [THREADS...]\n"
		"  -T: no thread keys (full mode threads like delivery)\n"
		"  defaults: 3 s per round, /tmp, 5120 bytes, batch 64, "
		"threads 1 4 16 32\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const int default_threads[] = { 1, 4, 16, 32 };
	const char *dir = "/tmp";
	double seconds = 3.0;
	size_t size = 5120;
	unsigned batch_max = 64;
	enum bench_mode mode = BENCH_FULL;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "t:d:s:b:m:Th")) != -1) {
		switch (opt) {
		case 't': seconds = strtod(optarg, NULL); break;
		case 'd': dir = optarg; break;
		case 'T': threading = false; break;
		case 's': size = (size_t)strtoul(optarg, NULL, 10); break;
		case 'b': batch_max = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			if (strcmp(optarg, "full") == 0)
				mode = BENCH_FULL;
			else if (strcmp(optarg, "index") == 0)
				mode = BENCH_INDEX;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (seconds <= 0 || size < 64 || batch_max == 0)
		usage();
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			int n = (int)strtol(argv[i], NULL, 10);
			if (n < 1 || n > 1024)
				usage();
			if (bench_round(dir, n, seconds, size, mode,
					batch_max) < 0)
				rc = 1;
		}
	} else {
		for (size_t i = 0; i < sizeof(default_threads) /
		     sizeof(default_threads[0]); i++)
			if (bench_round(dir, default_threads[i], seconds,
					size, mode, batch_max) < 0)
				rc = 1;
	}
	return rc;
}
