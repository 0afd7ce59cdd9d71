/* SPDX-License-Identifier: MIT */
/* POP3 maildrop against a real SQLite store: the snapshot of the INBOX,
 * the cross-process lock ([IN-USE]) and LOGIN-DELAY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/config.h"
#include "lib/mem.h"
#include "pop3/pop3-private.h"
#include "store/store.h"
#include "store-fixture.h"

struct fixture {
	struct test_store ts;
	struct config *cfg;	/* == ts.cfg */
	struct store *store;	/* == ts.store */
	int64_t account;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char id[STORE_BLOB_ID_LEN + 1];
	struct store_target t = { 0 };
	const char *msg = "Subject: hi\r\n\r\nbody\r\n";

	test_store_open(&f->ts, "pop3");
	f->cfg = f->ts.cfg;
	f->store = f->ts.store;
	assert_int_equal(store_user_add(f->store, "a@example.test", "{PLAIN}x",
					NULL, 0, &f->account, NULL), STORE_OK);
	assert_int_equal(store_blob_put(f->store, msg, strlen(msg), id, NULL),
			 STORE_OK);
	t.account_id = f->account;
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_deliver(f->store, id, strlen(msg), 0, &t,
					       1, NULL, NULL), STORE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_store_close(&f->ts);
	free(f);
	return 0;
}

static void
test_snapshot_and_lock(void **state)
{
	struct fixture *f = *state;
	struct pop3_maildrop a, b;
	const char *error = NULL;
	pid_t pid;
	int status;

	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, f->account, &a,
					    &error), POP3_DROP_OK);
	assert_int_equal(a.n_msgs, 3);
	assert_int_equal(a.msgs[0].uid, 1);
	assert_int_equal(a.msgs[2].uid, 3);
	assert_int_equal(a.msgs[0].size, 21);
	assert_int_equal(a.total_size, 63);
	assert_true(a.uidvalidity != 0);
	assert_int_equal(strlen(a.msgs[1].blob_id), STORE_BLOB_ID_LEN);
	/* the same process, a second session */
	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, f->account, &b,
					    &error), POP3_DROP_IN_USE);
	assert_int_equal(b.lock_fd, -1);
	/* another process (another worker) sees the lock too */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;
		char *path = xasprintf("%s/locks/%lld.pop3", f->cfg->data_dir,
				       (long long)f->account);

		fd = open(path, O_RDWR);
		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pop3_maildrop_close(&a);
	assert_int_equal(a.lock_fd, -1);
	assert_null(a.msgs);
	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, f->account, &b,
					    &error), POP3_DROP_OK);
	pop3_maildrop_close(&b);
}

static void
test_login_delay(void **state)
{
	struct fixture *f = *state;
	struct pop3_maildrop a;
	const char *error = NULL;

	f->cfg->pop3.login_delay_s = 3600;
	/* the first login passes and records the time */
	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, f->account, &a,
					    &error), POP3_DROP_OK);
	pop3_maildrop_close(&a);
	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, f->account, &a,
					    &error), POP3_DROP_LOGIN_DELAY);
	f->cfg->pop3.login_delay_s = 0;
	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, f->account, &a,
					    &error), POP3_DROP_OK);
	pop3_maildrop_close(&a);
}

static void
test_unknown_account(void **state)
{
	struct fixture *f = *state;
	struct pop3_maildrop a;
	const char *error = NULL;

	assert_int_equal(pop3_maildrop_open(f->store, f->cfg, 999999, &a,
					    &error), POP3_DROP_TEMP);
	assert_non_null(error);
	assert_int_equal(a.lock_fd, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot_and_lock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_login_delay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_account, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
