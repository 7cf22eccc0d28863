"""The audit chain against someone who holds the database but not the audit key.

Each attack below is what a person with write access to the tables can do
(after dropping the append-only trigger, which a database owner can):
change a line, delete lines anywhere, delete everything, reorder, re-hash the
whole chain with the published algorithm. Each must be reported, and named.
"""

from __future__ import annotations

import hashlib
import hmac
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from conftest import TEST_AUDIT_KEY, baseline_data
from trial import audit, services
from trial.audit import Anchor, AuditChainError, Problem, entry_digest, verify_chain
from trial.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db


@contextmanager
def as_database_owner():
    """Lift the append-only trigger for the duration (what a database owner can do)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser's session can skip the table's triggers.
            cursor.execute("SET session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER trial_auditevent_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")
            else:
                cursor.execute(
                    "CREATE TRIGGER trial_auditevent_append_only BEFORE UPDATE ON "
                    "trial_auditevent BEGIN SELECT RAISE(ABORT, 'append-only'); END"
                )


@pytest.fixture
def trail(make_participant, nurse):
    participant = make_participant()
    services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
    services.baseline_save(
        participant=participant,
        data=baseline_data(height_cm=Decimal("158.0")),
        by=nurse,
        reason="Height re-measured",
    )
    make_participant()
    lines = list(AuditEvent.objects.order_by("sequence"))
    assert len(lines) >= 8
    return lines


def write_once(nurse) -> None:
    """The application goes on working after the attack: one more audited change."""
    audit.audit_event(user=nurse, model="trial.Test", summary="later work")


def kinds(report) -> set[str]:
    return {problem.kind for problem in report.problems}


def test_normal_work_gives_numbered_linked_sealed_lines(trail):
    report = verify_chain()
    assert report.intact, report.problems
    assert report.checked == len(trail)
    assert [line.sequence for line in trail] == list(range(1, len(trail) + 1))
    assert trail[0].previous_hash == audit.GENESIS
    for before, after in zip(trail, trail[1:], strict=False):
        assert after.previous_hash == before.entry_hash
    for line in trail:
        expected = hmac.new(
            TEST_AUDIT_KEY.encode(), f"line:{line.entry_hash}".encode(), hashlib.sha256
        ).hexdigest()
        assert line.entry_mac == expected
    head = AuditChainHead.objects.get()
    assert (head.sequence, head.last_hash) == (trail[-1].sequence, trail[-1].entry_hash)
    call_command("verify_audit")


def test_the_database_refuses_to_change_a_line(trail):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[2].pk).update(reason="rewritten")
    assert AuditEvent.objects.get(pk=trail[2].pk).reason == trail[2].reason


@pytest.mark.usefixtures("require_postgres")
def test_postgres_also_refuses_to_delete_a_line(trail):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[2].pk).delete()
    assert AuditEvent.objects.count() == len(trail)


def test_edited_line_is_named(trail):
    victim = trail[3]
    with as_database_owner():
        AuditEvent.objects.filter(pk=victim.pk).update(reason="nothing to see")
    report = verify_chain()
    assert [(p.kind, p.first, p.last) for p in report.problems] == [
        (Problem.EDITED, victim.sequence, victim.sequence)
    ]
    with pytest.raises(CommandError, match=f"audit line {victim.sequence}: .*edited"):
        call_command("verify_audit")


def test_deleted_line_in_the_middle_is_named(trail):
    victim = trail[2]
    with as_database_owner():
        AuditEvent.objects.filter(pk=victim.pk).delete()
    report = verify_chain()
    assert [(p.kind, p.first, p.last) for p in report.problems] == [
        (Problem.MISSING, victim.sequence, victim.sequence)
    ]


def test_deleted_tail_then_more_work_is_still_found(trail, nurse):
    """The hole of the earlier design: new lines linked to the newest surviving
    line, so deleting the tail and letting the app write once looked intact."""
    tail = trail[-3:]
    with as_database_owner():
        AuditEvent.objects.filter(pk__in=[line.pk for line in tail]).delete()
    write_once(nurse)
    report = verify_chain()
    assert (Problem.MISSING, tail[0].sequence, tail[-1].sequence) in [
        (p.kind, p.first, p.last) for p in report.problems
    ]
    latest = AuditEvent.objects.order_by("-sequence").first()
    assert latest.sequence == tail[-1].sequence + 1  # numbered after the head, not the survivor
    assert latest.previous_hash == tail[-1].entry_hash


def test_deleted_tail_is_found_from_the_head(trail):
    with as_database_owner():
        AuditEvent.objects.filter(pk__in=[line.pk for line in trail[-2:]]).delete()
    report = verify_chain()
    assert [(p.kind, p.first, p.last) for p in report.problems] == [
        (Problem.TRUNCATED, trail[-2].sequence, trail[-1].sequence)
    ]


def test_everything_deleted_is_found(trail):
    with as_database_owner():
        AuditEvent.objects.all().delete()
    report = verify_chain()
    assert kinds(report) == {Problem.TRUNCATED}
    assert (report.problems[0].first, report.problems[0].last) == (1, trail[-1].sequence)


def test_everything_and_the_head_deleted_stops_writes_and_anchor_finds_it(trail, nurse):
    anchor = Anchor(sequence=trail[-1].sequence, entry_hash=trail[-1].entry_hash)
    with as_database_owner():
        AuditEvent.objects.all().delete()
        AuditChainHead.objects.all().delete()
    # An empty table and no head look like a new trial, inside the database;
    # only a head kept outside it can tell.
    assert verify_chain().intact
    report = verify_chain(anchors=[anchor])
    assert kinds(report) == {Problem.ANCHOR}
    assert "missing" in report.problem


def test_head_deleted_beside_lines_refuses_to_write(trail, nurse):
    AuditChainHead.objects.all().delete()
    with pytest.raises(AuditChainError):
        write_once(nurse)
    assert AuditEvent.objects.count() == len(trail)
    assert kinds(verify_chain()) == {Problem.HEAD_MISSING}


def _rehash_everything(*, from_index: int, lines) -> None:
    """What an attacker with the published algorithm but without the key can do."""
    previous = lines[from_index - 1].entry_hash if from_index else audit.GENESIS
    with as_database_owner():
        for line in lines[from_index:]:
            line.refresh_from_db()
            if line.sequence == lines[from_index].sequence:
                line.reason = "rewritten history"
            line.previous_hash = previous
            line.entry_hash = previous = entry_digest(line)
            line.entry_mac = hmac.new(
                b"a guessed key", f"line:{line.entry_hash}".encode(), hashlib.sha256
            ).hexdigest()
            line.save()
        AuditChainHead.objects.update(last_hash=previous)


def test_rehashed_chain_is_found_and_called_so(trail):
    _rehash_everything(from_index=2, lines=trail)
    report = verify_chain()
    assert Problem.EDITED not in kinds(report)  # every hash is consistent again...
    assert (Problem.RESEALED, trail[2].sequence, trail[-1].sequence) in [
        (p.kind, p.first, p.last) for p in report.problems
    ]  # ...but no seal is
    assert Problem.HEAD_FORGED in kinds(report)


def test_rehashed_from_the_first_line_is_found(trail):
    _rehash_everything(from_index=0, lines=trail)
    report = verify_chain()
    assert (Problem.RESEALED, 1, trail[-1].sequence) in [
        (p.kind, p.first, p.last) for p in report.problems
    ]


def test_reordered_lines_are_named(trail):
    first, second = trail[3], trail[4]
    with as_database_owner():
        AuditEvent.objects.filter(pk=first.pk).update(sequence=10_000)
        AuditEvent.objects.filter(pk=second.pk).update(sequence=first.sequence)
        AuditEvent.objects.filter(pk=first.pk).update(sequence=second.sequence)
    report = verify_chain()
    assert Problem.REORDERED in kinds(report)
    reordered = [p for p in report.problems if p.kind == Problem.REORDERED]
    assert {p.first for p in reordered} <= {first.sequence, second.sequence, trail[5].sequence}


def test_forged_head_is_found(trail):
    with as_database_owner():
        AuditEvent.objects.filter(pk=trail[-1].pk).delete()
    AuditChainHead.objects.update(sequence=trail[-2].sequence, last_hash=trail[-2].entry_hash)
    report = verify_chain()
    assert kinds(report) == {Problem.HEAD_FORGED}


def test_line_inserted_past_the_head_is_found(trail, nurse):
    forged = AuditEvent(
        at=trail[-1].at,
        username="intruder",
        action="event",
        model="trial.Test",
        changes={},
        sequence=trail[-1].sequence + 1,
        previous_hash=trail[-1].entry_hash,
    )
    forged.entry_hash = entry_digest(forged)
    AuditEvent.objects.bulk_create([forged])
    report = verify_chain()
    assert Problem.INSERTED in kinds(report)
    assert Problem.RESEALED in kinds(report)


def test_anchor_detects_a_rewritten_line(trail):
    anchor = Anchor(sequence=trail[4].sequence, entry_hash=trail[4].entry_hash, recorded_at="x")
    _rehash_everything(from_index=1, lines=trail)
    report = verify_chain(anchors=[anchor])
    assert Problem.ANCHOR in kinds(report)
    assert report.anchors_checked == 1


def test_intact_trail_matches_its_anchors(trail):
    anchors = [Anchor(sequence=line.sequence, entry_hash=line.entry_hash) for line in trail[::3]]
    report = verify_chain(anchors=anchors)
    assert report.intact and report.anchors_checked == len(anchors)


def test_keys_rotate_old_lines_still_verify(trail, settings, nurse):
    settings.AUDIT_KEYS = ["a-new-audit-key-0000000000000000000", TEST_AUDIT_KEY]
    write_once(nurse)
    assert verify_chain().intact
    newest = AuditEvent.objects.order_by("-sequence").first()
    assert newest.key_id != trail[0].key_id
    settings.AUDIT_KEYS = ["a-new-audit-key-0000000000000000000"]
    report = verify_chain()
    assert (Problem.UNKNOWN_KEY, 1, trail[-1].sequence) in [
        (p.kind, p.first, p.last) for p in report.problems
    ]


def test_bulk_appends_number_and_seal_every_line(nurse):
    before = AuditChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
    lines = [
        AuditEvent(at=audit.timezone.now(), username="x", action="event", model="m", changes={})
        for _ in range(25)
    ]
    audit.append_many(lines, batch_size=7)
    assert [line.sequence for line in lines] == list(range(before + 1, before + 26))
    assert verify_chain().intact
    assert AuditChainHead.objects.get().sequence == before + 25


def test_savepoint_rollback_takes_its_lines_and_head_with_it(trail, nurse):
    from django.db import transaction

    head_before = AuditChainHead.objects.get().sequence
    try:
        with transaction.atomic():
            write_once(nurse)
            raise RuntimeError("the service failed after auditing")
    except RuntimeError:
        pass
    assert AuditChainHead.objects.get().sequence == head_before
    write_once(nurse)
    assert verify_chain().intact


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("legacy_intact", [True, False])
def test_upgrade_numbers_and_seals_the_earlier_chain(legacy_intact):
    """Lines written under the earlier, unkeyed scheme are checked, then numbered
    and sealed by the migration, which says in the trail what it found."""
    import importlib

    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    legacy = importlib.import_module("trial.migrations.0008_seal_existing_audit_lines")
    before = ("trial", "0006_model_names")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old_apps = executor.loader.project_state([before]).apps
    OldEvent = old_apps.get_model("trial", "AuditEvent")
    OldEvent.objects.all().delete()  # a database from before: only earlier-scheme lines
    previous = legacy.LEGACY_GENESIS
    for number in range(5):
        line = OldEvent(
            at=timezone.now(),
            username="nurse",
            action="event",
            model="m",
            changes={},
            summary=f"line {number}",
        )
        line.previous_hash = previous
        line.entry_hash = previous = legacy._legacy_digest(line, previous)
        line.save()
    if not legacy_intact:
        third = OldEvent.objects.order_by("pk")[2]
        OldEvent.objects.filter(pk=third.pk).update(summary="edited before the upgrade")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # everything, as `migrate` does

    report = verify_chain()
    assert report.intact, report.problems
    assert report.checked == 6
    note = AuditEvent.objects.order_by("-sequence").first()
    assert note.sequence == 6
    if legacy_intact:
        assert note.summary.endswith("the earlier chain was intact")
    else:
        assert "already broken at line id" in note.summary
