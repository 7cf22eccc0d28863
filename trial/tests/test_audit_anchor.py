"""Audit anchors: the chain's head recorded outside the database, and checked back.

Inside the database a trail deleted whole (with its head), or rolled back to an
older genuine copy, is indistinguishable from a consistent trail. These tests
show the anchor file (and its e-mailed copy, and its RFC 3161 time-stamp) is
what tells, and that ``manage.py verify_audit`` says so, naming the anchor line.
The time-stamping authority is a real ``openssl ts`` behind a loopback HTTP
server with a throwaway CA: no network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import io
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.core.management import CommandError, call_command
from django.utils import timezone

from conftest import require_component
from trial import anchor, audit
from trial.audit import Problem, entry_digest, verify_chain
from trial.models import AuditChainHead, AuditEvent
from trial.tests.test_audit_chain import as_database_owner

pytestmark = pytest.mark.django_db

OPENSSL = shutil.which("openssl")


@pytest.fixture
def anchor_dir(settings, tmp_path):
    """Anchors go to a fresh directory two levels below an existing one."""
    directory = tmp_path / "vault" / "anchors"
    settings.AUDIT_ANCHOR_DIR = str(directory)
    settings.AUDIT_ANCHOR_EMAILS = []
    settings.AUDIT_TSA_URL = ""
    settings.AUDIT_TSA_CERT = ""
    return directory


@pytest.fixture
def trail(make_participant, nurse):
    make_participant()
    make_participant()
    lines = list(AuditEvent.objects.order_by("sequence"))
    assert len(lines) >= 4
    return lines


def write_once(nurse, summary: str = "later work") -> AuditEvent:
    return audit.audit_event(user=nurse, model="trial.Test", summary=summary)


def anchor_lines(directory: Path) -> list[dict]:
    text = (directory / anchor.ANCHOR_FILE_NAME).read_text()
    return [json.loads(line) for line in text.splitlines()]


def verify_audit(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def verify_audit_fails(*args: str) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", *args, stdout=out)
    return out.getvalue(), str(failure.value)


# --- writing ------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o277], ids=["umask-022", "umask-277"])
def test_anchors_append_the_committed_head_privately(anchor_dir, trail, nurse, mailoutbox, umask):
    previous_umask = os.umask(umask)
    try:
        first = anchor.anchor_write()
        write_once(nurse)
        second = anchor.anchor_write()
    finally:
        os.umask(previous_umask)

    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    assert first.path == second.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(anchor_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(anchor_dir.parent.stat().st_mode) == 0o700

    written = anchor_lines(anchor_dir)
    assert written == [first.line, second.line]
    assert path.read_text().splitlines()[0] == first.as_json()  # the first line untouched
    lines = list(AuditEvent.objects.order_by("sequence"))
    head = AuditChainHead.objects.get()
    for record, last in ((written[0], trail[-1]), (written[1], lines[-1])):
        assert record["entry_hash"] == last.entry_hash
        assert record["sequence"] == last.sequence
        assert record["lines"] == AuditEvent.objects.filter(sequence__lte=last.sequence).count()
        assert record["key_id"] == head.key_id
        assert record["site_url"] == "http://127.0.0.1:8000"
        assert (
            record["record_sha256"] == hashlib.sha256(anchor.canonical_record(record)).hexdigest()
        )
        assert "timestamp_token" not in record and "timestamp_error" not in record
    assert written[1]["sequence"] == written[0]["sequence"] + 1
    assert written[1]["lines"] == written[0]["lines"] + 1 == len(lines)
    recorded = dt.datetime.fromisoformat(written[1]["recorded_at"].replace("Z", "+00:00"))
    assert written[1]["recorded_at"].endswith("Z")
    assert abs(recorded - timezone.now()) < dt.timedelta(minutes=1)
    assert mailoutbox == []  # no AUDIT_ANCHOR_EMAILS: no mail


def test_a_line_cut_short_earlier_does_not_swallow_the_next_anchor(anchor_dir, trail):
    anchor_dir.mkdir(parents=True)
    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    path.write_text('{"format": "half a line')
    anchor.anchor_write()
    text = path.read_text().splitlines()
    assert text[0] == '{"format": "half a line'
    assert json.loads(text[1])["sequence"] == trail[-1].sequence


def test_anchor_of_a_damaged_trail_records_the_sealed_head_and_says_so(anchor_dir, trail, caplog):
    with as_database_owner():
        AuditEvent.objects.filter(pk=trail[-1].pk).delete()
    with caplog.at_level(logging.ERROR, logger="trial.anchor"):
        written = anchor.anchor_write()
    assert written.line["sequence"] == trail[-1].sequence
    assert (
        written.line["entry_hash"] == trail[-1].entry_hash == AuditChainHead.objects.get().last_hash
    )
    assert written.line["lines"] == len(trail) - 1
    assert "is missing" in written.line["warning"]
    assert "damaged trail" in caplog.text


def test_anchor_is_emailed_to_the_configured_addresses(anchor_dir, settings, trail, mailoutbox):
    settings.AUDIT_ANCHOR_EMAILS = ["sponsor@example.org", "vault@example.net"]
    written = anchor.anchor_write()
    assert written.emailed_to == ["sponsor@example.org", "vault@example.net"]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["sponsor@example.org", "vault@example.net"]
    assert "audit trail" in message.subject
    assert f"{written.line['lines']} lines" in message.subject
    assert message.alternatives == []  # plain text
    json_line = message.body.strip().splitlines()[-1]
    assert json.loads(json_line) == anchor_lines(anchor_dir)[0] == written.line


def test_e_mail_alone_is_a_destination(anchor_dir, settings, trail, mailoutbox):
    settings.AUDIT_ANCHOR_DIR = ""
    settings.AUDIT_ANCHOR_EMAILS = ["sponsor@example.org"]
    written = anchor.anchor_write()
    assert written.path is None
    assert not anchor_dir.exists()
    assert len(mailoutbox) == 1


def test_no_destination_is_refused(anchor_dir, settings, trail):
    settings.AUDIT_ANCHOR_DIR = ""
    with pytest.raises(anchor.AnchorError, match="not recorded anywhere"):
        anchor.anchor_write()
    with pytest.raises(CommandError, match="not recorded anywhere"):
        call_command("audit_anchor", stdout=io.StringIO())


def test_the_command_writes_one_anchor_and_prints_it(anchor_dir, trail):
    out = io.StringIO()
    call_command("audit_anchor", stdout=out)
    printed = out.getvalue().splitlines()
    assert json.loads(printed[0]) == anchor_lines(anchor_dir)[0]
    assert len(anchor_lines(anchor_dir)) == 1
    assert f"Anchored audit line {trail[-1].sequence}" in printed[1]


# --- verifying against anchors ------------------------------------------------------------


def test_intact_trail_passes_its_anchors_even_one_head_anchored_twice(anchor_dir, trail, nurse):
    anchor.anchor_write()
    anchor.anchor_write()  # unchanged head, anchored again: harmless
    write_once(nurse)
    anchor.anchor_write()
    output = verify_audit()
    assert "Anchors checked: 3 from" in output
    assert f"Audit chain intact: {trail[-1].sequence + 1} lines." in output


def test_trail_and_head_deleted_is_found_only_from_the_anchor_file(anchor_dir, settings, trail):
    """Delete every audit line and the head: inside the database that is a new, empty
    trail, so verify_audit without an anchor file finds nothing wrong (the second half
    of this test shows it). With the anchor file it reports the anchored line missing."""
    anchor.anchor_write()
    with as_database_owner():
        AuditEvent.objects.all().delete()
        AuditChainHead.objects.all().delete()

    output, error = verify_audit_fails()
    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    assert "Anchors checked: 1 from" in output
    assert f"{Problem.ANCHOR}: line {trail[-1].sequence}: missing" in output
    assert f"[anchor {path}:1]" in output
    assert f"audit line {trail[-1].sequence}" in error

    # The same anchors given explicitly.
    _output, error = verify_audit_fails("--anchors", str(path))
    assert "missing" in error

    # Without the anchor file: nothing can tell.
    settings.AUDIT_ANCHOR_DIR = str(anchor_dir.parent / "elsewhere")
    output = verify_audit()
    assert "Anchors checked: 0 (no anchor file" in output
    assert "Audit chain intact: 0 lines." in output


def test_trail_rolled_back_to_an_older_genuine_copy_is_found(anchor_dir, trail, nurse):
    """An older backup restored over the trail: lines and head genuine and sealed."""
    older = AuditChainHead.objects.values("sequence", "last_hash", "key_id", "head_mac").get()
    later = [write_once(nurse, f"later {n}") for n in range(3)]
    anchor.anchor_write()
    with as_database_owner():
        AuditEvent.objects.filter(pk__in=[line.pk for line in later]).delete()
    AuditChainHead.objects.update(**older)
    assert verify_chain().intact  # inside the database, all is well

    output, _error = verify_audit_fails()
    assert f"{Problem.ANCHOR}: line {later[-1].sequence}: missing" in output


def test_anchor_of_a_line_later_rewritten_is_reported(anchor_dir, trail, nurse):
    victim = trail[-1]
    anchor.anchor_write()
    write_once(nurse)
    anchor.anchor_write()  # this later anchor's line is not touched
    with as_database_owner():
        victim.refresh_from_db()
        victim.reason = "rewritten history"
        victim.entry_hash = entry_digest(victim)  # a consistent hash, with the published code
        victim.save()

    output, _error = verify_audit_fails()
    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    anchor_reports = [line for line in output.splitlines() if line.startswith("anchor: ")]
    assert anchor_reports == [
        f"anchor: line {victim.sequence}: does not match its anchor (anchored "
        f"{anchor_lines(anchor_dir)[0]['recorded_at']}): the line or the chain before it "
        f"was rewritten [anchor {path}:1]"
    ]


def test_an_unreadable_anchor_line_is_reported_by_number(anchor_dir, trail):
    anchor.anchor_write()
    with (anchor_dir / anchor.ANCHOR_FILE_NAME).open("a") as handle:
        handle.write("not an anchor\n")
    output, error = verify_audit_fails()
    assert f"{anchor_dir / anchor.ANCHOR_FILE_NAME}:2: unreadable" in output
    assert error.startswith("Audit anchors damaged:")


def test_an_anchor_edited_in_the_file_is_reported(anchor_dir, trail):
    anchor.anchor_write()
    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    record = anchor_lines(anchor_dir)[0]
    record["recorded_at"] = "2019-06-01T00:00:00Z"
    path.write_text(json.dumps(record) + "\n")
    output, _error = verify_audit_fails()
    assert f"{path}:1: the record does not give its SHA-256" in output


def test_a_missing_anchors_path_is_an_error(anchor_dir, trail, tmp_path):
    with pytest.raises(CommandError, match="No anchor file at"):
        call_command("verify_audit", "--anchors", str(tmp_path / "none.jsonl"))


# --- RFC 3161 with a local time-stamping authority ----------------------------------------


def _openssl(*args: str, cwd: Path) -> str:
    result = subprocess.run(  # noqa: S603 - the openssl binary, arguments from this test
        [OPENSSL, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout


def _make_tsa_pki(folder: Path) -> dict[str, Path]:
    """A throwaway root CA and a TSA certificate it issued (EKU critical timeStamping)."""
    folder.mkdir(parents=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", f"/CN=Test root {folder.name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", f"/CN=Test TSA {folder.name}",
        cwd=folder,
    )  # fmt: skip
    (folder / "tsa.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,nonRepudiation\n"
        "extendedKeyUsage=critical,timeStamping\n"
    )
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "tsa.ext", "-out", "tsa.pem",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    # No "certs =": with the chain included OpenSSL 3.0 writes the SET OF certificates
    # unsorted, which strict DER parsers (rfc3161-client's) refuse; certReq brings the
    # TSA's own certificate, and the verifier has the root from AUDIT_TSA_CERT.
    (folder / "tsa.cnf").write_text(
        "[ tsa ]\n"
        "default_tsa = local\n"
        "[ local ]\n"
        f"serial = {folder / 'serial'}\n"
        f"signer_cert = {folder / 'tsa.pem'}\n"
        f"signer_key = {folder / 'tsa.key'}\n"
        "signer_digest = sha256\n"
        "default_policy = 1.3.6.1.4.1.99999.1\n"
        "digests = sha256, sha512\n"
        "accuracy = secs:1\n"
        "ordering = no\n"
        "tsa_name = no\n"
        "ess_cert_id_chain = no\n"
        "ess_cert_id_alg = sha256\n"
    )
    chain = folder / "chain.pem"
    chain.write_text((folder / "tsa.pem").read_text() + (folder / "ca.pem").read_text())
    return {"chain": chain, "ca": folder / "ca.pem", "tsa": folder / "tsa.pem"}


@dataclass
class LocalTSA:
    url: str
    chain: Path
    ca: Path
    tsa: Path
    folder: Path
    content_types: list[str] = field(default_factory=list)
    queries: list[Path] = field(default_factory=list)


@pytest.fixture
def local_tsa(tmp_path):
    require_component(OPENSSL is not None, "openssl")
    folder = tmp_path / "tsa"
    pki = _make_tsa_pki(folder)
    served: LocalTSA | None = None

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            served.content_types.append(self.headers.get("Content-Type", ""))
            body = self.rfile.read(int(self.headers["Content-Length"]))
            query = folder / f"query-{len(served.queries)}.tsq"
            query.write_bytes(body)
            served.queries.append(query)
            reply = folder / "reply.tsr"
            try:
                _openssl(
                    "ts", "-reply", "-config", str(folder / "tsa.cnf"),
                    "-queryfile", str(query), "-out", str(reply),
                    cwd=folder,
                )  # fmt: skip
            except subprocess.CalledProcessError:
                self.send_error(400)
                return
            data = reply.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    served = LocalTSA(url=f"http://127.0.0.1:{server.server_port}/tsa", folder=folder, **pki)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_rfc3161_token_is_stored_and_verifies_against_the_tsa(
    anchor_dir, settings, trail, local_tsa
):
    from rfc3161_client import decode_timestamp_response

    settings.AUDIT_TSA_URL = local_tsa.url
    settings.AUDIT_TSA_CERT = str(local_tsa.chain)
    written = anchor.anchor_write()

    assert local_tsa.content_types == ["application/timestamp-query"]
    query = _openssl(
        "ts", "-query", "-in", str(local_tsa.queries[0]), "-text", cwd=local_tsa.folder
    )
    assert "Certificate required: yes" in query
    assert "Nonce: unspecified" not in query and "Nonce: 0x" in query
    line = anchor_lines(anchor_dir)[0]
    assert line == written.line and written.timestamped
    digest = hashlib.sha256(anchor.canonical_record(line)).digest()
    reply = base64.b64decode(line["timestamp_token"])
    assert decode_timestamp_response(reply).tst_info.message_imprint.message == digest

    # OpenSSL, independently of our code, agrees the token is over this record.
    (local_tsa.folder / "stored.tsr").write_bytes(reply)
    verified = _openssl(
        "ts", "-verify", "-in", "stored.tsr", "-digest", digest.hex(),
        "-CAfile", str(local_tsa.ca), "-untrusted", str(local_tsa.tsa),
        cwd=local_tsa.folder,
    )  # fmt: skip
    assert "Verification: OK" in verified

    output = verify_audit()
    assert "Time-stamp tokens: 1 (signatures checked against AUDIT_TSA_CERT)." in output
    assert f"Audit chain intact: {trail[-1].sequence} lines." in output


def test_a_stamped_record_altered_afterwards_fails(anchor_dir, settings, trail, local_tsa):
    settings.AUDIT_TSA_URL = local_tsa.url
    settings.AUDIT_TSA_CERT = str(local_tsa.chain)
    anchor.anchor_write()
    anchor.anchor_write()
    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    records = anchor_lines(anchor_dir)
    # Whoever edits the file can recompute its plain digest, not the TSA's signature.
    records[1]["recorded_at"] = "2026-01-01T00:00:00Z"
    records[1]["record_sha256"] = hashlib.sha256(anchor.canonical_record(records[1])).hexdigest()
    path.write_text("".join(json.dumps(record) + "\n" for record in records))

    output, error = verify_audit_fails()
    problems = [line for line in output.splitlines() if line.startswith("anchor: ")]
    assert problems == [
        f"anchor: {path}:2: the time-stamp token is over a different record (the "
        "record was changed after it was stamped, or the token belongs to another)"
    ]
    assert "the chain itself is intact" in error


def test_a_token_from_another_tsa_fails_the_signature_check(
    anchor_dir, settings, trail, local_tsa, tmp_path
):
    settings.AUDIT_TSA_URL = local_tsa.url
    anchor.anchor_write()
    other = _make_tsa_pki(tmp_path / "other")
    settings.AUDIT_TSA_CERT = str(other["chain"])
    output, _error = verify_audit_fails()
    path = anchor_dir / anchor.ANCHOR_FILE_NAME
    assert (
        f"anchor: {path}:1: the time-stamp token does not verify against AUDIT_TSA_CERT" in output
    )

    # Without AUDIT_TSA_CERT only the imprint is checked, and says so.
    settings.AUDIT_TSA_CERT = ""
    output = verify_audit()
    assert "Time-stamp tokens: 1 (signatures not checked: set AUDIT_TSA_CERT)." in output


def test_a_record_stamped_long_after_its_time_fails(anchor_dir, settings, trail, local_tsa):
    settings.AUDIT_TSA_URL = local_tsa.url
    settings.AUDIT_TSA_CERT = str(local_tsa.chain)
    anchor.anchor_write(now=timezone.now() - dt.timedelta(days=1))  # a back-dated record
    output, _error = verify_audit_fails()
    assert "not when it says it was recorded" in output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_tsa_that_is_down_still_gets_the_anchor_written(anchor_dir, settings, trail, caplog):
    settings.AUDIT_TSA_URL = f"http://127.0.0.1:{_closed_port()}/tsa"
    with caplog.at_level(logging.WARNING, logger="trial.anchor"):
        written = anchor.anchor_write()
    line = anchor_lines(anchor_dir)[0]
    assert line == written.line
    assert line["sequence"] == trail[-1].sequence
    assert "timestamp_token" not in line
    assert "did not answer" in line["timestamp_error"]
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "without a time-stamp" in caplog.records[0].getMessage()
    assert "Audit chain intact" in verify_audit()


def test_a_tsa_answering_garbage_is_a_tsa_failure(anchor_dir, settings, trail, caplog):
    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.AUDIT_TSA_URL = f"http://127.0.0.1:{server.server_port}/"
        with caplog.at_level(logging.WARNING, logger="trial.anchor"):
            anchor.anchor_write()
    finally:
        server.shutdown()
        server.server_close()
    line = anchor_lines(anchor_dir)[0]
    assert "did not send an RFC 3161 reply" in line["timestamp_error"]
    assert "timestamp_token" not in line


# --- the daily task -----------------------------------------------------------------------


def test_daily_task_anchors_and_is_scheduled(anchor_dir, settings, trail):
    from trial.celery import app
    from trial.tasks import anchor_audit_chain

    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "trial.tasks.anchor_audit_chain"
    ]
    assert len(entries) == 1 and isinstance(entries[0]["schedule"], crontab)
    assert "trial.tasks.anchor_audit_chain" in app.tasks

    first = anchor_audit_chain.delay().get()
    second = anchor_audit_chain.delay().get()  # run twice: another line, same head
    assert first["anchored"] and second["anchored"]
    assert first["sequence"] == second["sequence"] == trail[-1].sequence
    records = anchor_lines(anchor_dir)
    assert [r["sequence"] for r in records] == [trail[-1].sequence] * 2
    assert "Audit chain intact" in verify_audit()


def test_daily_task_with_nowhere_to_write_warns(anchor_dir, settings, trail, caplog):
    from trial.tasks import anchor_audit_chain

    settings.AUDIT_ANCHOR_DIR = ""
    with caplog.at_level(logging.WARNING, logger="trial.tasks"):
        assert anchor_audit_chain.delay().get() == {"anchored": False}
    assert "not recorded anywhere" in caplog.text
