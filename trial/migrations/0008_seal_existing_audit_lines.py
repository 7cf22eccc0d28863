"""Number and seal the audit lines written before lines had numbers and seals.

The earlier chain (SHA-256 of the previous hash and the line's content, no key)
is checked first, exactly as it was computed then; every line is then numbered
in insertion order, re-linked under the current scheme (number, previous hash,
content) and sealed with the audit key, and the head set. One closing line says
that this happened and whether the earlier chain was intact, so the upgrade is
itself in the trail. Reversing only removes the numbers and seals again.
"""

import hashlib
import json

from django.db import migrations
from django.utils import timezone

LEGACY_GENESIS = "0" * 64


def _legacy_digest(event, previous_hash: str) -> str:
    # The scheme of 0003_audit_hash_chain, frozen here as it was.
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


def seal_existing_lines(apps, schema_editor):
    # The digest and the seal are the audit module's own, so the lines sealed here
    # verify exactly like the lines the application writes from now on.
    from trial.audit import GENESIS, HEAD_PK, _head_message, _line_message, _mac, audit_keys
    from trial.audit import entry_digest

    AuditEvent = apps.get_model("trial", "AuditEvent")
    AuditChainHead = apps.get_model("trial", "AuditChainHead")
    if not AuditEvent.objects.exists():
        # A new database: the first line the application writes starts the chain.
        AuditChainHead.objects.update_or_create(
            pk=HEAD_PK, defaults={"sequence": 0, "last_hash": GENESIS}
        )
        return
    key_name, key = next(iter(audit_keys().items()))

    legacy_previous, legacy_broken_at = LEGACY_GENESIS, None
    sequence, previous = 0, GENESIS
    batch = []
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=2000):
        if legacy_broken_at is None and (
            event.previous_hash != legacy_previous
            or _legacy_digest(event, legacy_previous) != event.entry_hash
        ):
            legacy_broken_at = event.pk
        legacy_previous = event.entry_hash
        sequence += 1
        event.sequence = sequence
        event.previous_hash = previous
        event.entry_hash = previous = entry_digest(event)
        event.key_id = key_name
        event.entry_mac = _mac(key, _line_message(event.entry_hash))
        batch.append(event)
        if len(batch) >= 2000:
            AuditEvent.objects.bulk_update(
                batch, ["sequence", "previous_hash", "entry_hash", "key_id", "entry_mac"]
            )
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(
            batch, ["sequence", "previous_hash", "entry_hash", "key_id", "entry_mac"]
        )
    note = AuditEvent(
        at=timezone.now(),
        username="system",
        action="event",
        model="trial.AuditEvent",
        summary=(
            f"Audit trail numbered and sealed with a key: {sequence} earlier lines; "
            + (
                "the earlier chain was intact"
                if legacy_broken_at is None
                else f"the earlier chain was already broken at line id {legacy_broken_at}"
            )
        ),
        changes={},
    )
    sequence += 1
    note.sequence = sequence
    note.previous_hash = previous
    note.entry_hash = previous = entry_digest(note)
    note.key_id = key_name
    note.entry_mac = _mac(key, _line_message(note.entry_hash))
    note.save()
    AuditChainHead.objects.update_or_create(
        pk=HEAD_PK,
        defaults={
            "sequence": sequence,
            "last_hash": previous,
            "key_id": key_name,
            "head_mac": _mac(key, _head_message(sequence, previous)),
            "updated_at": timezone.now(),
        },
    )


def unseal(apps, schema_editor):
    AuditEvent = apps.get_model("trial", "AuditEvent")
    AuditEvent.objects.update(sequence=None, key_id="", entry_mac="")


class Migration(migrations.Migration):
    dependencies = [("trial", "0007_audit_line_numbers_seals_and_text_reasons")]

    operations = [migrations.RunPython(seal_existing_lines, unseal)]
