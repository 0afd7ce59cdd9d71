/* SPDX-License-Identifier: MIT */
/*
 * The commands valid in every state and those with no store work:
 * CAPABILITY, NOOP (and CHECK), LOGOUT, ID (RFC 2971), ENABLE (RFC 5161).
 */
#include <string.h>

#include "imap/imap-private.h"
#include "imap/imap-write.h"
#include "lib/ioev.h"
#include "lib/log.h"
#include "version.h"

enum imap_cmd_result
imap_cmd_capability(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "CAPABILITY takes no arguments");
	buf_puts(&s->out, "* CAPABILITY ");
	imap_session_capabilities(s, &s->out);
	buf_append(&s->out, "\r\n", 2);
	return imap_cmd_ok(cmd, "CAPABILITY completed");
}

/* NOOP and CHECK: the tagged reply brings what changed (imap-sync.c);
 * nothing else, no STATUS (CLIENT-QUIRKS: Thunderbird's Drafts). */
enum imap_cmd_result
imap_cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "%s takes no arguments", cmd->name);
	return imap_cmd_ok(cmd, "%s completed", cmd->name);
}

enum imap_cmd_result
imap_cmd_logout(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	enum imap_cmd_result r;

	if (cmd->n_args != 0)
		return imap_cmd_bad(cmd, "LOGOUT takes no arguments");
	buf_puts(&s->out, "* BYE Logging out\r\n");
	/* no sync: nothing more is owed after BYE */
	imap_mailbox_free(&s->box);
	r = imap_cmd_ok(cmd, "LOGOUT completed");
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	ioev_conn_close_after_write(s->conn);
	return r;
}

/* RFC 2971: the client's fields are logged (bounded), ours returned. */
enum imap_cmd_result
imap_cmd_id(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *a = cmd->args;
	struct buf log;
	char lbuf[512];

	if (cmd->n_args != 1 || (a->type != IMAP_ARG_NIL &&
				 a->type != IMAP_ARG_LIST))
		return imap_cmd_bad(cmd, "ID takes NIL or a list of fields");
	if (a->type == IMAP_ARG_LIST) {
		/* RFC 2971 3.3: at most 30 pairs, field names up to 30
		 * octets, values up to 1024 */
		if (a->list_count % 2 != 0 || a->list_count > 60)
			return imap_cmd_bad(cmd, "Invalid ID field list");
		buf_init(&log);
		for (size_t i = 0; i < a->list_count; i += 2) {
			const char *k, *v = NULL;
			size_t klen, vlen = 0;

			if (!imap_arg_get_astring(&a->list[i], &k, &klen) ||
			    a->list[i].type == IMAP_ARG_ATOM || klen > 30 ||
			    (a->list[i + 1].type != IMAP_ARG_NIL &&
			     (!imap_arg_get_astring(&a->list[i + 1], &v,
						    &vlen) ||
			      a->list[i + 1].type == IMAP_ARG_ATOM ||
			      vlen > 1024))) {
				buf_deinit(&log);
				return imap_cmd_bad(cmd,
						    "Invalid ID field list");
			}
			buf_printf(&log, "%s%.*s=%.*s", i > 0 ? " " : "",
				   (int)klen, k, (int)vlen, v != NULL ? v : "");
		}
		log_info(s->id, "imap", "id", "client=\"%s\"",
			 log_str(lbuf, sizeof(lbuf), log.data));
		buf_deinit(&log);
	}
	buf_puts(&s->out, "* ID (\"name\" \"Herald\" \"version\" ");
	imap_write_string(&s->out, HERALD_VERSION, strlen(HERALD_VERSION), 0);
	buf_puts(&s->out, ")\r\n");
	return imap_cmd_ok(cmd, "ID completed");
}

/* RFC 5161: ENABLED lists what this command turned on. */
enum imap_cmd_result
imap_cmd_enable(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct buf enabled;

	if (cmd->n_args == 0)
		return imap_cmd_bad(cmd, "ENABLE needs capability names");
	buf_init(&enabled);
	for (size_t i = 0; i < cmd->n_args; i++) {
		const struct imap_arg *a = &cmd->args[i];

		if (a->type != IMAP_ARG_ATOM) {
			buf_deinit(&enabled);
			return imap_cmd_bad(cmd, "ENABLE takes atoms");
		}
		if (imap_arg_atom_equals(a, "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			s->utf8 = true;
			buf_puts(&enabled, " IMAP4rev2");
		} else if (imap_arg_atom_equals(a, "UTF8=ACCEPT") &&
			   !s->utf8_accept) {
			/* RFC 9755 3; listed also after IMAP4rev2 (which
			 * includes it), so a client that asks for both
			 * sees both on */
			s->utf8 = true;
			s->utf8_accept = true;
			buf_puts(&enabled, " UTF8=ACCEPT");
		} else if (imap_arg_atom_equals(a, "CONDSTORE") &&
			   !s->condstore) {
			s->condstore = true;
			buf_puts(&enabled, " CONDSTORE");
		} else if (imap_arg_atom_equals(a, "QRESYNC") &&
			   !s->qresync) {
			/* RFC 7162 3.2.3: it implies CONDSTORE */
			s->qresync = true;
			s->condstore = true;
			buf_puts(&enabled, " QRESYNC");
		} else if (imap_arg_atom_equals(a, "UIDONLY") &&
			   !s->uidonly) {
			/* RFC 9586 3.1 */
			s->uidonly = true;
			buf_puts(&enabled, " UIDONLY");
		}
	}
	buf_printf(&s->out, "* ENABLED%s\r\n", enabled.data);
	buf_deinit(&enabled);
	return imap_cmd_ok(cmd, "ENABLE completed");
}
