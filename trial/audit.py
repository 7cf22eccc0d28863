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
import json
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from simple_history.utils import get_history_manager_for_model

from .models import AuditChainHead, AuditEvent

GENESIS = "0" * 64

# Fields that never go into the trail's change list, whatever the model: they
# would only repeat the history row's own bookkeeping.
_IGNORED_FIELDS = {"id", "history_id", "history_date", "history_user", "history_type"}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    return value


def entry_digest(event: AuditEvent, previous_hash: str) -> str:
    """SHA-256 over the previous hash and the line's own content (canonical JSON)."""
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
    return hashlib.sha256((previous_hash + canonical).encode()).hexdigest()


def _append(event: AuditEvent) -> AuditEvent:
    """Insert one line at the end of the chain."""
    append_many([event])
    return event


def append_many(events: list[AuditEvent], *, batch_size: int = 2000) -> None:
    """Insert lines at the end of the chain, in order, each linked to the one before.

    The chain head's row lock orders appenders across transactions; the previous
    hash is read from the latest line. The head row itself is only updated after
    commit: updating one row thousands of times inside one transaction (an
    import) would make every later read walk all its versions.
    """
    if not events:
        return
    with transaction.atomic():
        AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        previous = (
            AuditEvent.objects.order_by("-pk").values_list("entry_hash", flat=True).first()
            or GENESIS
        )
        for event in events:
            # JSON round trip so the hash is over exactly what the database stores.
            event.changes = json.loads(json.dumps(event.changes, default=str))
            event.previous_hash = previous
            event.entry_hash = previous = entry_digest(event, previous)
        if len(events) == 1:
            events[0].save()
        else:
            AuditEvent.objects.bulk_create(events, batch_size=batch_size)
        # Once per transaction is enough (an import appends many thousand lines);
        # a rolled-back savepoint takes its callback with it, so this stays right.
        connection = transaction.get_connection()
        if not any(entry[1] is advance_head for entry in connection.run_on_commit):
            transaction.on_commit(advance_head)


def advance_head() -> None:
    """Record the chain's latest line on the head (after commit; idempotent)."""
    latest = AuditEvent.objects.order_by("-pk").values("pk", "entry_hash").first()
    if latest:
        AuditChainHead.objects.filter(pk=1).exclude(last_event=latest["pk"]).update(
            last_hash=latest["entry_hash"], last_event=latest["pk"]
        )


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    first_broken: int | None
    problem: str


def verify_chain() -> ChainCheck:
    """Walk the chain in insertion order; report the first line that does not link."""
    previous = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=2000):
        if event.previous_hash != previous:
            return ChainCheck(
                checked,
                event.pk,
                "does not point at the line before it (a line was removed or inserted)",
            )
        if entry_digest(event, previous) != event.entry_hash:
            return ChainCheck(
                checked, event.pk, "its content no longer matches its hash (the line was changed)"
            )
        previous = event.entry_hash
        checked += 1
    # The head remembers the latest line seen at a commit: if that line is gone or
    # changed, lines were removed from the end of the trail.
    head = AuditChainHead.objects.filter(pk=1).first()
    if (
        head
        and head.last_event
        and not AuditEvent.objects.filter(pk=head.last_event, entry_hash=head.last_hash).exists()
    ):
        return ChainCheck(
            checked,
            None,
            "the chain's last recorded line is missing (lines were removed from the end)",
        )
    return ChainCheck(checked, None, "")


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
