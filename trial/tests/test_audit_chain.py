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


# --- reports read by people -------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "text"),
    [
        (None, None, "the chain head is missing"),
        (7, 7, "line 7: the chain head is missing"),
        (3, 5, "lines 3\u20135: the chain head is missing"),
    ],
)
def test_a_problem_says_which_lines(first, last, text):
    problem = audit.ChainProblem(Problem.MISSING, first, last, "the chain head is missing")
    assert str(problem) == text


def test_an_anchor_that_still_matches_is_no_problem():
    anchor = Anchor(sequence=4, entry_hash="h4", recorded_at="2026-01-01")
    assert audit._anchor_problems(anchor, hashes={"h4": 4}, last=9) == []


@pytest.mark.parametrize(
    ("recorded_at", "when"), [("2026-01-01T00:00Z", " (anchored 2026-01-01T00:00Z)"), ("", "")]
)
def test_an_anchor_past_the_end_says_lines_were_removed(recorded_at, when):
    anchor = Anchor(sequence=12, entry_hash="h12", recorded_at=recorded_at)
    assert audit._anchor_problems(anchor, hashes={"h4": 4}, last=9) == [
        audit.ChainProblem(
            Problem.ANCHOR,
            12,
            12,
            f"missing: the trail ends at line 9 but line 12 was anchored{when}; "
            "lines were removed or the trail was rebuilt",
        )
    ]


@pytest.mark.parametrize("sequence", [4, 9])
@pytest.mark.parametrize(
    ("recorded_at", "when"), [("2026-01-01T00:00Z", " (anchored 2026-01-01T00:00Z)"), ("", "")]
)
def test_an_anchor_whose_line_changed_says_it_was_rewritten(sequence, recorded_at, when):
    # Line 9 is the last line: still there, so rewritten, not missing.
    anchor = Anchor(sequence=sequence, entry_hash="old", recorded_at=recorded_at)
    assert audit._anchor_problems(anchor, hashes={"new": sequence}, last=9) == [
        audit.ChainProblem(
            Problem.ANCHOR,
            sequence,
            sequence,
            f"does not match its anchor{when}: the line or the chain before it was rewritten",
        )
    ]


def test_withheld_fields_keep_only_the_fact_that_they_had_a_value():
    changes = {
        "unblinding_note": [None, "told it was the active arm"],
        "reason": ["", "moved"],
        "status": ["on_study", "withdrawn"],
    }
    assert audit.readable_changes(changes) == {
        "unblinding_note": [None, audit.WITHHELD],
        "reason": ["", "moved"],
        "status": ["on_study", "withdrawn"],
    }
    assert audit.readable_changes({"unblinding_note": ["", "x", "y"]}, withheld="-") == {
        "unblinding_note": ["", "-", "-"]
    }
    assert changes["unblinding_note"] == [None, "told it was the active arm"]


def test_a_withheld_field_that_is_not_a_change_list_is_left_as_it_is():
    assert audit.readable_changes({"unblinding_note": "legacy text"}) == {
        "unblinding_note": "legacy text"
    }


@pytest.mark.parametrize("changes", [None, {}])
def test_no_changes_read_as_none(changes):
    assert audit.readable_changes(changes) == {}


def test_a_new_audit_key_is_a_fresh_256_bit_secret():
    keys = {audit._new_audit_key() for _ in range(3)}
    assert len(keys) == 3
    for key in keys:
        # token_urlsafe(32): 32 random bytes, 43 URL-safe characters.
        assert len(key) == 43
        assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# --- bulk inserts (the import) ----------------------------------------------------------


def test_bulk_create_audited_leaves_what_saving_each_row_would(nurse):
    from datetime import date

    from trial.models import ConsentFormVersion

    forms = [
        ConsentFormVersion(version=f"9.{n}", approved_on=date(2020, 1, n + 1)) for n in range(3)
    ]
    head_before = audit.chain_head()
    start = head_before.sequence if head_before else 0
    assert audit.bulk_create_audited(forms, user=nurse, reason="Imported", batch_size=2) is forms
    assert all(form.pk is not None for form in forms)
    history = ConsentFormVersion.history.filter(version__startswith="9.").order_by("version")
    assert [(row.version, row.history_type) for row in history] == [
        ("9.0", "+"),
        ("9.1", "+"),
        ("9.2", "+"),
    ]
    assert {(row.history_user, row.history_change_reason) for row in history} == {
        (nurse, "Imported")
    }
    lines = list(AuditEvent.objects.filter(model="trial.ConsentFormVersion").order_by("sequence"))
    assert [(line.sequence, line.action, line.object_id) for line in lines] == [
        (start + n + 1, AuditEvent.Action.CREATE, str(form.pk)) for n, form in enumerate(forms)
    ]
    assert {(line.user, line.username, line.reason) for line in lines} == {
        (nurse, "nurse", "Imported")
    }
    assert [line.summary for line in lines] == ["9.0", "9.1", "9.2"]
    assert lines[0].changes["version"] == [None, "9.0"]
    assert lines[0].changes["approved_on"] == [None, "2020-01-01"]
    assert audit.chain_head().sequence == start + 3
    assert verify_chain().intact


def test_bulk_create_audited_of_nothing_writes_nothing(nurse):
    count = AuditEvent.objects.count()
    assert audit.bulk_create_audited([], user=nurse, reason="Imported") == []
    assert AuditEvent.objects.count() == count


# --- history rows into audit lines ------------------------------------------------------


def _history_row(instance, *, history_type="+", leave_out=(), excluded=(), **extra):
    """A stand-in for one simple-history row of ``instance`` (its fields as attributes)."""
    from types import SimpleNamespace

    from django.utils import timezone

    values = {
        field.attname: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.name not in leave_out
    }
    return SimpleNamespace(
        history_type=history_type,
        history_user=None,
        history_date=timezone.now(),
        history_change_reason=None,
        _history_excluded_fields=list(excluded),
        **values,
        **extra,
    )


def _site():
    from trial.models import Site

    return Site(pk=7, code="xian", name="Xi'an", study_id_prefix="XA", time_zone="Asia/Shanghai")


SITE_FIELDS_AFTER_CODE = {
    "name": [None, "Xi'an"],
    "study_id_prefix": [None, "XA"],
    "active": [None, True],
    "time_zone": [None, "Asia/Shanghai"],
}


def test_a_new_row_lists_every_field_but_excluded_and_bookkeeping_ones():
    line = audit.history_event(_site(), _history_row(_site(), excluded=["code"]))
    assert line.changes == SITE_FIELDS_AFTER_CODE
    assert (line.action, line.model, line.object_id, line.summary) == (
        AuditEvent.Action.CREATE,
        "trial.Site",
        "7",
        "Xi'an",
    )
    # Nobody in particular (a background task) and no reason: empty, never "None".
    assert (line.user, line.username, line.reason, line.subject) == (None, "", "", "")


def test_a_field_the_history_row_does_not_keep_is_left_out_and_the_rest_kept():
    line = audit.history_event(_site(), _history_row(_site(), leave_out=["code"]))
    assert line.changes == SITE_FIELDS_AFTER_CODE


def test_a_record_without_an_audit_subject_is_filed_under_none():
    head = AuditChainHead(pk=3, sequence=5, last_hash="abc")
    line = audit.history_event(head, _history_row(head))
    assert line.subject == ""
    assert line.summary == "5 abc"
    assert line.changes["sequence"] == [None, 5]


def test_a_change_lists_only_what_changed_never_the_bookkeeping():
    from types import SimpleNamespace

    delta = SimpleNamespace(
        changes=[
            SimpleNamespace(field="name", old="Xian", new="Xi'an"),
            SimpleNamespace(field="history_date", old="t0", new="t1"),
            SimpleNamespace(field="active", old=True, new=False),
        ]
    )
    row = _history_row(
        _site(), history_type="~", prev_record=object(), diff_against=lambda previous: delta
    )
    line = audit.history_event(_site(), row)
    assert line.action == AuditEvent.Action.UPDATE
    assert line.changes == {"name": ["Xian", "Xi'an"], "active": [True, False]}


def test_a_deleted_row_is_a_delete_line_with_its_last_values(datamanager):
    from datetime import date

    from trial.models import ConsentFormVersion

    form = ConsentFormVersion.objects.create(version="0.9", approved_on=date(2019, 1, 2))
    pk = form.pk
    form.delete()
    line = AuditEvent.objects.filter(model="trial.ConsentFormVersion").order_by("-sequence")[0]
    assert (line.action, line.object_id) == (AuditEvent.Action.DELETE, str(pk))
    assert line.changes["version"] == [None, "0.9"]
    assert line.changes["approved_on"] == [None, "2019-01-02"]
    assert verify_chain().intact


# --- one event line ---------------------------------------------------------------------


def test_an_event_line_names_who_and_fills_what_was_not_given(nurse):
    line = audit.audit_event(user=nurse, model="trial.Test")
    line.refresh_from_db()
    assert (line.user, line.username, line.action, line.model) == (
        nurse,
        "nurse",
        AuditEvent.Action.EVENT,
        "trial.Test",
    )
    assert (line.object_id, line.subject, line.reason, line.summary, line.changes) == (
        "",
        "",
        "",
        "",
        {},
    )


def test_an_event_line_keeps_what_was_given(nurse):
    line = audit.audit_event(
        user=nurse,
        action=AuditEvent.Action.UPDATE,
        model="trial.Participant",
        object_id=42,
        subject="MLT-042",
        reason="Corrected",
        changes={"status": ["on_study", "withdrawn"]},
        summary="Status changed",
    )
    line.refresh_from_db()
    assert (line.action, line.object_id, line.subject, line.reason, line.summary) == (
        AuditEvent.Action.UPDATE,
        "42",
        "MLT-042",
        "Corrected",
        "Status changed",
    )
    assert line.changes == {"status": ["on_study", "withdrawn"]}


def test_a_background_task_acts_as_system():
    line = audit.audit_event(user=None, model="trial.Test")
    assert (line.user, line.username) == (None, "system")


def test_someone_not_logged_in_is_nobody_by_name():
    from django.contrib.auth.models import AnonymousUser

    line = audit.audit_event(user=AnonymousUser(), model="trial.Test")
    line.refresh_from_db()
    assert (line.user, line.username) == (None, "")


def test_dates_and_decimals_in_changes_are_stored_as_text_and_verify(nurse):
    from datetime import date

    line = audit.audit_event(
        user=nurse,
        model="trial.Test",
        changes={"on": [None, date(2019, 7, 1)], "bmi": [Decimal("23.4"), Decimal("24.0")]},
    )
    line.refresh_from_db()
    assert line.changes == {"on": [None, "2019-07-01"], "bmi": ["23.4", "24.0"]}
    assert verify_chain().intact


def test_an_empty_trail_starts_a_fresh_chain_at_line_one(nurse):
    from django.utils import timezone

    with as_database_owner():
        AuditEvent.objects.all().delete()
        AuditChainHead.objects.all().delete()
    before = timezone.now()
    write_once(nurse)
    line = AuditEvent.objects.get()
    assert (line.sequence, line.previous_hash) == (1, audit.GENESIS)
    head = AuditChainHead.objects.get()
    assert (head.pk, head.sequence, head.last_hash) == (audit.HEAD_PK, 1, line.entry_hash)
    assert before <= head.updated_at <= timezone.now()
    assert verify_chain().intact


def test_a_missing_head_beside_lines_says_what_to_do(trail, nurse):
    AuditChainHead.objects.all().delete()
    with pytest.raises(AuditChainError) as excinfo:
        write_once(nurse)
    assert str(excinfo.value) == audit.HEAD_MISSING


def test_a_line_stripped_of_its_key_name_is_resealed_not_unknown(trail):
    victim = trail[3]
    with as_database_owner():
        AuditEvent.objects.filter(pk=victim.pk).update(key_id="")
    report = verify_chain()
    assert [(p.kind, p.first, p.last) for p in report.problems] == [
        (Problem.RESEALED, victim.sequence, victim.sequence)
    ]


def test_each_finding_reads_as_a_sentence(trail):
    edited, rehashed = trail[1], trail[4:]
    _rehash_everything(from_index=4, lines=trail)
    with as_database_owner():
        AuditEvent.objects.filter(pk=edited.pk).update(reason="nothing to see")
    texts = [str(problem) for problem in verify_chain().problems]
    assert f"line {edited.sequence}: content changed after it was written (edited)" in texts
    assert (
        f"lines {rehashed[0].sequence}\u2013{rehashed[-1].sequence}: hash recomputed or written "
        "without the audit key (the trail was re-hashed)"
    ) in texts
    assert "the chain head was rewritten without the audit key" in texts


# --- every finding, word for word -------------------------------------------------------


def _findings(report) -> list[tuple[str, int | None, int | None, str]]:
    return [(p.kind, p.first, p.last, p.detail) for p in report.problems]


def _reseal_head(**values) -> None:
    """What only the holder of the audit key can do: rewrite the head and seal it."""
    head = AuditChainHead.objects.get()
    for name, value in values.items():
        setattr(head, name, value)
    head.head_mac = hmac.new(
        TEST_AUDIT_KEY.encode(), f"head:{head.sequence}:{head.last_hash}".encode(), hashlib.sha256
    ).hexdigest()
    head.save()


def test_a_gap_and_an_earlier_edit_are_reported_in_line_order(trail):
    edited, removed = trail[1], trail[4]
    with as_database_owner():
        AuditEvent.objects.filter(pk=removed.pk).delete()
        AuditEvent.objects.filter(pk=edited.pk).update(reason="nothing to see")
    report = verify_chain()
    assert _findings(report) == [
        (
            Problem.EDITED,
            edited.sequence,
            edited.sequence,
            "content changed after it was written (edited)",
        ),
        (Problem.MISSING, removed.sequence, removed.sequence, "removed (a gap in the numbers)"),
    ]
    assert report.first_broken == edited.sequence


def test_a_truncated_tail_says_so(trail):
    with as_database_owner():
        AuditEvent.objects.filter(pk__in=[line.pk for line in trail[-2:]]).delete()
    assert _findings(verify_chain()) == [
        (
            Problem.TRUNCATED,
            trail[-2].sequence,
            trail[-1].sequence,
            "removed from the end of the trail (the head records more lines)",
        )
    ]


def test_reordered_lines_say_which_line_they_follow(trail):
    first, second = trail[3], trail[4]
    with as_database_owner():
        AuditEvent.objects.filter(pk=first.pk).update(sequence=10_000)
        AuditEvent.objects.filter(pk=second.pk).update(sequence=first.sequence)
        AuditEvent.objects.filter(pk=first.pk).update(sequence=second.sequence)
    reordered = [f for f in _findings(verify_chain()) if f[0] == Problem.REORDERED]
    # The line now numbered 4 links to the hash of the line now numbered 5.
    assert (
        Problem.REORDERED,
        first.sequence,
        first.sequence,
        f"follows line {second.sequence}, not the line before it (lines were reordered)",
    ) in reordered


def test_a_line_linking_to_nothing_was_inserted_or_replaced(trail):
    victim = trail[3]
    with as_database_owner():
        AuditEvent.objects.filter(pk=victim.pk).update(previous_hash="f" * 64)
    findings = _findings(verify_chain())
    assert (
        Problem.INSERTED,
        victim.sequence,
        victim.sequence,
        "does not link to the line before it (a line was inserted or replaced)",
    ) in findings


def test_a_line_past_the_head_says_it_was_added_in_the_database(trail):
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
    assert (
        Problem.INSERTED,
        forged.sequence,
        forged.sequence,
        "written past the chain head (added directly in the database)",
    ) in _findings(verify_chain())


def test_lines_and_head_of_a_retired_key_say_so(trail, settings):
    settings.AUDIT_KEYS = ["a-new-audit-key-0000000000000000000"]
    assert _findings(verify_chain()) == [
        (
            Problem.UNKNOWN_KEY,
            1,
            trail[-1].sequence,
            "sealed with a key that is not configured",
        ),
        (
            Problem.HEAD_FORGED,
            None,
            None,
            "the chain head is sealed with a key that is not configured",
        ),
    ]


@pytest.mark.parametrize("change", [{"head_mac": ""}, {"sequence": 0}])
def test_a_head_rewritten_without_the_key_says_so(trail, change):
    AuditChainHead.objects.update(**change)
    assert _findings(verify_chain()) == [
        (Problem.HEAD_FORGED, None, None, "the chain head was rewritten without the audit key")
    ]


def test_a_head_missing_beside_lines_says_so(trail):
    AuditChainHead.objects.all().delete()
    assert _findings(verify_chain()) == [
        (Problem.HEAD_MISSING, None, None, "the chain head is missing")
    ]


def test_a_head_sealed_over_another_last_line_says_so(trail):
    _reseal_head(last_hash="e" * 64)
    assert _findings(verify_chain()) == [
        (
            Problem.EDITED,
            trail[-1].sequence,
            trail[-1].sequence,
            "the last line does not match the chain head",
        )
    ]


def test_a_fresh_head_of_an_empty_trail_is_intact(nurse):
    from django.db import transaction

    with as_database_owner():
        AuditEvent.objects.all().delete()
        AuditChainHead.objects.all().delete()
    with transaction.atomic():
        audit._locked_head()
    head = AuditChainHead.objects.get()
    assert (head.sequence, head.last_hash, head.head_mac) == (0, audit.GENESIS, "")
    report = verify_chain()
    assert report.intact and report.checked == 0


def test_anchors_add_to_what_the_lines_show(trail):
    victim = trail[3]
    anchor = Anchor(sequence=trail[-1].sequence + 5, entry_hash="gone")
    with as_database_owner():
        AuditEvent.objects.filter(pk=victim.pk).update(reason="nothing to see")
    assert kinds(verify_chain(anchors=[anchor])) == {Problem.EDITED, Problem.ANCHOR}


def test_bulk_create_audited_of_one_row(nurse):
    from datetime import date

    from trial.models import ConsentFormVersion

    form = ConsentFormVersion(version="9.9", approved_on=date(2021, 5, 6))
    audit.bulk_create_audited([form], user=nurse, reason="Imported")
    line = AuditEvent.objects.filter(model="trial.ConsentFormVersion").get()
    assert (line.action, line.object_id, line.reason) == (
        AuditEvent.Action.CREATE,
        str(form.pk),
        "Imported",
    )
    assert ConsentFormVersion.history.get(version="9.9").history_user == nurse


def test_a_history_row_that_names_no_excluded_fields_keeps_every_field():
    row = _history_row(_site())
    del row._history_excluded_fields
    line = audit.history_event(_site(), row)
    assert line.changes == {"code": [None, "xian"], **SITE_FIELDS_AFTER_CODE}
