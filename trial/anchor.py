"""Audit anchors: the chain's head recorded outside the database (infrastructure).

Inside the database nothing can tell a trail deleted entirely (with its head)
from a new trial, nor a trail replaced by an older genuine copy: both are
internally consistent and correctly sealed. A head written somewhere the
database's owner cannot reach can. ``anchor_write`` records the committed head
as one JSON line appended to ``<AUDIT_ANCHOR_DIR>/audit-anchors.jsonl``, e-mails
the same line to ``AUDIT_ANCHOR_EMAILS``, and, with ``AUDIT_TSA_URL`` set, has an
RFC 3161 time-stamping authority sign the record's SHA-256 so that even the
holder of the anchor file cannot back-date or edit a record unnoticed.

An anchor line holds the record (``RECORD_FIELDS``), its ``record_sha256`` over
the canonical JSON of those fields, and either ``timestamp_token`` (the TSA's
whole DER reply, base64: status and TimeStampToken, as ``openssl ts -verify -in``
and rfc3161-client read it) or ``timestamp_error``. ``manage.py verify_audit``
reads these lines back (``anchor_file_read``, ``anchor_line_problems``).
Nothing here decides anything clinical.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import http.client
import json
import logging
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from .audit import GENESIS, Anchor, chain_head
from .models import AuditEvent

logger = logging.getLogger(__name__)

ANCHOR_FILE_NAME = "audit-anchors.jsonl"
ANCHOR_FORMAT = "mlt-audit-anchor/1"
PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700
TSA_TIMEOUT_SECONDS = 15
# A TSA reply is a few kilobytes; anything far larger is not one.
TSA_MAX_REPLY_BYTES = 1_000_000
SHA256_OID = "2.16.840.1.101.3.4.2.1"
# An anchor is stamped within seconds of being recorded; a token issued much later
# (or earlier) than its record says belongs to a record made up afterwards.
TIMESTAMP_TOLERANCE = dt.timedelta(hours=1)

# The fields the digest (and so the time-stamp) covers, in the order written.
RECORD_FIELDS = (
    "format",
    "trail",
    "sequence",
    "entry_hash",
    "lines",
    "key_id",
    "recorded_at",
    "site_url",
)

NOWHERE = (
    "Audit anchors are not recorded anywhere: set AUDIT_ANCHOR_DIR (a directory off the "
    "database's host) or AUDIT_ANCHOR_EMAILS."
)


class AnchorError(RuntimeError):
    """An anchor could not be recorded at one or more of its configured destinations."""

    def __init__(self, message: str, written: AnchorWritten | None = None):
        super().__init__(message)
        self.written = written


@dataclass
class AnchorWritten:
    """What ``anchor_write`` recorded, and where."""

    line: dict[str, Any]
    path: Path | None = None
    emailed_to: list[str] = field(default_factory=list)

    @property
    def timestamped(self) -> bool:
        return "timestamp_token" in self.line

    def as_json(self) -> str:
        return json.dumps(self.line, ensure_ascii=False, separators=(",", ":"))


# --- the record ---------------------------------------------------------------------------


def _setting(name: str, default: Any) -> Any:
    # A settings module without the anchor settings (an older deployment's own)
    # means anchoring is not configured, not a crash of verify_audit.
    return getattr(settings, name, default) or default


def anchor_file_path() -> Path | None:
    """The configured anchor file, or None when AUDIT_ANCHOR_DIR is empty."""
    directory = str(_setting("AUDIT_ANCHOR_DIR", "")).strip()
    return Path(directory) / ANCHOR_FILE_NAME if directory else None


def anchor_emails() -> list[str]:
    return [address.strip() for address in _setting("AUDIT_ANCHOR_EMAILS", []) if address.strip()]


def tsa_url() -> str:
    return str(_setting("AUDIT_TSA_URL", "")).strip()


def tsa_cert_path() -> str:
    return str(_setting("AUDIT_TSA_CERT", "")).strip()


def anchor_destinations_configured() -> bool:
    return anchor_file_path() is not None or bool(anchor_emails())


def canonical_record(record: dict[str, Any]) -> bytes:
    """The bytes the digest is taken over: the record fields only, sorted, compact."""
    fields = {name: record[name] for name in RECORD_FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_digest(record: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_record(record)).digest()


def anchor_record(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """The committed head as an anchor record (an empty trail anchors line 0).

    The line count is taken up to the head's line, not over the whole table, so a
    transaction committing between the two reads cannot make them disagree.
    """
    head = chain_head()
    sequence = head.sequence if head else 0
    entry_hash = (head.last_hash or GENESIS) if head else GENESIS
    lines = AuditEvent.objects.filter(sequence__lte=sequence).count() if sequence else 0
    recorded_at = (now or timezone.now()).astimezone(dt.UTC)
    return {
        "format": ANCHOR_FORMAT,
        "trail": "audit",
        "sequence": sequence,
        "entry_hash": entry_hash,
        "lines": lines,
        "key_id": head.key_id if head else "",
        "recorded_at": recorded_at.isoformat().replace("+00:00", "Z"),
        "site_url": settings.SITE_URL,
    }


def _head_line_mismatch(record: dict[str, Any]) -> str:
    """Why the head's line disagrees with the head (empty when it agrees)."""
    if not record["sequence"]:
        return ""
    stored = (
        AuditEvent.objects.filter(sequence=record["sequence"])
        .values_list("entry_hash", flat=True)
        .first()
    )
    if stored is None:
        return f"line {record['sequence']}, the chain head's, is missing; run verify_audit"
    if stored != record["entry_hash"]:
        return f"line {record['sequence']} does not match the chain head; run verify_audit"
    return ""


# --- RFC 3161 -----------------------------------------------------------------------------


def timestamp_fetch(*, canonical: bytes, url: str) -> bytes:
    """The TSA's DER reply granting a token over SHA-256(``canonical``).

    The request carries a nonce and asks for the TSA's certificate (certReq).
    Raises ``AnchorError`` unless the reply is granted, over exactly this digest,
    with this request's nonce: a reply to some other request is refused.
    """
    from rfc3161_client import (
        HashAlgorithm,
        PKIStatus,
        TimestampRequestBuilder,
        decode_timestamp_response,
    )

    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise AnchorError(f"AUDIT_TSA_URL must be an http or https address, not {url!r}")
    # The builder hashes what it is given: the imprint is SHA-256 of the canonical record.
    query = (
        TimestampRequestBuilder()
        .data(canonical)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=query.as_bytes(),
        headers={
            "Content-Type": "application/timestamp-query",
            "Accept": "application/timestamp-reply",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TSA_TIMEOUT_SECONDS) as response:  # noqa: S310
            reply = response.read(TSA_MAX_REPLY_BYTES + 1)
    except (OSError, http.client.HTTPException) as error:
        raise AnchorError(f"the time-stamping authority {url} did not answer: {error}") from error
    if len(reply) > TSA_MAX_REPLY_BYTES:
        raise AnchorError(f"the time-stamping authority {url} sent an oversized reply")
    try:
        parsed = decode_timestamp_response(reply)
    except ValueError as error:
        raise AnchorError(f"{url} did not send an RFC 3161 reply: {error}") from error
    if parsed.status != PKIStatus.GRANTED:
        reason = "; ".join(parsed.status_string) or "no reason given"
        raise AnchorError(f"{url} refused the time-stamp (status {parsed.status}: {reason})")
    imprint = parsed.tst_info.message_imprint
    if (
        imprint.hash_algorithm.dotted_string != SHA256_OID
        or imprint.message != hashlib.sha256(canonical).digest()
    ):
        raise AnchorError(f"{url} stamped something other than this record")
    if parsed.tst_info.nonce != query.nonce:
        raise AnchorError(f"{url} answered with another request's nonce")
    return reply


def tsa_verifier(*, cert_path: str):
    """An rfc3161-client verifier trusting the PEM chain in ``cert_path``.

    The file holds the TSA's certificate and its chain up to a self-signed root;
    the root is trusted, the certificate with the time-stamping purpose is the
    one every token must be signed by, the rest are intermediates.
    """
    from cryptography import x509
    from rfc3161_client import VerifierBuilder

    try:
        certificates = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
    except (OSError, ValueError) as error:
        raise AnchorError(f"AUDIT_TSA_CERT {cert_path} cannot be read: {error}") from error
    roots = [cert for cert in certificates if cert.subject == cert.issuer]
    if not roots:
        raise AnchorError(
            f"AUDIT_TSA_CERT {cert_path} must hold the TSA's chain up to its root certificate"
        )
    stamping = [cert for cert in certificates if _stamps_time(cert)]
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    if len(stamping) == 1:
        builder = builder.tsa_certificate(stamping[0])
    for cert in certificates:
        if cert not in roots and cert not in stamping:
            builder = builder.add_intermediate_certificate(cert)
    return builder.build()


def _stamps_time(cert) -> bool:
    from cryptography import x509

    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return x509.ExtendedKeyUsageOID.TIME_STAMPING in usage


# --- writing ------------------------------------------------------------------------------


def _private_directory(directory: Path) -> None:
    """Make ``directory`` (and any missing parents) readable by its owner only."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIRECTORY)
        except FileExistsError:
            continue  # another writer made it a moment ago
        # mkdir's mode passes through the umask; set it exactly.
        os.chmod(folder, PRIVATE_DIRECTORY)


def _append_line(*, path: Path, text: str) -> None:
    """Append one line to ``path``, on disk before returning; earlier lines untouched."""
    _private_directory(path.parent)
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        created = True
    except FileExistsError:
        fd = os.open(path, flags)
        created = False
    try:
        if created:
            # open's mode passes through the umask too.
            os.fchmod(fd, PRIVATE_FILE)
        # Two writers at once (the beat task and an operator) must not interleave.
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = (text + "\n").encode()
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A write cut short earlier left half a line: keep ours separate from it.
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # also releases the lock
    if created:
        # The new file's name must survive a crash too, not only its content.
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _email(*, line: AnchorWritten, addresses: list[str]) -> None:
    record = line.line
    subject = (
        f"MLT trial audit trail anchor: {record['lines']} lines, head at line "
        f"{record['sequence']} ({record['site_url']})"
    )
    body = (
        "The head of the MLT trial's audit trail, recorded outside its database.\n"
        "Keep this message where the database's administrators cannot change it.\n\n"
        f"Site: {record['site_url']}\n"
        f"Recorded at (UTC): {record['recorded_at']}\n"
        f"Lines: {record['lines']}\n"
        f"Head: line {record['sequence']}, hash {record['entry_hash']}\n"
        f"Time-stamped: {'yes' if line.timestamped else 'no'}\n\n"
        "To check the trail against it, save the line below as a file (e.g. anchor.jsonl)\n"
        "and run: manage.py verify_audit --anchors anchor.jsonl\n\n"
        f"{line.as_json()}\n"
    )
    send_mail(subject=subject, message=body, from_email=None, recipient_list=addresses)


def anchor_write(*, now: dt.datetime | None = None) -> AnchorWritten:
    """Record the committed head now: time-stamp it, append it to the file, e-mail it.

    The file is only ever appended to. Anchoring an unchanged head again just adds
    another line, so a retried task does no harm. A TSA failure never loses the
    anchor: the line is written without a token, with the error, and a warning is
    logged. Raises ``AnchorError`` when no destination is configured, or, after
    trying every destination, when one of them failed (``error.written`` says what
    the others received).
    """
    path, addresses = anchor_file_path(), anchor_emails()
    if path is None and not addresses:
        raise AnchorError(NOWHERE)
    record = anchor_record(now=now)
    canonical = canonical_record(record)
    line: dict[str, Any] = {**record, "record_sha256": hashlib.sha256(canonical).hexdigest()}
    mismatch = _head_line_mismatch(record)
    if mismatch:
        # The sealed head is what is anchored: it is the value a later check must find.
        line["warning"] = mismatch
        logger.error("Audit anchor of a damaged trail: %s", mismatch)
    url = tsa_url()
    if url:
        line["tsa_url"] = url
        try:
            reply = timestamp_fetch(canonical=canonical, url=url)
        except AnchorError as error:
            line["timestamp_error"] = str(error)
            logger.warning(
                "Audit anchor of line %s recorded without a time-stamp: %s",
                record["sequence"],
                error,
            )
        else:
            line["timestamp_token"] = base64.b64encode(reply).decode("ascii")
    written = AnchorWritten(line=line)
    failures: list[str] = []
    if path is not None:
        try:
            _append_line(path=path, text=written.as_json())
            written.path = path
        except OSError as error:
            failures.append(f"the anchor file {path}: {error}")
    if addresses:
        try:
            _email(line=written, addresses=addresses)
            written.emailed_to = addresses
        except OSError as error:  # smtplib's errors are OSErrors
            failures.append(f"the e-mail to {', '.join(addresses)}: {error}")
    if failures:
        message = "Audit anchor not recorded at " + "; ".join(failures)
        logger.error(message)
        raise AnchorError(message, written)
    return written


# --- reading back -------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorLine:
    """One line of an anchor file: its record, or why it could not be read."""

    source: str  # "path:line number", for reports
    data: dict[str, Any] | None
    error: str = ""

    def chain_anchor(self) -> Anchor:
        if self.data is None:
            raise ValueError(f"anchor {self.source} is unreadable: {self.error}")
        return Anchor(
            sequence=self.data["sequence"],
            entry_hash=self.data["entry_hash"],
            recorded_at=self.data["recorded_at"],
            source=self.source,
        )


def _shape_problem(data: Any) -> str:
    if not isinstance(data, dict):
        return "not a JSON object"
    missing = [name for name in RECORD_FIELDS if name not in data]
    if missing:
        return f"missing {', '.join(missing)}"
    if data["format"] != ANCHOR_FORMAT:
        return f"unknown format {data['format']!r}"
    for name in ("sequence", "lines"):
        value = data[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{name} is not a line count"
    entry_hash = data["entry_hash"]
    if not isinstance(entry_hash, str) or len(entry_hash) != 64:
        return "entry_hash is not a SHA-256"
    if not isinstance(data["recorded_at"], str):
        return "recorded_at is not a time"
    return ""


def anchor_file_read(*, path: Path) -> list[AnchorLine]:
    """Every non-blank line of an anchor file, readable or not (unreadable is a finding)."""
    lines: list[AnchorLine] = []
    # Undecodable bytes become an unreadable line rather than stopping the check.
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            source = f"{path}:{number}"
            try:
                data = json.loads(text)
            except ValueError as error:
                lines.append(AnchorLine(source=source, data=None, error=f"not JSON ({error})"))
                continue
            problem = _shape_problem(data)
            lines.append(AnchorLine(source=source, data=None if problem else data, error=problem))
    return lines


def anchor_line_problems(*, line: AnchorLine, verifier=None) -> list[str]:
    """What is wrong with one anchor line itself (the chain is checked elsewhere).

    The record must still give its recorded SHA-256; a time-stamp token must be a
    granted reply whose imprint is that digest, issued close to the recorded
    time, and, with ``verifier`` (``tsa_verifier``), signed by the configured TSA.
    """
    from rfc3161_client import PKIStatus, VerificationError, decode_timestamp_response

    if line.data is None:
        return [f"{line.source}: unreadable: {line.error}"]
    data = line.data
    digest = record_digest(data)
    problems = []
    if data.get("record_sha256") != digest.hex():
        problems.append(
            f"{line.source}: the record does not give its SHA-256 (edited after it was written)"
        )
    token = data.get("timestamp_token")
    if token is None:
        return problems
    try:
        reply = decode_timestamp_response(base64.b64decode(token, validate=True))
    except (ValueError, TypeError) as error:
        return [*problems, f"{line.source}: the time-stamp token is unreadable: {error}"]
    if reply.status != PKIStatus.GRANTED:
        return [*problems, f"{line.source}: the time-stamp was not granted"]
    imprint = reply.tst_info.message_imprint
    if imprint.hash_algorithm.dotted_string != SHA256_OID or imprint.message != digest:
        return [
            *problems,
            f"{line.source}: the time-stamp token is over a different record (the "
            "record was changed after it was stamped, or the token belongs to another)",
        ]
    stamped_at = reply.tst_info.gen_time
    try:
        recorded_at = dt.datetime.fromisoformat(data["recorded_at"].replace("Z", "+00:00"))
        gap = abs(stamped_at - recorded_at)
    except (ValueError, TypeError):
        gap = None
    if gap is None or gap > TIMESTAMP_TOLERANCE:
        problems.append(
            f"{line.source}: time-stamped at {stamped_at.isoformat()}, not when it says "
            f"it was recorded ({data['recorded_at']})"
        )
    if verifier is not None:
        try:
            verifier.verify(reply, digest)
        except VerificationError as error:
            problems.append(
                f"{line.source}: the time-stamp token does not verify against "
                f"AUDIT_TSA_CERT: {error}"
            )
    return problems
