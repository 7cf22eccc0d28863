"""Audit trail infrastructure: one table the data manager reads and exports.

Every history row written by django-simple-history is mirrored into
``AuditEvent`` (who, when, what changed from what to what, why), and services
record events that are not row changes through ``audit_event``. Nothing here
decides anything clinical.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from simple_history.utils import get_history_manager_for_model

from .keyring import configured_keys, key_id
from .locks import lock_first, lock_one
from .models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
HEAD_PK = 1

# Fields that never go into the trail's change list, whatever the model: they
# would only repeat the history row's own bookkeeping.
_IGNORED_FIELDS = {"id", "history_id", "history_date", "history_user", "history_type"}


# Free text that may name an arm, written into the trail by an earlier version
# (the assessor's note on how they learned the allocation). Lines cannot be
# rewritten, so every reader of the trail shows these values withheld; new lines
# never carry them (the note is sealed and kept out of history).
WITHHELD_FIELDS = frozenset({"unblinding_note"})
WITHHELD = "(withheld: may name an arm)"


def readable_changes(changes: dict, *, withheld: str = WITHHELD) -> dict:
    """``changes`` as the trail's readers may see them (see WITHHELD_FIELDS)."""
    return {
        field: [withheld if value not in (None, "") else value for value in values]
        if field in WITHHELD_FIELDS and isinstance(values, list)
        else values
        for field, values in (changes or {}).items()
    }


class AuditChainError(RuntimeError):
    """The chain cannot be extended safely (its head is missing): nothing is written."""


HEAD_MISSING = (
    "The audit chain's head is missing while audit lines exist: the trail may have been "
    "tampered with. Nothing was written. Run manage.py verify_audit and restore from a backup."
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    return value


# --- keys and seals ---------------------------------------------------------------------


def _new_audit_key() -> str:
    return secrets.token_urlsafe(32)


def audit_keys() -> dict[str, str]:
    """Every configured audit key by its id, the sealing key first."""
    keys = configured_keys(setting="AUDIT_KEYS", local_file=".audit.key", new_key=_new_audit_key)
    return {key_id(key): key for key in keys}


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _line_message(entry_hash: str) -> str:
    return f"line:{entry_hash}"


def _head_message(sequence: int, last_hash: str) -> str:
    return f"head:{sequence}:{last_hash}"


def _sealing_key() -> tuple[str, str]:
    return next(iter(audit_keys().items()))


def _seal_matches(key_name: str, message: str, mac: str) -> bool | None:
    """Whether ``mac`` seals ``message`` under the key ``key_name`` (None: key unknown).

    A line or head with no seal at all was written without the key: False."""
    if not key_name or not mac:
        return False
    key = audit_keys().get(key_name)
    if key is None:
        return None
    return hmac.compare_digest(_mac(key, message), mac)


def entry_digest(event: AuditEvent) -> str:
    """SHA-256 over the line's number, the previous line's hash and its content."""
    content = {
        "at": event.at.isoformat(),
        "user": event.user_id,
        "username": event.username,
        "action": event.action,
        "model": event.model,
        "object_id": event.object_id,
        "subject": event.subject,
        "reason": event.reason,
        "changes": event.changes,
        "summary": event.summary,
    }
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(
        f"{event.sequence}|{event.previous_hash}|{canonical}".encode()
    ).hexdigest()


# --- appending --------------------------------------------------------------------------


def _locked_head() -> AuditChainHead:
    """The chain head under its row lock (which orders every appender).

    An empty trail gets a fresh head; a head missing beside existing lines is
    refused, because linking to the newest surviving line would hide a deletion.
    """
    head = lock_first(AuditChainHead.objects.filter(pk=HEAD_PK))
    if head is not None:
        return head
    if AuditEvent.objects.exists():
        raise AuditChainError(HEAD_MISSING)
    try:
        with transaction.atomic():
            AuditChainHead.objects.create(pk=HEAD_PK, sequence=0, last_hash=GENESIS)
    except IntegrityError:
        pass  # another transaction created it first; take its lock below
    return lock_one(AuditChainHead.objects.filter(pk=HEAD_PK))


def _append(event: AuditEvent) -> AuditEvent:
    """Insert one line at the end of the chain."""
    append_many([event])
    return event


def append_many(events: list[AuditEvent], *, batch_size: int = 2000) -> None:
    """Insert lines at the end of the chain, in order, numbered and linked to the head.

    Runs in the caller's transaction (or its own): takes the head's row lock,
    numbers the lines after the head, seals each with the audit key, and moves
    the head in the same transaction, so head and lines commit or roll back
    together. One head update per call: an import appends its lines in batches.
    """
    if not events:
        return
    sealing_id, sealing_key = _sealing_key()
    with transaction.atomic():
        head = _locked_head()
        sequence, previous = head.sequence, head.last_hash or GENESIS
        for event in events:
            # JSON round trip so the hash is over exactly what the database stores.
            event.changes = json.loads(json.dumps(event.changes, default=str))
            sequence += 1
            event.sequence = sequence
            event.previous_hash = previous
            event.entry_hash = previous = entry_digest(event)
            event.key_id = sealing_id
            event.entry_mac = _mac(sealing_key, _line_message(event.entry_hash))
        if len(events) == 1:
            events[0].save()
        else:
            AuditEvent.objects.bulk_create(events, batch_size=batch_size)
        AuditChainHead.objects.filter(pk=HEAD_PK).update(
            sequence=sequence,
            last_hash=previous,
            key_id=sealing_id,
            head_mac=_mac(sealing_key, _head_message(sequence, previous)),
            updated_at=timezone.now(),
        )


def chain_head() -> AuditChainHead | None:
    """The committed head of the chain (what an anchor records)."""
    return AuditChainHead.objects.filter(pk=HEAD_PK).first()


# --- verification -----------------------------------------------------------------------


class Problem(StrEnum):
    """What verification found wrong with a line or run of lines."""

    EDITED = "edited"
    RESEALED = "resealed"
    UNKNOWN_KEY = "unknown_key"
    MISSING = "missing"
    REORDERED = "reordered"
    INSERTED = "inserted"
    HEAD_MISSING = "head_missing"
    HEAD_FORGED = "head_forged"
    TRUNCATED = "truncated"
    ANCHOR = "anchor"


@dataclass(frozen=True)
class ChainProblem:
    kind: str
    first: int | None  # line numbers (sequence) concerned, when there are any
    last: int | None
    detail: str

    def __str__(self) -> str:
        if self.first is None:
            where = ""
        elif self.first == self.last:
            where = f"line {self.first}: "
        else:
            where = f"lines {self.first}\u2013{self.last}: "
        return f"{where}{self.detail}"


@dataclass(frozen=True)
class Anchor:
    """A head recorded outside the database: line ``sequence`` had hash ``entry_hash``."""

    sequence: int
    entry_hash: str
    recorded_at: str = ""
    source: str = ""


@dataclass
class ChainReport:
    checked: int
    problems: list[ChainProblem] = field(default_factory=list)
    anchors_checked: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> int | None:
        return next((p.first for p in self.problems if p.first is not None), None)

    @property
    def problem(self) -> str:
        return str(self.problems[0]) if self.problems else ""

    def kinds(self) -> set[str]:
        return {problem.kind for problem in self.problems}


class _Ranges:
    """Collects per-line findings of one kind into runs of consecutive lines."""

    def __init__(self, kind: str, detail: str):
        self.kind, self.detail = kind, detail
        self.runs: list[list[int]] = []

    def add(self, sequence: int) -> None:
        if self.runs and self.runs[-1][1] == sequence - 1:
            self.runs[-1][1] = sequence
        else:
            self.runs.append([sequence, sequence])

    def problems(self) -> list[ChainProblem]:
        return [ChainProblem(self.kind, first, last, self.detail) for first, last in self.runs]


def verify_chain(*, anchors: list[Anchor] = ()) -> ChainReport:
    """Walk the chain by line number; report every kind of damage, and where.

    Detects a changed line (its content no longer gives its hash), a line or a
    whole chain re-hashed without the audit key (hash consistent, seal wrong),
    removed lines (a gap in the numbers, a head past the last line, an anchor
    whose line is gone), reordering (a line linking to a line that is not its
    predecessor) and a rewritten head. With ``anchors`` (heads recorded outside
    the database) it also detects a trail deleted or rebuilt from scratch.
    """
    edited = _Ranges(Problem.EDITED, "content changed after it was written (edited)")
    resealed = _Ranges(
        Problem.RESEALED,
        "hash recomputed or written without the audit key (the trail was re-hashed)",
    )
    unknown = _Ranges(Problem.UNKNOWN_KEY, "sealed with a key that is not configured")
    problems: list[ChainProblem] = []
    broken_links: list[tuple[int, str]] = []
    hashes: dict[str, int] = {}
    expected, previous, checked = 1, GENESIS, 0
    # pragma: no mutate start (chunk_size only sets how many rows are fetched at a time)
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
        # pragma: no mutate end
        checked += 1
        if event.sequence > expected:
            problems.append(
                ChainProblem(
                    Problem.MISSING, expected, event.sequence - 1, "removed (a gap in the numbers)"
                )
            )
        elif event.previous_hash != previous:
            broken_links.append((event.sequence, event.previous_hash))
        hashes[event.entry_hash] = event.sequence
        if entry_digest(event) != event.entry_hash:
            edited.add(event.sequence)
        else:
            sealed = _seal_matches(event.key_id, _line_message(event.entry_hash), event.entry_mac)
            if sealed is None:
                unknown.add(event.sequence)
            elif not sealed:
                resealed.add(event.sequence)
        expected, previous = event.sequence + 1, event.entry_hash
    last = expected - 1
    for sequence, link in broken_links:
        target = hashes.get(link)
        if target is not None:
            problems.append(
                ChainProblem(
                    Problem.REORDERED,
                    sequence,
                    sequence,
                    f"follows line {target}, not the line before it (lines were reordered)",
                )
            )
        else:
            problems.append(
                ChainProblem(
                    Problem.INSERTED,
                    sequence,
                    sequence,
                    "does not link to the line before it (a line was inserted or replaced)",
                )
            )
    problems += edited.problems() + resealed.problems() + unknown.problems()
    problems += _head_problems(last=last, last_hash=previous, checked=checked)
    anchors_checked = 0
    for anchor in anchors:
        anchors_checked += 1
        problems += _anchor_problems(anchor, hashes=hashes, last=last)
    problems.sort(key=lambda p: (p.first is None, p.first or 0))
    return ChainReport(checked=checked, problems=problems, anchors_checked=anchors_checked)


def _head_problems(*, last: int, last_hash: str, checked: int) -> list[ChainProblem]:
    head = chain_head()
    if head is None:
        if checked:
            return [ChainProblem(Problem.HEAD_MISSING, None, None, "the chain head is missing")]
        return []
    sealed = _seal_matches(head.key_id, _head_message(head.sequence, head.last_hash), head.head_mac)
    if head.sequence == 0 and not checked and not head.head_mac:
        return []  # a fresh, empty trail
    if not sealed:
        return [
            ChainProblem(
                Problem.HEAD_FORGED,
                None,
                None,
                "the chain head was rewritten without the audit key"
                if sealed is False
                else "the chain head is sealed with a key that is not configured",
            )
        ]
    if head.sequence > last:
        return [
            ChainProblem(
                Problem.TRUNCATED,
                last + 1,
                head.sequence,
                "removed from the end of the trail (the head records more lines)",
            )
        ]
    if head.sequence < last:
        return [
            ChainProblem(
                Problem.INSERTED,
                head.sequence + 1,
                last,
                "written past the chain head (added directly in the database)",
            )
        ]
    if head.last_hash != last_hash:
        return [
            ChainProblem(Problem.EDITED, last, last, "the last line does not match the chain head")
        ]
    return []


def _anchor_problems(anchor: Anchor, *, hashes: dict[str, int], last: int) -> list[ChainProblem]:
    when = f" (anchored {anchor.recorded_at})" if anchor.recorded_at else ""
    found = hashes.get(anchor.entry_hash)
    if found == anchor.sequence:
        return []
    if anchor.sequence > last:
        return [
            ChainProblem(
                Problem.ANCHOR,
                anchor.sequence,
                anchor.sequence,
                f"missing: the trail ends at line {last} but line {anchor.sequence} was "
                f"anchored{when}; lines were removed or the trail was rebuilt",
            )
        ]
    return [
        ChainProblem(
            Problem.ANCHOR,
            anchor.sequence,
            anchor.sequence,
            f"does not match its anchor{when}: the line or the chain before it was rewritten",
        )
    ]


def audit_event(
    *,
    user,
    action: str = AuditEvent.Action.EVENT,
    model: str,
    object_id: str | int = "",
    subject: str = "",
    reason: str = "",
    changes: dict | None = None,
    summary: str = "",
) -> AuditEvent:
    """Append one line to the audit trail (inside the caller's transaction)."""
    actor = user if getattr(user, "pk", None) else None
    return _append(
        AuditEvent(
            at=timezone.now(),
            user=actor,
            # Background tasks act for nobody in particular: the trail says so.
            username=getattr(user, "username", "") or ("system" if user is None else ""),
            action=action,
            model=model,
            object_id=str(object_id),
            subject=subject,
            reason=reason,
            changes=changes or {},
            summary=summary,
        )
    )


def history_event(instance, history_instance) -> AuditEvent:
    """The audit line (unsaved) for one simple-history row of ``instance``."""
    history_type = history_instance.history_type
    action = {
        "+": AuditEvent.Action.CREATE,
        "~": AuditEvent.Action.UPDATE,
        "-": AuditEvent.Action.DELETE,
    }[history_type]
    changes: dict[str, list[Any]] = {}
    previous = history_instance.prev_record if history_type == "~" else None
    if previous is not None:
        delta = history_instance.diff_against(previous)
        for change in delta.changes:
            if change.field in _IGNORED_FIELDS:
                continue
            changes[change.field] = [_plain(change.old), _plain(change.new)]
    else:
        for field in instance._meta.concrete_fields:
            if field.attname in _IGNORED_FIELDS or field.name in _IGNORED_FIELDS:
                continue
            if field.name in getattr(history_instance, "_history_excluded_fields", ()):
                continue
            if not hasattr(history_instance, field.attname):
                continue
            changes[field.name] = [None, _plain(getattr(history_instance, field.attname))]
    subject_of = getattr(instance, "audit_subject", None)
    user = history_instance.history_user
    return AuditEvent(
        at=history_instance.history_date,
        user=user,
        username=getattr(user, "username", "") or "",
        action=action,
        model=instance._meta.label,
        object_id=str(instance.pk),
        subject=subject_of() if subject_of else "",
        reason=history_instance.history_change_reason or "",
        changes=changes,
        summary=str(instance),
    )


def record_history_row(sender, *, instance, history_instance, **kwargs) -> None:
    """Mirror a simple-history row into the audit trail (post_create_historical_record)."""
    _append(history_event(instance, history_instance))


def bulk_create_audited(objs: list, *, user, reason: str, batch_size: int = 1000) -> list:
    """Insert many new rows of one model with their history rows and audit lines,
    a few statements per batch instead of several per row (the import uses it).

    The result is what saving each row would leave: one ``+`` history row each,
    naming ``user`` and ``reason``, mirrored into the chained audit trail.
    """
    if not objs:
        return objs
    model = type(objs[0])
    model.objects.bulk_create(objs, batch_size=batch_size)
    history = get_history_manager_for_model(model).bulk_history_create(
        objs,
        batch_size=batch_size,
        default_user=user,
        default_change_reason=reason,
        default_date=timezone.now(),
    )
    append_many([history_event(obj, row) for obj, row in zip(objs, history, strict=True)])
    return objs
