"""DMARC aggregate reports (docs/mailauth.md "Aggregate reports", RFC 7489
7.1, 7.2, appendix C): mail sent with smtplib to a Herald that checks
SPF, DKIM and DMARC against a real unbound is counted; `herald dmarc
report --now` builds the report, which the queue relays to the rua
address, caught by Postfix's smtp-sink, gunzipped and read with
xml.etree; an address outside the domain gets it only with its
`_report._dmarc` record; a domain whose mail only failed gets none;
reports are off by default. The sending path is also driven from counts
put into the store directly (every field and escaping)."""
import email
import gzip
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET

import smtplib

import pytest

from harness import HERALD_BIN
from test_dkim_generated import dkimpy_verify, key_records, sink_skips_trace
from test_queue_runner import SINK, sinks, wait_for  # noqa: F401

pytestmark = pytest.mark.skipif(not os.path.exists(SINK),
                                reason="Postfix's smtp-sink is not installed")

FAST = "retry_min = 1s\nretry_max = 2s\nconnection_cache_time = 0\n"
REMOTE = ("good.test", "ext.test", "noauth.test", "reports.test",
          "forged.test")
USER = "bob@example.test"


def report_site(herald_factory, dns_server_factory, sink, records=None,
                mailauth="dmarc_reports = on\n"
                         "dmarc_report_org = Herald Test\n"):
    dns = dns_server_factory(records=records or {})
    transport = "\n".join(f"{d} = smtp:[127.0.0.1]:{sink.port}"
                          for d in REMOTE)
    h = herald_factory(listeners=("smtp",), sections={
        "dns": dns.herald_config(timeout="2s"),
        "mailauth": mailauth,
        "queue": FAST,
        "transport": transport,
    })
    h.add_domain("example.test")
    h.add_user("bob@example.test")
    return h


def key(ip, hfrom, efrom, disposition, dkim, spf, spf_domain, spf_result,
        sigs=(), reason="", comment=""):
    """A row as mailauth/dmarc-report.c keys it (docs/store.md "DMARC
    reports")."""
    fields = ["1", ip, hfrom, efrom, disposition, dkim, spf, reason, comment,
              spf_domain, "mfrom", spf_result]
    for d, s, r in sigs:
        fields += [d, s, r]
    return "\t".join(fields)


def add_rows(h, domain, rua, rows, policy="p=none sp=none pct=100 "
             "adkim=r aspf=r fo=0", now=None):
    """Counts as the SMTP workers' collectors write them: rows is
    [(key, passed, count)]."""
    now = now or int(time.time())
    with h.db() as db:
        for k, passed, count in rows:
            db.execute("INSERT INTO dmarc_rows (domain, key, passed, count,"
                       " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
                       (domain, k, passed, count, now - 3600, now - 60))
        db.execute("INSERT OR REPLACE INTO dmarc_domains (domain, policy,"
                   " rua, seen) VALUES (?, ?, ?, ?)",
                   (domain, policy, rua, now - 60))


def row_count(h, domain):
    with h.db() as db:
        return db.execute("SELECT count(*) FROM dmarc_rows WHERE domain = ?",
                          (domain,)).fetchone()[0]


def sent_to(h, sink, address, n=1):
    """The sink's messages once the runner logged the 250 for address
    (the sink writes its file while the data comes in)."""
    assert h.wait_log(f"queue sent to=<{address}>", 15), h.log()
    got = wait_for(lambda: len(sink.messages()) >= n and sink.messages(), 5)
    assert got and len(got) == n, h.log()
    return got


def parse_report(raw):
    """(message, attachment file name, XML root) of a report as the sink
    wrote it."""
    lines = raw.split(b"\n")
    while lines and lines[0].startswith(b"X-"):
        lines.pop(0)
    msg = email.message_from_bytes(b"\n".join(lines))
    parts = [p for p in msg.walk()
             if p.get_content_type() == "application/gzip"]
    assert len(parts) == 1, msg
    data = gzip.decompress(parts[0].get_payload(decode=True))
    return msg, parts[0].get_filename(), ET.fromstring(data)


def records_of(root):
    out = []
    for rec in root.findall("record"):
        out.append({
            "ip": rec.findtext("row/source_ip"),
            "count": int(rec.findtext("row/count")),
            "disposition": rec.findtext("row/policy_evaluated/disposition"),
            "dkim": rec.findtext("row/policy_evaluated/dkim"),
            "spf": rec.findtext("row/policy_evaluated/spf"),
            "header_from": rec.findtext("identifiers/header_from"),
            "envelope_from": rec.findtext("identifiers/envelope_from"),
            "auth_dkim": [(d.findtext("domain"), d.findtext("selector"),
                           d.findtext("result"))
                          for d in rec.findall("auth_results/dkim")],
            "auth_spf": [(s.findtext("domain"), s.findtext("scope"),
                          s.findtext("result"))
                         for s in rec.findall("auth_results/spf")],
        })
    return sorted(out, key=lambda r: -r["count"])


def test_report_built_sent_and_parsed(herald_factory, dns_server_factory,
                                      sinks):  # noqa: F811
    sink = sinks()
    h = report_site(herald_factory, dns_server_factory, sink)
    add_rows(h, "good.test", "mailto:dmarc@good.test!50k", [
        (key("127.0.0.1", "good.test", "good.test", "none", "pass", "pass",
             "good.test", "pass", [("good.test", "s1", "pass")]), 1, 3),
        (key("192.0.2.9", "good.test", "evil.test", "none", "fail", "fail",
             "evil.test", "fail", [("good.test", "s1", "fail")],
             reason="local_policy", comment="a <b> & c"), 0, 2),
    ])
    records = key_records(h, "example.test", "rep")
    h.start()
    p = h.cli("dmarc", "report", "--dry-run")
    assert "<count>3</count>" in p.stdout and "<count>2</count>" in p.stdout
    p = h.cli("dmarc", "report", "--now")
    assert p.stdout.strip() == "reports=1 sent=1 dropped=0 skipped=0", \
        p.stdout
    got = sent_to(h, sink, "dmarc@good.test")
    msg, fname, root = parse_report(got[0])
    assert msg["To"] == "<dmarc@good.test>"
    assert msg["From"] == "<postmaster@example.test>"
    # signed by our domain's keys, as every message Herald makes
    assert dkimpy_verify(sink_skips_trace(got[0]), records) == [
        ("example.test", "rep-rsa", "rsa-sha256", True),
        ("example.test", "rep-ed25519", "ed25519-sha256", True)]
    m = re.fullmatch(r"Report Domain: good\.test Submitter: Herald Test "
                     r"Report-ID: <(\S+)>", msg["Subject"])
    assert m, msg["Subject"]
    assert root.tag == "feedback"
    assert root.findtext("version") == "1.0"
    md = root.find("report_metadata")
    assert md.findtext("org_name") == "Herald Test"
    assert md.findtext("email") == "postmaster@example.test"
    assert md.findtext("report_id") == m.group(1)
    begin = int(md.findtext("date_range/begin"))
    end = int(md.findtext("date_range/end"))
    assert begin < end <= time.time() + 1
    assert fname == f"example.test!good.test!{begin}!{end}.xml.gz"
    pp = root.find("policy_published")
    assert [pp.findtext(t) for t in ("domain", "adkim", "aspf", "p", "sp",
                                     "pct", "fo")] == \
        ["good.test", "r", "r", "none", "none", "100", "0"]
    recs = records_of(root)
    assert recs[0] == {
        "ip": "127.0.0.1", "count": 3, "disposition": "none",
        "dkim": "pass", "spf": "pass", "header_from": "good.test",
        "envelope_from": "good.test",
        "auth_dkim": [("good.test", "s1", "pass")],
        "auth_spf": [("good.test", "mfrom", "pass")]}
    assert recs[1]["count"] == 2 and recs[1]["dkim"] == "fail"
    r = root.findall("record")[1].find("row/policy_evaluated/reason")
    assert r.findtext("type") == "local_policy"
    assert r.findtext("comment") == "a <b> & c"
    assert re.search(r"info - dmarc report-sent domain=good\.test "
                     r"report_id=\S+ from=<postmaster@example\.test> "
                     r"to=<dmarc@good\.test> rows=2 messages=5 size=\d+",
                     p.stderr), p.stderr
    # reported rows are gone; a second run has nothing to say
    assert row_count(h, "good.test") == 0
    p = h.cli("dmarc", "report", "--now")
    assert p.stdout.strip() == "reports=0 sent=0 dropped=0 skipped=0"
    assert h.sanitizer_errors() == []


def test_external_destination_needs_its_record(herald_factory,
                                               dns_server_factory,
                                               sinks):  # noqa: F811
    """RFC 7489 7.1: reports.test agreed to take ext.test's reports
    (ext.test._report._dmarc.reports.test TXT "v=DMARC1"), not
    noauth.test's."""
    sink = sinks()
    h = report_site(herald_factory, dns_server_factory, sink, records={
        "ext.test._report._dmarc.reports.test": [("TXT", '"v=DMARC1"')],
        "noauth.test._report._dmarc.reports.test": [
            ("TXT", '"v=spf1 -all"')],
    })
    row = key("127.0.0.1", "x", "x", "none", "pass", "pass", "x", "pass")
    add_rows(h, "ext.test", "mailto:agg@reports.test", [(row, 1, 5)])
    add_rows(h, "noauth.test", "mailto:agg@reports.test", [(row, 1, 7)])
    h.start()
    p = h.cli("dmarc", "report", "--now")
    assert p.stdout.strip() == "reports=2 sent=1 dropped=1 skipped=0", \
        p.stdout + h.log()
    got = sent_to(h, sink, "agg@reports.test")
    msg, _, root = parse_report(got[0])
    assert msg["To"] == "<agg@reports.test>"
    assert root.findtext("policy_published/domain") == "ext.test"
    assert re.search(r"report-dropped domain=noauth\.test report_id=\S+ "
                     r"to=<agg@reports\.test> reason=not-authorized",
                     p.stderr), p.stderr
    time.sleep(2)
    assert len(sink.messages()) == 1


def test_domain_with_only_failing_mail_gets_no_report(
        herald_factory, dns_server_factory, sinks):  # noqa: F811
    sink = sinks()
    h = report_site(herald_factory, dns_server_factory, sink)
    add_rows(h, "forged.test", "mailto:victim@forged.test", [
        (key("192.0.2.66", "forged.test", "spam.test", "none", "fail",
             "fail", "spam.test", "fail"), 0, 40)])
    h.start()
    p = h.cli("dmarc", "report", "--now")
    assert p.stdout.strip() == "reports=0 sent=0 dropped=0 skipped=1"
    assert "dmarc report-skipped domain=forged.test reason=no-pass " \
        "messages=40" in p.stderr
    assert row_count(h, "forged.test") == 0
    time.sleep(2)
    assert sink.messages() == []


def test_reports_off_by_default(herald_factory, dns_server_factory,
                                sinks):  # noqa: F811
    sink = sinks()
    h = report_site(herald_factory, dns_server_factory, sink, mailauth="")
    h.start()
    p = h.cli("dmarc", "report", "--now", check=False)
    assert p.returncode == 1
    assert "dmarc_reports is off" in p.stderr
    p = h.cli("config", "show", check=False)
    assert re.search(r"dmarc_reports\s*=\s*(no|off)", p.stdout), p.stdout


def test_usage_and_help(herald_factory):
    h = herald_factory()
    p = h.cli("dmarc", "report", check=False)
    assert p.returncode == 2
    p = h.cli("dmarc", "report", "--now", "--dry-run", check=False)
    assert p.returncode == 2
    p = subprocess.run([HERALD_BIN, "help"], capture_output=True, text=True,
                       timeout=30)
    assert re.search(r"^\s*dmarc\s+DMARC aggregate reports", p.stdout,
                     re.M), p.stdout
    p = h.cli("dmarc", "--help")
    assert "report --dry-run" in p.stdout


# ---- end to end: messages over SMTP, counted, reported ----

ZONE = {
    "good.test": [("TXT", '"v=spf1 ip4:127.0.0.0/8 -all"')],
    "_dmarc.good.test": [
        ("TXT", '"v=DMARC1; p=quarantine; adkim=s; '
                'rua=mailto:dmarc@good.test,mailto:agg@reports.test"')],
    "good.test._report._dmarc.reports.test": [("TXT", '"v=DMARC1"')],
    "other.test": [("A", "192.0.2.7")],
    "forged.test": [("TXT", '"v=spf1 ip4:192.0.2.1 -all"')],
    "_dmarc.forged.test": [
        ("TXT", '"v=DMARC1; p=none; rua=mailto:victim@forged.test"')],
    "norua.test": [("TXT", '"v=spf1 ip4:127.0.0.0/8 -all"')],
    "_dmarc.norua.test": [("TXT", '"v=DMARC1; p=none"')],
}


def smtp_send(h, mail_from, header_from, n, subject="hi"):
    msg = (f"From: <{header_from}>\r\nTo: <{USER}>\r\n"
           f"Subject: {subject}\r\n"
           f"Date: Mon, 07 Dec 2026 02:00:00 +0000\r\n"
           f"Message-ID: <{subject}.{time.time_ns()}@x>\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", h.ports["smtp"],
                      local_hostname="client.test", timeout=30) as c:
        for _ in range(n):
            c.sendmail(mail_from, [USER], msg.encode())


def e2e_site(herald_factory, dns_server_factory, sink, reports=True):
    return report_site(
        herald_factory, dns_server_factory, sink, records=ZONE,
        mailauth="spf = on\ndkim_verify = on\ndmarc = record\n"
                 "spf_timeout = 2s\n" +
                 ("dmarc_reports = on\n" if reports else ""))


def test_messages_counted_and_reported(herald_factory, dns_server_factory,
                                       sinks):  # noqa: F811
    sink = sinks()
    h = e2e_site(herald_factory, dns_server_factory, sink)
    h.start()
    smtp_send(h, "carol@good.test", "carol@good.test", 3, "pass")
    smtp_send(h, "x@other.test", "carol@good.test", 2, "fail")
    smtp_send(h, "x@forged.test", "boss@forged.test", 4, "forged")
    smtp_send(h, "x@norua.test", "x@norua.test", 1, "norua")
    # the worker writes its counts every 5 s
    assert wait_for(lambda: "<count>2</count>" in
                    h.cli("dmarc", "report", "--dry-run").stdout, 15), \
        h.log()
    p = h.cli("dmarc", "report", "--now")
    assert p.stdout.strip() == "reports=1 sent=2 dropped=0 skipped=1", \
        p.stdout + p.stderr
    assert "report-skipped domain=forged.test reason=no-pass messages=4" \
        in p.stderr
    got = sent_to(h, sink, "dmarc@good.test", 2)
    assert h.wait_log("queue sent to=<agg@reports.test>", 15)
    reports = sorted((parse_report(raw) for raw in got),
                     key=lambda r: r[0]["To"])
    assert [r[0]["To"] for r in reports] == ["<agg@reports.test>",
                                             "<dmarc@good.test>"]
    msg, fname, root = reports[1]
    assert fname.startswith("example.test!good.test!")
    pp = root.find("policy_published")
    assert [pp.findtext(t) for t in ("domain", "adkim", "aspf", "p", "sp",
                                     "pct")] == \
        ["good.test", "s", "r", "quarantine", "quarantine", "100"]
    recs = records_of(root)
    assert [r["count"] for r in recs] == [3, 2]
    assert recs[0] == {
        "ip": "127.0.0.1", "count": 3, "disposition": "none",
        "dkim": "fail", "spf": "pass", "header_from": "good.test",
        "envelope_from": "good.test", "auth_dkim": [],
        "auth_spf": [("good.test", "mfrom", "pass")]}
    assert recs[1]["spf"] == "fail" and recs[1]["dkim"] == "fail"
    assert recs[1]["envelope_from"] == "other.test"
    assert recs[1]["auth_spf"] == [("other.test", "mfrom", "none")]
    # DMARC failed: quarantine asked, and dmarc = record lowered it to
    # none for local policy
    assert recs[1]["disposition"] == "none"
    reason = root.findall("record")[1].find("row/policy_evaluated/reason")
    assert reason.findtext("type") == "local_policy"
    assert reason.findtext("comment") == "dmarc = record"
    # counted once: nothing left for a second run
    assert h.cli("dmarc", "report", "--dry-run").stdout == ""
    time.sleep(1)
    assert len(sink.messages()) == 2
    assert h.sanitizer_errors() == []


def test_messages_not_counted_when_reports_are_off(herald_factory,
                                                   dns_server_factory,
                                                   sinks):  # noqa: F811
    sink = sinks()
    h = e2e_site(herald_factory, dns_server_factory, sink, reports=False)
    h.start()
    smtp_send(h, "carol@good.test", "carol@good.test", 2, "pass")
    assert h.wait_log("dmarc=pass header_from=good.test", 10), h.log()
    time.sleep(6)
    assert row_count(h, "good.test") == 0
    p = h.cli("dmarc", "report", "--now", check=False)
    assert p.returncode == 1
    h.stop()
    assert row_count(h, "good.test") == 0
    assert sink.messages() == []


def test_counts_survive_a_restart(herald_factory, dns_server_factory,
                                  sinks):  # noqa: F811
    """A clean stop writes what the worker still counts."""
    sink = sinks()
    h = e2e_site(herald_factory, dns_server_factory, sink)
    h.start()
    smtp_send(h, "carol@good.test", "carol@good.test", 2, "pass")
    h.stop()
    with h.db() as db:
        assert db.execute("SELECT sum(count) FROM dmarc_rows WHERE"
                          " domain = 'good.test'").fetchone()[0] == 2


def test_runner_sends_at_the_interval(herald_factory, dns_server_factory,
                                      sinks):  # noqa: F811
    """The queue runner's own run, at the next multiple of
    dmarc_report_interval (60 s here: up to a minute's wait)."""
    sink = sinks()
    h = report_site(herald_factory, dns_server_factory, sink,
                    mailauth="dmarc_reports = on\n"
                             "dmarc_report_interval = 60s\n")
    add_rows(h, "good.test", "mailto:dmarc@good.test", [
        (key("127.0.0.1", "good.test", "good.test", "none", "pass", "pass",
             "good.test", "pass"), 1, 9)])
    h.start()
    assert h.wait_log("dmarc run-done reports=1 sent=1", 75), h.log()
    # at a whole minute (UTC), as 1d runs at midnight
    line = [ln for ln in h.log().splitlines() if "run-done" in ln][0]
    assert re.match(r"\S+T\d\d:\d\d:0\d\.\d+Z ", line), line
    assert "dmarc report-sent domain=good.test" in h.log()
    got = sent_to(h, sink, "dmarc@good.test")
    _, _, root = parse_report(got[0])
    assert records_of(root)[0]["count"] == 9
    assert row_count(h, "good.test") == 0


def test_local_rua_address_gets_it_in_its_mailbox(herald_factory,
                                                  dns_server_factory,
                                                  sinks):  # noqa: F811
    """A rua address in one of our domains: the report is stored in that
    mailbox (after the 7.1 check: example.test agreed to take good.test's
    reports); an address there that nobody has is dropped for good."""
    sink = sinks()
    h = report_site(herald_factory, dns_server_factory, sink, records={
        "good.test._report._dmarc.example.test": [("TXT", '"v=DMARC1"')],
    })
    add_rows(h, "good.test", "mailto:bob@example.test,"
             "mailto:nobody@example.test", [
                 (key("127.0.0.1", "good.test", "good.test", "none", "pass",
                      "pass", "good.test", "pass"), 1, 4)])
    h.start()
    p = h.cli("dmarc", "report", "--now")
    assert p.stdout.strip() == "reports=1 sent=1 dropped=1 skipped=0", \
        p.stdout + p.stderr
    assert re.search(r"report-dropped domain=good\.test report_id=\S+ "
                     r"to=<nobody@example\.test> reason=refused", p.stderr)
    got = h.messages("bob@example.test")
    assert len(got) == 1
    msg, _, root = parse_report(got[0])
    assert msg["To"] == "<bob@example.test>"
    assert records_of(root)[0]["count"] == 4
    assert row_count(h, "good.test") == 0
