/* SPDX-License-Identifier: MIT */
/*
 * herald share add|remove|list: shared mailboxes for administrators, the
 * same access control lists (RFC 4314) users set with IMAP SETACL. The
 * grantee sees the mailbox under "Other Users/OWNER/" (docs/imap.md
 * "ACL").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "store/store.h"

static void
share_usage(FILE *fp)
{
	fprintf(fp,
		"usage: herald share add OWNER MAILBOX GRANTEE RIGHTS [-c FILE]\n"
		"       herald share remove OWNER MAILBOX GRANTEE [-c FILE]\n"
		"       herald share list [OWNER] [-c FILE]\n\n"
		"add     give GRANTEE (an address, or anyone) RIGHTS on OWNER's\n"
		"        MAILBOX, replacing what it had; +RIGHTS adds, -RIGHTS\n"
		"        takes away\n"
		"remove  take every right of GRANTEE on the mailbox away\n"
		"list    every share (of OWNER's mailboxes), one a line:\n"
		"        OWNER MAILBOX GRANTEE RIGHTS, tab separated\n\n"
		"RIGHTS are RFC 4314 letters: l lookup, r read, s keep \\Seen,\n"
		"w write flags, i insert, p post, k create below, x delete,\n"
		"t delete messages, e expunge, a administer. Read and write is\n"
		"lrswite; the owner always has every right. Example:\n"
		"  herald share add alice@example.org Team bob@example.org lrswite\n");
}

static int
failed(const char *what, enum store_result r, const char *err)
{
	cli_error("%s: %s", what, err != NULL ? err : store_result_str(r));
	return CLI_ERROR;
}

/* The id of an existing account, or of "anyone" (anyone_ok). */
static int
account_id(struct store *store, const char *address, bool anyone_ok,
	   int64_t *id_r)
{
	struct store_user *u = NULL;
	const char *err = NULL;
	enum store_result r;

	if (anyone_ok && strcasecmp(address, "anyone") == 0) {
		*id_r = STORE_ACL_ANYONE;
		return 0;
	}
	r = store_user_lookup(store, address, &u, &err);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID) {
		cli_error("no account %s (see 'herald user list')", address);
		return -1;
	}
	if (r != STORE_OK) {
		(void)failed(address, r, err);
		return -1;
	}
	*id_r = u->id;
	store_user_free(&u);
	return 0;
}

static int
share_set(struct store *store, char **args, bool remove)
{
	struct store_acl_entry *e = NULL;
	struct store_mailbox *mb = NULL;
	const char *err = NULL, *letters = remove ? "" : args[3];
	unsigned rights = 0, old = 0;
	int64_t owner, grantee;
	enum store_result r;
	char mod = 0;
	size_t n = 0;

	if (letters[0] == '+' || letters[0] == '-')
		mod = *letters++;
	if (store_acl_rights_parse(letters, strlen(letters), &rights,
				   &err) < 0) {
		cli_error("bad rights '%s': %s", args[3], err);
		return CLI_ERROR;
	}
	if (account_id(store, args[0], false, &owner) < 0 ||
	    account_id(store, args[2], true, &grantee) < 0)
		return CLI_ERROR;
	r = store_mailbox_lookup(store, owner, args[1], &mb, &err);
	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID) {
		cli_error("%s has no mailbox %s", args[0], args[1]);
		return CLI_ERROR;
	}
	if (r != STORE_OK)
		return failed(args[1], r, err);
	if (mod != 0) {
		r = store_acl_get(store, mb->id, &e, &n, &err);
		for (size_t i = 0; r == STORE_OK && i < n; i++)
			if (e[i].grantee_id == grantee)
				old = e[i].rights;
		store_acl_entries_free(&e, n);
		rights = mod == '+' ? old | rights : old & ~rights;
	}
	if (r == STORE_OK)
		r = store_acl_set(store, mb->id, grantee, rights, &err);
	store_mailbox_free(&mb);
	if (r == STORE_E_INVALID && owner == grantee) {
		cli_error("%s owns %s and always has every right", args[0],
			  args[1]);
		return CLI_ERROR;
	}
	return r == STORE_OK ? CLI_OK : failed(args[1], r, err);
}

static int
share_list(struct store *store, const char *owner_address)
{
	struct store_acl_share *v = NULL;
	char letters[STORE_ACL_RIGHTS_SIZE];
	const char *err = NULL;
	int64_t owner = 0;
	enum store_result r;
	size_t n = 0;

	if (owner_address != NULL &&
	    account_id(store, owner_address, false, &owner) < 0)
		return CLI_ERROR;
	r = store_acl_share_list(store, owner, &v, &n, &err);
	if (r != STORE_OK)
		return failed("share list", r, err);
	for (size_t i = 0; i < n; i++) {
		store_acl_rights_format(v[i].rights, false, letters);
		printf("%s\t%s\t%s\t%s\n", v[i].owner, v[i].mailbox,
		       v[i].grantee, letters);
	}
	store_acl_shares_free(&v, n);
	return CLI_OK;
}

int
cli_share(int argc, char **argv)
{
	const char *path = NULL, *sub;
	struct config *cfg;
	struct store *store;
	int c, n, rc;

	/* stop at the first operand: "-w" of "-RIGHTS" is an operand */
	if ((c = cli_config_options(argc, argv, true, share_usage, &path)) >= 0)
		return c;
	if (optind >= argc) {
		share_usage(stderr);
		return CLI_USAGE;
	}
	sub = argv[optind];
	n = argc - optind - 1;
	/* -c may also follow the arguments */
	if (n >= 2 && strcmp(argv[argc - 2], "-c") == 0) {
		path = argv[argc - 1];
		n -= 2;
	}
	if (!((strcmp(sub, "add") == 0 && n == 4) ||
	      (strcmp(sub, "remove") == 0 && n == 3) ||
	      (strcmp(sub, "list") == 0 && n <= 1))) {
		share_usage(stderr);
		return CLI_USAGE;
	}
	if ((store = cli_open_config_store(path, &cfg)) == NULL)
		return CLI_ERROR;
	if (strcmp(sub, "list") == 0)
		rc = share_list(store, n == 1 ? argv[optind + 1] : NULL);
	else
		rc = share_set(store, argv + optind + 1,
			       strcmp(sub, "remove") == 0);
	store_close(&store);
	config_free(&cfg);
	return rc;
}
