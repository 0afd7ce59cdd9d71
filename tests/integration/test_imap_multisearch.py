"""IMAP MULTISEARCH (RFC 7377, issue 13 item 9): the ESEARCH command over
several mailboxes (IN (selected inboxes personal subscribed subtree
subtree-one mailboxes)), one ESEARCH response per mailbox with matches,
by UID, with MAILBOX and UIDVALIDITY; SAVE, message numbers and "$" only
over the selected mailbox alone; [imap] multisearch_mailboxes_max."""
import imaplib
import re

from imap_util import SPECIAL, Raw, login, make_msg, ok, server

# mailbox -> subjects of its messages (appended in this order)
LAYOUT = {
    "INBOX": ["apple pie", "banana", "apple tart"],
    "Archive": ["apple crumble"],
    "Work": ["banana split"],
    "Work/A": ["apple juice", "cherry"],
    "Work/A/deep": ["apple cider"],
    "Caf&AOk-": ["apple strudel"],      # "Café" in modified UTF-7
}


def start(herald_factory, imap=""):
    h = server(herald_factory, listeners=("imap", "smtp"), imap=imap)
    c = login(h)
    for name, subjects in LAYOUT.items():
        if name != "INBOX" and name not in SPECIAL:
            ok(c.create(name))
        for i, subj in enumerate(subjects):
            ok(c.append(name, None, None, make_msg(i, subject=subj)))
    ok(c.unsubscribe("Work/A"))
    ok(c.subscribe("Work/A/deep"))
    validity = {}
    for name in LAYOUT:
        typ, data = c.status(name if name != "Caf&AOk-" else '"Caf&AOk-"',
                             "(UIDVALIDITY)")
        assert typ == "OK", data
        validity[name] = int(re.search(rb"UIDVALIDITY (\d+)",
                                       data[0]).group(1))
    c.logout()
    r = Raw(h)
    r.login()
    return h, r, validity


ESEARCH = re.compile(r'\* ESEARCH \(TAG "([^"]+)" MAILBOX "?([^" ]+)"? '
                     r'UIDVALIDITY (\d+)\) UID(.*)$')


def results(lines, tag):
    """{mailbox: (uidvalidity, rest)} of the ESEARCH lines; each mailbox
    once."""
    out = {}
    for ln in lines:
        if not ln.startswith("* ESEARCH"):
            continue
        m = ESEARCH.match(ln)
        assert m, ln
        assert m.group(1) == tag, ln
        assert m.group(2) not in out, lines
        out[m.group(2)] = (int(m.group(3)), m.group(4).strip())
    return out


def test_advertised(herald_factory):
    h = server(herald_factory, listeners=("imap",))
    r = Raw(h)
    assert "MULTISEARCH" not in r.greeting
    assert "MULTISEARCH" in r.login()[-1]
    r.close()


def test_personal_and_correlator(herald_factory):
    h, r, validity = start(herald_factory)
    lines = r.cmd("t1", "ESEARCH IN (personal) SUBJECT apple")
    assert lines[-1] == "t1 OK ESEARCH completed", lines
    got = results(lines, "t1")
    # Work has no apple: no ESEARCH for it
    assert set(got) == {"INBOX", "Archive", "Work/A", "Work/A/deep",
                        "Caf&AOk-"}, lines
    for name, (uv, rest) in got.items():
        assert uv == validity[name], (name, lines)
    assert got["INBOX"][1] == "ALL 1,3", lines
    assert got["Archive"][1] == "ALL 1", lines
    assert got["Work/A"][1] == "ALL 1", lines
    # RETURN options as in SEARCH
    lines = r.cmd("t2", "ESEARCH IN (personal) RETURN (MIN MAX COUNT) "
                        "SUBJECT apple")
    got = results(lines, "t2")
    assert got["INBOX"][1] == "MIN 1 MAX 3 COUNT 2", lines
    # RFC 9738's UIDAFTER and UIDBEFORE over other mailboxes too
    lines = r.cmd("t4", "ESEARCH IN (personal) RETURN (MIN MAX COUNT) "
                        "SUBJECT apple UIDAFTER 1")
    assert results(lines, "t4")["INBOX"][1] == "MIN 3 MAX 3 COUNT 1", lines
    lines = r.cmd("t5", "ESEARCH IN (personal) RETURN (COUNT) "
                        "SUBJECT apple UIDBEFORE 3")
    assert results(lines, "t5")["INBOX"][1] == "COUNT 1", lines
    # nothing anywhere: no ESEARCH at all
    lines = r.cmd("t3", "ESEARCH IN (personal) SUBJECT durian")
    assert lines == ["t3 OK ESEARCH completed"], lines
    r.close()


def test_filters(herald_factory):
    h, r, _ = start(herald_factory)

    def boxes(source):
        lines = r.cmd("f", f"ESEARCH IN ({source}) ALL")
        assert lines[-1] == "f OK ESEARCH completed", (source, lines)
        return set(results(lines, "f"))

    assert boxes("mailboxes Archive") == {"Archive"}
    assert boxes("mailboxes (Archive inbox Nonexistent)") == \
        {"Archive", "INBOX"}
    assert boxes("subtree Work") == {"Work", "Work/A", "Work/A/deep"}
    assert boxes("subtree-one Work") == {"Work", "Work/A"}
    assert boxes("subtree (Work/A Archive)") == \
        {"Work/A", "Work/A/deep", "Archive"}
    assert boxes("inboxes") == {"INBOX"}
    # subscribed: the special ones (these two not empty) and Work/A/deep
    # (CREATE does not subscribe)
    assert boxes("subscribed") == {"INBOX", "Archive", "Work/A/deep"}
    # several filters: each mailbox once
    assert boxes("inboxes mailboxes INBOX subtree-one Work/A") == \
        {"INBOX", "Work/A", "Work/A/deep"}
    assert boxes('mailboxes "Caf&AOk-"') == {"Caf&AOk-"}
    # selected needs a selected mailbox; then selected with others
    lines = r.cmd("s", "ESEARCH IN (selected) ALL")
    assert lines[-1].startswith("s BAD"), lines
    lines = r.cmd("s", "ESEARCH ALL")
    assert lines[-1].startswith("s BAD"), lines
    r.cmd("x", "SELECT Archive")
    assert boxes("selected") == {"Archive"}
    assert boxes("selected mailboxes Work") == {"Archive", "Work"}
    # RFC 7377 2.2: selected-delayed is NOTIFY's, not valid here
    for src in ("selected-delayed", "selected-delayed mailboxes Work",
                "inboxes SELECTED-DELAYED"):
        lines = r.cmd("d", f"ESEARCH IN ({src}) ALL")
        assert len(lines) == 1 and lines[0].startswith("d BAD "), lines
    r.close()


def test_utf8_session_names(herald_factory):
    h, r, _ = start(herald_factory)
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[-1].startswith("e OK")
    lines = r.cmd("u", 'ESEARCH IN (mailboxes "Café") SUBJECT apple')
    assert lines[0].startswith('* ESEARCH (TAG "u" MAILBOX "Café" '
                               'UIDVALIDITY '), lines
    r.close()


def test_selected_alone_is_search(herald_factory):
    """With the selected mailbox as the only source, message numbers, "$"
    and SAVE work as in UID SEARCH; answered by UID with the correlator."""
    h, r, validity = start(herald_factory)
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("a", "ESEARCH RETURN (SAVE ALL) 2:3")
    assert lines == [f'* ESEARCH (TAG "a" MAILBOX INBOX UIDVALIDITY '
                     f'{validity["INBOX"]}) UID ALL 2:3',
                     "a OK ESEARCH completed"], lines
    lines = r.cmd("b", "UID SEARCH $")
    assert lines[0] == "* SEARCH 2 3", lines
    # RFC 7377 2.1: no ESEARCH for a mailbox without matches, the
    # selected one too (SEARCH RETURN still answers, RFC 4731)
    for text in ("ESEARCH RETURN (COUNT) SUBJECT nosuchthing",
                 "ESEARCH IN (selected inboxes) SUBJECT nosuchthing"):
        assert r.cmd("n", text) == ["n OK ESEARCH completed"], text
    assert r.cmd("n", "SEARCH RETURN (COUNT) SUBJECT nosuchthing")[0] == \
        '* ESEARCH (TAG "n") COUNT 0'
    lines = r.cmd("c", "ESEARCH IN (selected) SUBJECT apple $")
    assert results(lines, "c")["INBOX"][1] == "ALL 3", lines
    # elsewhere they are BAD
    for text in ("ESEARCH IN (personal) RETURN (SAVE) ALL",
                 "ESEARCH IN (personal) 1:2",
                 "ESEARCH IN (selected mailboxes Work) UID $"):
        lines = r.cmd("d", text)
        assert lines[-1].startswith("d BAD"), (text, lines)
    # UIDONLY: message numbers are BAD [UIDREQUIRED] here too
    r.close()
    r = Raw(h)
    r.login()
    r.cmd("e", "ENABLE UIDONLY")
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("u", "ESEARCH 1:2")
    assert lines[-1].startswith("u BAD [UIDREQUIRED]"), lines
    r.close()


def test_bad_syntax(herald_factory):
    h, r, _ = start(herald_factory)
    for text in ("ESEARCH IN () ALL", "ESEARCH IN (foo) ALL",
                 "ESEARCH IN (mailboxes) ALL", "ESEARCH IN (subtree ()) ALL",
                 "ESEARCH IN (personal (depth 1)) ALL", "ESEARCH IN personal ALL",
                 "ESEARCH IN (personal)", "ESEARCH IN (personal) NOSUCHKEY",
                 "ESEARCH IN (personal) RETURN (BOGUS) ALL"):
        lines = r.cmd("b", text)
        assert lines[-1].startswith("b BAD"), (text, lines)
    lines = r.cmd("c", "ESEARCH IN (personal) CHARSET KOI8-R ALL")
    assert lines[-1].startswith("c NO [BADCHARSET"), lines
    r.close()


def test_mailboxes_max(herald_factory):
    """[imap] multisearch_mailboxes_max: more mailboxes is NO [LIMIT]
    before any is searched; as many is fine."""
    h, r, _ = start(herald_factory, imap="multisearch_mailboxes_max = 3")
    lines = r.cmd("a", "ESEARCH IN (personal) ALL")
    assert lines[-1].startswith("a NO [LIMIT] "), lines
    assert len(lines) == 1, lines
    lines = r.cmd("b", "ESEARCH IN (subtree Work) ALL")
    assert lines[-1] == "b OK ESEARCH completed", lines
    assert len(results(lines, "b")) == 3, lines
    r.close()


def test_imaplib_client(herald_factory):
    """A real client library sends it as any command and files the
    responses under ESEARCH."""
    h, r, _ = start(herald_factory)
    r.close()
    c = login(h)
    # imaplib has no ESEARCH method; its table says in which states a
    # command may be sent
    imaplib.Commands.setdefault("ESEARCH", ("AUTH", "SELECTED"))
    typ, data = c._simple_command("ESEARCH", "IN", "(subtree Work)",
                                  "SUBJECT", "apple")
    assert typ == "OK", data
    got = c.untagged_responses.pop("ESEARCH")
    assert len(got) == 2, got
    assert all(b"UID ALL 1" in g for g in got), got
    c.logout()
