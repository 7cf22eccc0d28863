"""Audit trail infrastructure: one table the data manager reads and exports.

Every history row written by django-simple-history is mirrored into
``AuditEvent`` (who, when, what changed from what to what, why), and services
record events that are not row changes through ``audit_event``. Nothing here
decides anything clinical.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django.db import models
from django.utils import timezone

from .models import AuditEvent

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
    return AuditEvent.objects.create(
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


def record_history_row(sender, *, instance, history_instance, **kwargs) -> None:
    """Mirror a simple-history row into the audit trail (post_create_historical_record)."""
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
    AuditEvent.objects.create(
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
