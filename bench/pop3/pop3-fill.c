/* SPDX-License-Identifier: MIT */
/*
 * Benchmark helper: puts COUNT messages of about SIZE bytes into the INBOX
 * of ADDRESS through store.h (blob_put + deliver, as SMTP delivery does),
 * and writes the same bytes into MAILDIR/new for the Dovecot side.
 * Usage: pop3-fill CONFIG ADDRESS COUNT SIZE MAILDIR
 *        pop3-fill CONFIG ADDRESS -        (one message from stdin; tests)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/privdrop.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "store/store.h"

static void
make_message(struct buf *b, unsigned i, size_t size)
{
	unsigned line = 0;

	buf_reset(b);
	buf_printf(b, "From: bench@remote.test\r\nTo: user\r\n"
		      "Subject: benchmark message %u\r\n"
		      "Message-ID: <bench%u@remote.test>\r\n\r\n", i, i);
	while (b->len + 80 < size) {
		/* every 10th line starts with a dot: exercises stuffing */
		buf_printf(b, "%s%06u line of message %u, some filler text "
			      "to make it about 76 bytes long.\r\n",
			   line % 10 == 0 ? "." : "", line, i);
		line++;
	}
}

int
main(int argc, char **argv)
{
	struct config *cfg;
	struct store *store;
	struct store_user *u = NULL;
	const char *err = NULL;
	char *cerr = NULL;
	unsigned count;
	size_t size;
	struct buf msg;
	struct daemon_creds creds;

	if (argc != 6 && !(argc == 4 && strcmp(argv[3], "-") == 0)) {
		fprintf(stderr, "usage: pop3-fill CONFIG ADDRESS COUNT SIZE "
				"MAILDIR\n");
		return 2;
	}
	count = argc == 6 ? (unsigned)strtoul(argv[3], NULL, 10) : 1;
	size = argc == 6 ? strtoul(argv[4], NULL, 10) : 0;
	if ((cfg = config_load(argv[1], &cerr)) == NULL) {
		fprintf(stderr, "%s\n", cerr);
		return 1;
	}
	/* as root: become the workers' user so they can read the blobs */
	if (daemon_creds_resolve(cfg, &creds, &cerr) < 0 ||
	    daemon_data_dir_ensure(cfg, &creds, &cerr) < 0 ||
	    daemon_privdrop(&creds, &cerr) < 0) {
		fprintf(stderr, "%s\n", cerr);
		return 1;
	}
	daemon_creds_deinit(&creds);
	if (store_open(cfg, &store, &err) != STORE_OK ||
	    store_user_lookup(store, argv[2], &u, &err) != STORE_OK) {
		fprintf(stderr, "store: %s\n", err);
		return 1;
	}
	buf_init(&msg);
	for (unsigned i = 0; i < count; i++) {
		char id[STORE_BLOB_ID_LEN + 1];
		struct store_target t = { .account_id = u->id };
		char *path;
		FILE *f;

		if (argc == 4) {
			char tmp[65536];
			size_t n;

			while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
				buf_append(&msg, tmp, n);
		} else {
			make_message(&msg, i, size);
		}
		if (store_blob_put(store, msg.data, msg.len, id, &err) != STORE_OK ||
		    store_deliver(store, id, msg.len, 0, &t, 1, NULL, &err) !=
		    STORE_OK) {
			fprintf(stderr, "deliver: %s\n", err);
			return 1;
		}
		if (argc == 4)
			break;
		path = xasprintf("%s/new/%u.bench.%u,S=%zu", argv[5], i, i,
				 msg.len);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(msg.data, 1, msg.len, f) != msg.len || fclose(f) != 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			return 1;
		}
		free(path);
	}
	buf_deinit(&msg);
	store_user_free(&u);
	store_close(&store);
	config_free(&cfg);
	return 0;
}
