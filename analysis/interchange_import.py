"""Write layer of the interchange import: validated files into an empty database.

:func:`read_files` gives the parser (``interchange_parse``) what it needs from the
configuration and the database and returns the parsed rows with every problem.
:func:`import_files` then writes them, all or nothing, in one transaction, as the
importing user: rows are inserted in bulk, each with the history row and chained
audit line a save would give it (``trial.audit.bulk_create_audited``), and one
audit event sums the import up.

The domain rules are the ones the pages use, not copies: eligibility by
``trial.eligibility`` (through ``interchange_parse.screening_eligibility``), the
follow-up visits and their windows by ``followup.services.visits_planned`` and
``followup.windows.visit_state``, BMI by ``trial.services.body_mass_index``,
scores by the instruments' declarations (``questionnaires.scoring``) and the
PHQ-9 item-9 alert by ``questionnaires.services.safety_alert_for``. No
notification is sent for imported data.
"""

from __future__ import annotations

import getpass
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from followup import windows
from followup.models import AdverseEvent, Visit, VisitStatus
from followup.services import visits_planned
from questionnaires.definitions import Instrument, instruments
from questionnaires.models import Mode, Response, SafetyAlert
from questionnaires.services import safety_alert_for
from questionnaires.visits import trial_schedule
from randomization.crypto import seal
from randomization.models import Allocation
from trial import record_text
from trial.audit import audit_event, bulk_create_audited
from trial.eligibility import ANSWERED_CRITERIA, EXCLUSION_CRITERIA
from trial.models import (
    Baseline,
    ConsentFormVersion,
    Participant,
    ParticipantStatus,
    Screening,
    SequenceCounter,
    Sex,
    Site,
)
from trial.services import body_mass_index

from . import interchange_parse, selectors
from .interchange_columns import BASELINE_COLUMNS, DONE_STATUSES, file_columns, follow_up_visits
from .interchange_parse import (
    Problem,
    Validated,
    ValidationContext,
    instrument_answers,
    screening_eligibility,
)

IMPORT_REASON = record_text.IMPORTED
IMPORTED_CONSENT_FORM = "imported"
OUT_OF_WINDOW_REASON = "imported"
DECLINE_REASON = "Not consented (imported: the interchange file gives no reason)"
MAX_REPORTED_PROBLEMS = 200
HAS_PROBLEMS = "The files have problems; nothing can be imported."
DATABASE_NOT_EMPTY = (
    "the database already holds {screenings} screening(s) and {participants} participant(s); "
    "import_trial_data imports only into a database without clinical data"
)

_CLOSED = (*DONE_STATUSES, VisitStatus.MISSED, VisitStatus.NOT_APPLICABLE)
_RESPONSE_CHUNK = 2000  # visit rows whose questionnaires are written per batch

Row = dict[str, Any]


# --------------------------------------------------------------------------- validation


def validation_context(*, today: date | None = None) -> ValidationContext:
    """The configuration and database facts the parser checks the files against."""
    return ValidationContext(
        columns=file_columns(),
        instruments=instruments(),
        today=today or timezone.localdate(),
        age_min=settings.ELIGIBLE_AGE_MIN,
        age_max=settings.ELIGIBLE_AGE_MAX,
        list_packs=selectors.sealed_list_packs(),
        follow_up_visits=follow_up_visits(),
        completion_visit=trial_schedule().completion.code,
    )


def read_files(directory: Path | str, *, today: date | None = None) -> Validated:
    """Parse and validate every row of every file; collect every problem."""
    return interchange_parse.read_files(directory, validation_context(today=today))


def database_problems() -> list[Problem]:
    """The import's one condition on the database: no screening and no participant."""
    screenings, participants = selectors.clinical_record_counts()
    if screenings or participants:
        message = DATABASE_NOT_EMPTY.format(screenings=screenings, participants=participants)
        return [Problem("", None, None, message)]
    return []


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportSummary:
    screenings: int
    participants: int
    baselines: int
    allocations: int
    responses: int
    visits_done: int
    adverse_events: int
    safety_alerts: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Import:
    """One import under way: where, as whom, on which day, and what it has written."""

    site: Site
    user: Any
    today: date
    now: datetime
    counts: dict[str, int] = field(
        default_factory=lambda: {f.name: 0 for f in fields(ImportSummary)}
    )

    def write(self, objs: list, *, count: str | None = None) -> None:
        """Insert new rows with their history and audit lines; count them as ``count``."""
        bulk_create_audited(objs, user=self.user, reason=IMPORT_REASON)
        if count:
            self.counts[count] += len(objs)


def import_files(validated: Validated, *, site: Site, user, source: str = "") -> ImportSummary:
    """Write a validated set of files, all or nothing, as ``user``; audited.

    Refuses (ValueError) a set with problems, and re-checks inside the
    transaction that the database holds no clinical data. Rows are written in
    bulk, each with the history row and audit line a save would give it; a
    follow-up visit done in the files is created done (one history row), not
    scheduled and then closed.
    """
    if validated.problems:
        raise ValueError(HAS_PROBLEMS)
    run = _Import(site=site, user=user, today=timezone.localdate(), now=timezone.now())
    with transaction.atomic():
        problems = database_problems()
        if problems:
            raise ValueError(str(problems[0]))
        form_version = _imported_consent_form(validated)
        screenings = _import_screenings(run, validated.screenings)
        participants = _import_participants(run, validated, screenings, form_version)
        visits = _import_baselines_and_allocations(run, validated.participants, participants)
        _import_visits(run, validated.visits, visits, participants)
        _import_responses(run, validated, participants)
        _import_adverse_events(run, validated.adverse_events, participants)
        _advance_counters(site, validated.screenings, participants)
        summary = ImportSummary(**run.counts)
        _audit_import(run, source)
    _refresh_planner_statistics()
    return summary


# --------------------------------------------------------------------------- screenings


def _screening_record(run: _Import, row: Row) -> Screening:
    """A screening as the file gives it: no identifying fields, the inclusion criteria
    met, every evidence date the screening date, eligibility by the protocol's rule."""
    outcome = screening_eligibility(
        row, age_min=settings.ELIGIBLE_AGE_MIN, age_max=settings.ELIGIBLE_AGE_MAX
    )
    if row["consented"]:
        consent_status = Screening.ConsentStatus.CONSENTED
    elif outcome.eligible:
        # The file cannot tell "declined" from "still awaiting consent", and an
        # imported screening should not sit on anyone's to-do list.
        consent_status = Screening.ConsentStatus.DECLINED
    else:
        consent_status = Screening.ConsentStatus.NOT_ELIGIBLE
    declined = consent_status == Screening.ConsentStatus.DECLINED
    return Screening(
        screening_id=row["screening_id"],
        site=run.site,
        screening_date=row["screening_date"],
        initials="",
        hospital_number="",
        date_of_birth=None,
        sex=Sex.FEMALE,
        confirmed_diagnosis=True,
        scheduled_procedure_date=None,
        age_at_screening=row["age"],
        eligible=outcome.eligible,
        failed_criteria=list(outcome.failed),
        consent_status=consent_status,
        decline_reason=DECLINE_REASON if declined else "",
        screened_by=run.user,
        imported=True,
        **{key: row[key] for key in EXCLUSION_CRITERIA},
        **{f"{key}_date": row["screening_date"] for key in ANSWERED_CRITERIA},
    )


def _import_screenings(run: _Import, rows: list[tuple[int, Row]]) -> list[Screening]:
    screenings = [_screening_record(run, row) for _number, row in rows]
    run.write(screenings, count="screenings")
    return screenings


# --------------------------------------------------------------------------- participants


def _imported_consent_form(validated: Validated) -> ConsentFormVersion:
    """The consent form version imported participants signed: one, marked imported."""
    consent_dates = [row["consent_date"] for _n, row in validated.participants]
    form_version, _created = ConsentFormVersion.objects.get_or_create(
        version=IMPORTED_CONSENT_FORM,
        defaults={
            "approved_on": min(consent_dates, default=timezone.localdate()),
            "active": False,
        },
    )
    return form_version


def _import_participants(
    run: _Import,
    validated: Validated,
    screenings: list[Screening],
    form_version: ConsentFormVersion,
) -> dict[str, Participant]:
    participant_rows = {row["study_id"]: row for _n, row in validated.participants}
    participants: dict[str, Participant] = {}
    for screening, (_number, row) in zip(screenings, validated.screenings, strict=True):
        if not row["consented"]:
            continue
        p_row = participant_rows[row["study_id"]]
        participants[row["study_id"]] = Participant(
            study_id=row["study_id"],
            site=run.site,
            screening=screening,
            consent_date=p_row["consent_date"],
            consent_form_version=form_version,
            consent_taken_by=run.user,
            signed_form_filed=True,
            status=p_row["status"],
            status_date=p_row["status_date"],
            status_reason=p_row["status_reason"] or "",
        )
    run.write(list(participants.values()), count="participants")
    return participants


def _baseline_record(run: _Import, participant: Participant, p_row: Row) -> Baseline:
    return Baseline(
        participant=participant,
        comorbidity_list="",
        recorded_by=run.user,
        bmi=body_mass_index(height_cm=p_row["height_cm"], weight_kg=p_row["weight_kg"]),
        **{name: p_row[name] for name in BASELINE_COLUMNS},
    )


def _allocation_record(participant: Participant, p_row: Row) -> Allocation:
    """An allocation marked imported: no sealed-list slot, the arm sealed on the row."""
    return Allocation(
        participant=participant,
        slot=None,
        pack_code=p_row["pack_code"],
        randomized_on=p_row["randomization_date"],
        randomized_by=None,
        imported_arm_token=seal({"arm": p_row["arm"]}),
    )


def _import_baselines_and_allocations(
    run: _Import, rows: list[tuple[int, Row]], participants: dict[str, Participant]
) -> dict[tuple[str, str], Visit]:
    """Write baselines and allocations; returns the follow-up visits planned (unsaved)
    from each procedure date, by (study id, visit)."""
    participant_rows = {row["study_id"]: row for _n, row in rows}
    baselines, allocations = [], []
    visits: dict[tuple[str, str], Visit] = {}
    for study_id, participant in participants.items():
        p_row = participant_rows[study_id]
        if p_row["procedure_date"] is not None:
            baselines.append(_baseline_record(run, participant, p_row))
            for visit in visits_planned(
                participant=participant, procedure_date=p_row["procedure_date"], today=run.today
            ):
                visit.status_changed_at = run.now
                visits[study_id, visit.code] = visit
        if p_row["arm"] is not None:
            allocations.append(_allocation_record(participant, p_row))
    run.write(baselines, count="baselines")
    run.write(allocations, count="allocations")
    return visits


# --------------------------------------------------------------------------- visits


def _mark_done(visit: Visit, done_on: date, today: date) -> None:
    """Done on ``done_on``: in or out of its window as ``followup.windows`` decides."""
    window = windows.VisitWindow(visit.target_date, visit.window_opens, visit.window_closes)
    state = windows.visit_state(
        window=window, today=today, done_on=done_on, missed=False, not_applicable=False
    )
    visit.done_on = done_on
    visit.status = VisitStatus(state.value)
    out_of_window = state == windows.VisitState.DONE_OUT_OF_WINDOW
    visit.out_of_window_reason = OUT_OF_WINDOW_REASON if out_of_window else ""


def _close_if_off_study(visit: Visit, participant: Participant) -> None:
    """Leave an open visit of a participant no longer on study as status_change would."""
    if participant.status == ParticipantStatus.ON_STUDY or visit.status in _CLOSED:
        return
    if participant.status == ParticipantStatus.COMPLETED:
        visit.status = VisitStatus.MISSED
        visit.missed_reason = record_text.NOT_DONE_BEFORE_COMPLETION % {
            "date": participant.status_date.isoformat()
        }
    else:
        visit.status = VisitStatus.NOT_APPLICABLE


def _import_visits(
    run: _Import,
    rows: list[tuple[int, Row]],
    visits: dict[tuple[str, str], Visit],
    participants: dict[str, Participant],
) -> None:
    """Write the planned visits: done where visits.csv has the visit, the open ones of a
    participant off study closed."""
    follow_up = follow_up_visits()
    for _number, row in rows:
        visit = visits.get((row["study_id"], row["visit"]))
        if row["visit"] in follow_up and visit is not None:
            _mark_done(visit, row["visit_date"], run.today)
            run.counts["visits_done"] += 1
    for (study_id, _code), visit in visits.items():
        _close_if_off_study(visit, participants[study_id])
    run.write(list(visits.values()))


# --------------------------------------------------------------------------- questionnaires


def _response_record(
    run: _Import,
    participant: Participant,
    row: Row,
    key: str,
    instrument: Instrument,
    how: Mapping[str, Any],
) -> Response:
    """One questionnaire of a visit row, scored; given as administrations.csv says,
    else in person, in English, on the visit date."""
    present = instrument_answers(instrument, row)
    answers = {item.key: present.get(item.key) for item in instrument.items}
    scores = instrument.score(answers)
    return Response(
        participant=participant,
        visit=row["visit"],
        instrument=key,
        administered_on=how.get("administered_on", row["visit_date"]),
        mode=how.get("mode", Mode.IN_PERSON),
        language=how.get("language", "en"),
        answers=answers,
        scores={k: v for k, v in scores.items() if k != "scoring_version"},
        scoring_version=scores["scoring_version"],
        items_not_answered=any(
            item.required and answers[item.key] is None for item in instrument.items
        ),
        entered_by=run.user,
    )


def _responses_of(
    run: _Import,
    rows: list[tuple[int, Row]],
    participants: dict[str, Participant],
    given: Mapping[tuple[str, str, str], Row],
    all_instruments: Mapping[str, Instrument],
) -> tuple[list[Response], list[SafetyAlert]]:
    """The questionnaires the rows answer, and the safety alerts they raise."""
    responses, alerts = [], []
    for _number, row in rows:
        participant = participants[row["study_id"]]
        for key, instrument in all_instruments.items():
            if not instrument_answers(instrument, row):
                continue
            how = given.get((row["study_id"], row["visit"], key), {})
            response = _response_record(run, participant, row, key, instrument, how)
            responses.append(response)
            alert = safety_alert_for(response)
            if alert is not None:
                alerts.append(alert)
    return responses, alerts


def _import_responses(
    run: _Import, validated: Validated, participants: dict[str, Participant]
) -> None:
    given = {
        (row["study_id"], row["visit"], row["instrument"]): row
        for _number, row in validated.administrations
    }
    all_instruments = instruments()
    rows = validated.visits
    for first in range(0, len(rows), _RESPONSE_CHUNK):
        chunk = rows[first : first + _RESPONSE_CHUNK]
        responses, alerts = _responses_of(run, chunk, participants, given, all_instruments)
        run.write(responses, count="responses")
        run.write(alerts, count="safety_alerts")


# --------------------------------------------------------------------------- adverse events


def _import_adverse_events(
    run: _Import, rows: list[tuple[int, Row]], participants: dict[str, Participant]
) -> None:
    """The file has no SAE criterion or action taken: a serious event is medically
    important, and the action none."""
    events = [
        AdverseEvent(
            participant=participants[row["study_id"]],
            term=row["term"],
            onset_date=row["onset_date"],
            severity=row["severity"],
            serious=row["serious"],
            sae_criteria=["medically_important"] if row["serious"] else [],
            relatedness=row["relatedness"],
            action_taken="none",
            outcome=row["outcome"],
            reported_by=run.user,
        )
        for _number, row in rows
    ]
    run.write(events, count="adverse_events")


# --------------------------------------------------------------------------- counters, audit


def _id_number_pattern(fmt: str, site: Site) -> re.Pattern | None:
    """A regex that finds the number in ids made by ``fmt`` at ``site``."""
    parts = []
    for literal, field_name, _spec, _conversion in string.Formatter().parse(fmt):
        parts.append(re.escape(literal))
        if field_name is None:
            continue
        if field_name == "number":
            parts.append("(?P<number>[0-9]+)")
        elif field_name == "prefix":
            parts.append(re.escape(site.study_id_prefix))
        elif field_name == "site":
            parts.append(re.escape(site.code))
        else:
            return None
    return re.compile("".join(parts))


def _advance_counter(site: Site, kind: str, fmt: str, ids: Iterable[str]) -> None:
    pattern = _id_number_pattern(fmt, site)
    if pattern is None:
        return
    numbers = [int(match["number"]) for value in ids if (match := pattern.fullmatch(value))]
    if not numbers:
        return
    counter, _created = SequenceCounter.objects.select_for_update().get_or_create(
        site=site, kind=kind
    )
    if counter.last_number < max(numbers):
        counter.last_number = max(numbers)
        counter.save(update_fields=["last_number"])


def _advance_counters(
    site: Site, screenings: list[tuple[int, Row]], participants: dict[str, Participant]
) -> None:
    """Move the site's counters past the highest imported ids that fit its id formats,
    so later enrolments do not collide with them."""
    _advance_counter(
        site,
        SequenceCounter.Kind.SCREENING,
        settings.SCREENING_ID_FORMAT,
        [row["screening_id"] for _n, row in screenings],
    )
    _advance_counter(
        site, SequenceCounter.Kind.STUDY_ID, settings.STUDY_ID_FORMAT, list(participants)
    )


def _audit_import(run: _Import, source: str) -> None:
    os_user = getpass.getuser()
    audit_event(
        user=run.user,
        model="analysis.TrialDataImport",
        summary=(
            f"Trial data imported from {source or 'interchange files'} by OS user {os_user}: "
            + ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in run.counts.items())
        ),
        changes={"os_user": os_user, "source": source, "site": run.site.code, **run.counts},
    )


def _refresh_planner_statistics() -> None:
    # The tables have just grown from nothing: refresh the planner's statistics now
    # rather than at autovacuum's next visit, or the first pages plan for empty tables
    # (measured at 10,000 participants: the participant page 164 ms before, 35 ms after).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
