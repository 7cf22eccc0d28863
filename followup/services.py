"""Write layer of follow-up: the schedule, visit outcomes, calls, adverse events, status.

Visit windows come from the pure ``windows`` module and the configured
schedule; states are stored so worklists are one indexed query, and are kept
current by these services and the daily beat task (``visits_refresh``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from questionnaires.visits import trial_schedule, visit_label
from randomization.crypto import seal_document
from trial import record_text
from trial.audit import audit_event
from trial.locks import lock_first, lock_one, lock_rows
from trial.models import Participant, ParticipantStatus
from trial.selectors import check_participant_access
from trial.services import participant_status_set
from trial.text import optional_text, required_text
from trial.versions import check_unchanged, state_of, token_for

from . import windows
from .models import (
    OPEN_STATUSES,
    SAE_CRITERIA,
    Adherence,
    AdverseEvent,
    AssessorExclusion,
    ContactAttempt,
    ContactDetails,
    ContactOutcome,
    PhoneInterview,
    StatusEvent,
    Visit,
    VisitStatus,
)

OUT_OF_WINDOW_REASON_REQUIRED = _("The visit is outside its window: give the reason.")
DONE_IN_FUTURE = _("The visit date cannot be in the future.")
DONE_BEFORE_PROCEDURE = _("The visit date cannot be before the procedure.")
INSTRUMENTS_OUTSTANDING = _("These questionnaires are still to be entered: %(list)s.")
VISIT_CLOSED = _("This visit is already closed (%(status)s).")
MISSED_REASON_REQUIRED = _("Give the reason the visit was missed.")
CALL_BACK_TIME_REQUIRED = _("Give the time to call back.")
ATTEMPT_IN_FUTURE = _("A contact attempt cannot be in the future.")
CALL_ENDS_BEFORE_START = _("The call cannot end before it started.")
CALL_IN_FUTURE = _("The call cannot be in the future.")
UNBLINDING_NOTE_REQUIRED = _("Say how the allocation became known.")
ASSESSOR_EXCLUDED = _("You became unblinded for this participant; another assessor makes the call.")
AE_END_BEFORE_ONSET = _("The end date cannot be before the onset.")
AE_ONSET_IN_FUTURE = _("The onset cannot be in the future.")
AE_CRITERIA_REQUIRED = _("A serious adverse event needs at least one seriousness criterion.")
AE_CRITERIA_ONLY_IF_SERIOUS = _("Seriousness criteria apply only to a serious event.")
AE_NOT_SERIOUS = _("Only serious adverse events need an investigator's review.")
AE_ALREADY_REVIEWED = _("This event was already reviewed.")
REVIEW_NOTE_REQUIRED = _("Write the review.")
REASON_REQUIRED = _("A reason for the change is required.")
NOTHING_CHANGED = _("Nothing was changed.")
STATUS_NOT_ON_STUDY = _("The participant is no longer on study.")
WITHDRAWAL_DETAILS_REQUIRED = _(
    "Say who decided the withdrawal and whether the data collected so far may be used."
)
EXCLUSION_NEEDS_INVESTIGATOR = _("A post-randomization exclusion needs an investigator's decision.")
# The last visit of the schedule (the protocol's 6 months).
COMPLETION_BEFORE_LAST_VISIT = _("Completion needs the last visit (%(visit)s) done.")
STATUS_REASON_REQUIRED = _("Give the reason.")
STATUS_DATE_IN_FUTURE = _("The date cannot be in the future.")
RETURNED_TOO_MANY = _("At most 300 cachets (5 boxes of 60) can be returned.")
ADHERENCE_RECORDED = _("Adherence was already recorded for this participant.")

_TERMINAL = {
    VisitStatus.DONE,
    VisitStatus.DONE_OUT_OF_WINDOW,
    VisitStatus.MISSED,
    VisitStatus.NOT_APPLICABLE,
}


def schedule() -> windows.Schedule:
    """The configured visit schedule (FOLLOWUP_SCHEDULE, JSON), else the protocol's."""
    return trial_schedule()


def _failed_attempts(visit: Visit) -> list[windows.ContactAttempt]:
    return [
        (a.attempted_at, windows.ContactOutcome(a.outcome)) for a in visit.contact_attempts.all()
    ]


def _window(visit: Visit) -> windows.VisitWindow:
    return windows.VisitWindow(visit.target_date, visit.window_opens, visit.window_closes)


def _state_today(visit: Visit, today: date) -> VisitStatus:
    return VisitStatus(
        windows.visit_state(
            window=_window(visit),
            today=today,
            done_on=visit.done_on,
            missed=visit.status == VisitStatus.MISSED,
            not_applicable=visit.status == VisitStatus.NOT_APPLICABLE,
        ).value
    )


def _set_status(visit: Visit, status: VisitStatus, *, by=None, reason: str = "") -> bool:
    if visit.status == status:
        return False
    windows.check_transition(visit.status, status)
    visit.status = status
    visit.status_changed_at = timezone.now()
    visit._history_user = by
    if reason:
        visit._change_reason = reason
    return True


def _plan(visit: Visit, definition: windows.VisitDefinition, procedure_date: date) -> None:
    """Set a visit's label, window and forms from its definition and the procedure date."""
    window = windows.visit_window(procedure_date, definition)
    visit.label = definition.label
    visit.target_date, visit.window_opens, visit.window_closes = (
        window.target,
        window.opens,
        window.closes,
    )
    visit.instruments = list(definition.instruments)
    visit.extra_forms = list(definition.extra_forms)
    visit.by_telephone = True


def visits_planned(*, participant: Participant, procedure_date: date, today: date) -> list[Visit]:
    """The participant's follow-up visits scheduled from the procedure date, unsaved,
    in their state on ``today`` (the trial-data import saves them in bulk)."""
    planned = []
    for definition in schedule().visits:
        if definition.months == 0:
            continue  # baseline is the enrolment itself, before the procedure
        visit = Visit(participant=participant, code=definition.code)
        _plan(visit, definition, procedure_date)
        visit.status = _state_today(visit, today)
        planned.append(visit)
    return planned


def visits_schedule(*, participant: Participant, procedure_date: date, by) -> list[Visit]:
    """Create the participant's follow-up visits from the procedure date, or move the
    windows of those not yet done when the date changes (audited as history)."""
    today = timezone.localdate()
    result = []
    for definition in schedule().visits:
        if definition.months == 0:
            continue  # baseline is the enrolment itself, before the procedure
        visit = lock_first(Visit.objects.filter(participant=participant, code=definition.code))
        if visit is None:
            visit = Visit(participant=participant, code=definition.code)
        elif visit.status in _TERMINAL:
            result.append(visit)
            continue
        _plan(visit, definition, procedure_date)
        visit.status = _state_today(visit, today)
        visit._history_user = by
        visit._change_reason = record_text.SCHEDULED_FROM % {"date": procedure_date.isoformat()}
        visit.save()
        result.append(visit)
    return result


def visits_refresh(*, today: date | None = None) -> int:
    """Bring every open visit's state up to date (upcoming → due → overdue), and mark
    as missed those with enough failed contact attempts in a closed window. Returns
    how many changed; running it twice changes nothing the second time."""
    today = today or timezone.localdate()
    changed = 0
    grace = settings.FOLLOWUP_MISSED_AFTER_DAYS
    visits = Visit.objects.filter(status__in=OPEN_STATUSES).prefetch_related("contact_attempts")
    for visit in visits.iterator(chunk_size=500):
        with transaction.atomic():
            new = _state_today(visit, today)
            reason = ""
            if new == VisitStatus.OVERDUE:
                tz = timezone.get_current_timezone()
                if windows.suggest_missed(_failed_attempts(visit), _window(visit), tz=tz):
                    new, reason = VisitStatus.MISSED, record_text.THREE_FAILED_ATTEMPTS
                elif (today - visit.window_closes).days > grace:
                    new, reason = (
                        VisitStatus.MISSED,
                        f"No contact within {grace} days of the window",
                    )
            if new == VisitStatus.MISSED:
                visit.missed_reason = reason
            if _set_status(visit, new, reason=reason or "Daily visit-state update"):
                visit.save()
                changed += 1
    return changed


def _instrument_name(key: str) -> str:
    """The questionnaire's short name (SF-MPQ, PHQ-9), not its key (sf_mpq, phq9)."""
    from questionnaires.models import InstrumentKey

    return InstrumentKey(key).label if key in InstrumentKey.values else key


def _outstanding_instruments(visit: Visit) -> list[str]:
    from questionnaires.models import Response

    entered = set(
        Response.objects.filter(participant=visit.participant, visit=visit.code).values_list(
            "instrument", flat=True
        )
    )
    return [key for key in visit.instruments if key not in entered]


def visit_complete(*, visit: Visit, done_on: date, by, out_of_window_reason: str = "") -> Visit:
    """Close a visit as done (or done out of window, flagged, with a reason)."""
    if not (by.has_perm("followup.record_visit") or by.has_perm("followup.conduct_interview")):
        raise PermissionDenied
    check_participant_access(participant=visit.participant, user=by)
    errors: dict[str, list] = {}
    if done_on > timezone.localdate():
        errors["done_on"] = [DONE_IN_FUTURE]
    out_of_window = not (visit.window_opens <= done_on <= visit.window_closes)
    out_of_window_reason = optional_text(out_of_window_reason, field="out_of_window_reason")
    if out_of_window and not out_of_window_reason:
        errors["out_of_window_reason"] = [OUT_OF_WINDOW_REASON_REQUIRED]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_one(Visit.objects.filter(pk=visit.pk).select_related("participant"))
        if locked.status in (
            VisitStatus.DONE,
            VisitStatus.DONE_OUT_OF_WINDOW,
            VisitStatus.NOT_APPLICABLE,
        ):
            raise ValidationError(VISIT_CLOSED % {"status": locked.get_status_display()})
        outstanding = _outstanding_instruments(locked)
        if outstanding:
            names = ", ".join(_instrument_name(key) for key in outstanding)
            raise ValidationError(INSTRUMENTS_OUTSTANDING % {"list": names})
        locked.done_on = done_on
        locked.out_of_window_reason = out_of_window_reason if out_of_window else ""
        _set_status(
            locked,
            VisitStatus.DONE_OUT_OF_WINDOW if out_of_window else VisitStatus.DONE,
            by=by,
            reason=out_of_window_reason,
        )
        locked.save()
    return locked


def visit_mark_missed(*, visit: Visit, reason: str, by) -> Visit:
    if not by.has_perm("followup.record_visit"):
        raise PermissionDenied
    check_participant_access(participant=visit.participant, user=by)
    reason = required_text(reason, field="reason", message=MISSED_REASON_REQUIRED)
    with transaction.atomic():
        locked = lock_one(Visit.objects.filter(pk=visit.pk))
        if locked.status not in OPEN_STATUSES:
            raise ValidationError(VISIT_CLOSED % {"status": locked.get_status_display()})
        locked.missed_reason = reason
        _set_status(locked, VisitStatus.MISSED, by=by, reason=reason)
        locked.save()
    return locked


@dataclass(frozen=True)
class AttemptResult:
    attempt: ContactAttempt
    suggest_missed: bool


def contact_attempt_record(
    *, visit: Visit, attempted_at: datetime, outcome: str, by, call_back_at=None, note: str = ""
) -> AttemptResult:
    """Log one call attempt; say whether the failed attempts now suggest 'missed'."""
    if not (by.has_perm("followup.conduct_interview") or by.has_perm("followup.record_visit")):
        raise PermissionDenied
    check_participant_access(participant=visit.participant, user=by)
    note = optional_text(note, field="note")
    errors: dict[str, list] = {}
    if attempted_at > timezone.now():
        errors["attempted_at"] = [ATTEMPT_IN_FUTURE]
    if outcome == ContactOutcome.CALL_BACK and call_back_at is None:
        errors["call_back_at"] = [CALL_BACK_TIME_REQUIRED]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        attempt = ContactAttempt(
            visit=visit,
            attempted_at=attempted_at,
            outcome=outcome,
            call_back_at=call_back_at if outcome == ContactOutcome.CALL_BACK else None,
            note=note,
            by=by,
        )
        attempt._history_user = by
        attempt.save()
    suggestion = windows.suggest_missed(
        _failed_attempts(visit), _window(visit), tz=timezone.get_current_timezone()
    )
    return AttemptResult(attempt=attempt, suggest_missed=suggestion)


def interview_record(
    *,
    visit: Visit,
    started_at: datetime,
    ended_at: datetime,
    disrupted: bool,
    remained_blind: bool,
    by,
    disruption_note: str = "",
    unblinding_note: str = "",
    out_of_window_reason: str = "",
) -> PhoneInterview:
    """Record the assessor's call and, when every questionnaire due has been entered,
    close the visit as done on the day of the call (one transaction).

    If the assessor says they learned the allocation, the visit is flagged
    (the DSMB report counts it) and later calls go to another assessor."""
    if not by.has_perm("followup.conduct_interview"):
        raise PermissionDenied
    check_participant_access(participant=visit.participant, user=by)
    errors: dict[str, list] = {}
    if ended_at < started_at:
        errors["ended_at"] = [CALL_ENDS_BEFORE_START]
    if started_at > timezone.now():
        errors["started_at"] = [CALL_IN_FUTURE]
    unblinding_note = optional_text(unblinding_note, field="unblinding_note")
    disruption_note = optional_text(disruption_note, field="disruption_note")
    out_of_window_reason = optional_text(out_of_window_reason, field="out_of_window_reason")
    if not remained_blind and not unblinding_note:
        errors["unblinding_note"] = [UNBLINDING_NOTE_REQUIRED]
    call_day = timezone.localtime(started_at).date()
    if not (visit.window_opens <= call_day <= visit.window_closes) and not out_of_window_reason:
        errors["out_of_window_reason"] = [OUT_OF_WINDOW_REASON_REQUIRED]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_one(Visit.objects.filter(pk=visit.pk).select_related("participant"))
        if locked.status not in OPEN_STATUSES and locked.status != VisitStatus.MISSED:
            raise ValidationError(VISIT_CLOSED % {"status": locked.get_status_display()})
        if AssessorExclusion.objects.filter(participant=locked.participant, assessor=by).exists():
            raise PermissionDenied(ASSESSOR_EXCLUDED)
        interview = PhoneInterview(
            visit=locked,
            assessor=by,
            started_at=started_at,
            ended_at=ended_at,
            disrupted=disrupted,
            disruption_note=disruption_note if disrupted else "",
            remained_blind=remained_blind,
            unblinding_note_token="" if remained_blind else seal_document(unblinding_note),
        )
        interview._history_user = by
        interview.save()
        if not remained_blind:
            AssessorExclusion.objects.create(
                participant=locked.participant, assessor=by, interview=interview
            )
            audit_event(
                user=by,
                model="followup.PhoneInterview",
                object_id=interview.pk,
                subject=locked.participant.study_id,
                summary="Assessor reported becoming unblinded; later calls go to another assessor",
            )
        if not _outstanding_instruments(locked):
            out_of_window = not (locked.window_opens <= call_day <= locked.window_closes)
            locked.done_on = call_day
            locked.out_of_window_reason = out_of_window_reason if out_of_window else ""
            _set_status(
                locked,
                VisitStatus.DONE_OUT_OF_WINDOW if out_of_window else VisitStatus.DONE,
                by=by,
                reason=record_text.INTERVIEW_COMPLETED,
            )
            locked.save()
    return interview


def contact_details_version(details: ContactDetails, fields) -> str:
    return token_for(state_of(details, fields))


def contact_details_save(
    *, participant: Participant, data: dict, by, reason: str = "", version: str | None = None
):
    """Enter or correct a participant's contact details (a correction needs a reason
    and is refused over a newer version than the form was loaded with)."""
    if not by.has_perm("followup.record_visit"):
        raise PermissionDenied
    check_participant_access(participant=participant, user=by)
    with transaction.atomic():
        lock_one(Participant.objects.filter(pk=participant.pk))
        details = ContactDetails.objects.filter(participant=participant).first()
        if details is None:
            details = ContactDetails(participant=participant, **data)
        else:
            reason = required_text(reason, field="reason", message=REASON_REQUIRED)
            check_unchanged(version, state_of(details, data))
            for key, value in data.items():
                setattr(details, key, value)
            details._change_reason = reason
        details._history_user = by
        details.full_clean(exclude=["participant"])
        details.save()
    return details


AE_FIELDS = (
    "term",
    "onset_date",
    "end_date",
    "severity",
    "serious",
    "sae_criteria",
    "relatedness",
    "action_taken",
    "outcome",
)


def _ae_errors(data: dict) -> dict[str, list]:
    errors: dict[str, list] = {}
    if data["onset_date"] > timezone.localdate():
        errors["onset_date"] = [AE_ONSET_IN_FUTURE]
    if data.get("end_date") and data["end_date"] < data["onset_date"]:
        errors["end_date"] = [AE_END_BEFORE_ONSET]
    criteria = list(data.get("sae_criteria") or [])
    known = {key for key, _label in SAE_CRITERIA}
    if set(criteria) - known:
        errors["sae_criteria"] = [f"Unknown criteria: {sorted(set(criteria) - known)}"]
    if data["serious"] and not criteria:
        errors["sae_criteria"] = [AE_CRITERIA_REQUIRED]
    if not data["serious"] and criteria:
        errors["sae_criteria"] = [AE_CRITERIA_ONLY_IF_SERIOUS]
    return errors


def adverse_event_record(*, participant: Participant, data: dict, by) -> AdverseEvent:
    """Record an adverse event; a serious one notifies investigators and the DSMB on commit."""
    if not by.has_perm("followup.record_adverse_event"):
        raise PermissionDenied
    check_participant_access(participant=participant, user=by)
    errors = _ae_errors(data)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        event = AdverseEvent(participant=participant, reported_by=by, **data)
        event._history_user = by
        event.full_clean(exclude=["participant", "reported_by"])
        event.save()
        if event.serious:
            from .tasks import notify_sae

            transaction.on_commit(lambda: notify_sae.delay(event.pk))
    return event


def adverse_event_version(event: AdverseEvent) -> str:
    return token_for(state_of(event, AE_FIELDS))


def adverse_event_update(
    *, event: AdverseEvent, data: dict, reason: str, by, version: str | None = None
) -> AdverseEvent:
    """Correct an adverse event (with a reason; refused over a newer version)."""
    if not by.has_perm("followup.record_adverse_event"):
        raise PermissionDenied
    check_participant_access(participant=event.participant, user=by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    errors = _ae_errors(data)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_one(AdverseEvent.objects.filter(pk=event.pk))
        check_unchanged(version, state_of(locked, AE_FIELDS))
        became_serious = data["serious"] and not locked.serious
        if all(getattr(locked, key) == value for key, value in data.items()):
            raise ValidationError(NOTHING_CHANGED)
        for key, value in data.items():
            setattr(locked, key, value)
        locked._history_user = by
        locked._change_reason = reason
        locked.save()
        if became_serious:
            from .tasks import notify_sae

            transaction.on_commit(lambda: notify_sae.delay(locked.pk))
    return locked


def adverse_event_review(*, event: AdverseEvent, note: str, by) -> AdverseEvent:
    """The investigator's review that every serious adverse event must have."""
    if not by.has_perm("followup.review_adverse_event"):
        raise PermissionDenied
    check_participant_access(participant=event.participant, user=by)
    note = required_text(note, field="note", message=REVIEW_NOTE_REQUIRED)
    with transaction.atomic():
        locked = lock_one(AdverseEvent.objects.filter(pk=event.pk))
        if not locked.serious:
            raise ValidationError(AE_NOT_SERIOUS)
        if locked.reviewed_at is not None:
            raise ValidationError(AE_ALREADY_REVIEWED)
        locked.reviewed_by, locked.reviewed_at = by, timezone.now()
        locked.review_note = note
        locked._history_user = by
        locked._change_reason = record_text.INVESTIGATOR_REVIEW
        locked.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
    return locked


_STATUS_FOR_KIND = {
    StatusEvent.Kind.WITHDRAWN: ParticipantStatus.WITHDRAWN,
    StatusEvent.Kind.LOST: ParticipantStatus.LOST_TO_FOLLOW_UP,
    StatusEvent.Kind.EXCLUDED: ParticipantStatus.EXCLUDED,
    StatusEvent.Kind.COMPLETED: ParticipantStatus.COMPLETED,
}


def status_change(
    *,
    participant: Participant,
    kind: str,
    effective_date: date,
    by,
    reason: str = "",
    decided_by: str = "",
    data_may_be_used: bool | None = None,
) -> StatusEvent:
    """Withdrawal, loss to follow-up, post-randomization exclusion or completion.

    Dated and audited; the participant's open visits become not applicable
    (completion needs the 6-month visit done). An exclusion is an
    investigator's decision, so only an investigator may record it.
    """
    if kind == StatusEvent.Kind.EXCLUDED:
        if not by.has_perm("followup.decide_exclusion"):
            raise PermissionDenied(EXCLUSION_NEEDS_INVESTIGATOR)
    elif not by.has_perm("followup.change_study_status"):
        raise PermissionDenied
    check_participant_access(participant=participant, user=by)
    errors: dict[str, list] = {}
    if effective_date > timezone.localdate():
        errors["effective_date"] = [STATUS_DATE_IN_FUTURE]
    reason = optional_text(reason, field="reason")
    if kind != StatusEvent.Kind.COMPLETED and not reason:
        errors["reason"] = [STATUS_REASON_REQUIRED]
    if kind == StatusEvent.Kind.WITHDRAWN and (not decided_by or data_may_be_used is None):
        errors.setdefault("decided_by", []).append(WITHDRAWAL_DETAILS_REQUIRED)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_one(Participant.objects.filter(pk=participant.pk))
        if locked.status != ParticipantStatus.ON_STUDY:
            raise ValidationError(STATUS_NOT_ON_STUDY)
        last = schedule().completion.code
        if (
            kind == StatusEvent.Kind.COMPLETED
            and not Visit.objects.filter(
                participant=locked,
                code=last,
                status__in=[VisitStatus.DONE, VisitStatus.DONE_OUT_OF_WINDOW],
            ).exists()
        ):
            raise ValidationError(COMPLETION_BEFORE_LAST_VISIT % {"visit": visit_label(last)})
        event = StatusEvent(
            participant=locked,
            kind=kind,
            effective_date=effective_date,
            reason=reason,
            decided_by=decided_by,
            data_may_be_used=data_may_be_used if kind == StatusEvent.Kind.WITHDRAWN else None,
            investigator=by if kind == StatusEvent.Kind.EXCLUDED else None,
            recorded_by=by,
        )
        event._history_user = by
        event.save()
        participant_status_set(
            participant=locked,
            status=_STATUS_FOR_KIND[StatusEvent.Kind(kind)],
            status_date=effective_date,
            reason=reason or record_text.english(StatusEvent.Kind(kind).label),
            by=by,
        )
        label = record_text.STATUS_ON % {
            "status": record_text.english(StatusEvent.Kind(kind).label),
            "date": effective_date.isoformat(),
        }
        for visit in lock_rows(Visit.objects.filter(participant=locked, status__in=OPEN_STATUSES)):
            # At completion an earlier visit left open was simply not done: missed.
            # After withdrawal, loss or exclusion the remaining visits do not apply.
            if kind == StatusEvent.Kind.COMPLETED:
                visit.missed_reason = record_text.NOT_DONE_BEFORE_COMPLETION % {
                    "date": effective_date.isoformat()
                }
                _set_status(visit, VisitStatus.MISSED, by=by, reason=label)
            else:
                _set_status(visit, VisitStatus.NOT_APPLICABLE, by=by, reason=label)
            visit.save()
    return event


def adherence_record(*, participant: Participant, counted_on: date, cachets_returned: int, by):
    """Cachets returned at 3 months and the share of the 12-week dose taken."""
    if not by.has_perm("followup.record_visit"):
        raise PermissionDenied
    check_participant_access(participant=participant, user=by)
    if cachets_returned > Adherence.DISPENSED:
        raise ValidationError({"cachets_returned": [RETURNED_TOO_MANY]})
    if counted_on > timezone.localdate():
        raise ValidationError({"counted_on": [DONE_IN_FUTURE]})
    taken = Adherence.DISPENSED - cachets_returned
    percent = (Decimal(taken) * 100 / Adherence.PRESCRIBED).quantize(Decimal("0.1"), ROUND_HALF_UP)
    with transaction.atomic():
        lock_one(Participant.objects.filter(pk=participant.pk))
        if Adherence.objects.filter(participant=participant).exists():
            raise ValidationError(ADHERENCE_RECORDED)
        record = Adherence(
            participant=participant,
            counted_on=counted_on,
            cachets_returned=cachets_returned,
            percent_taken=percent,
            recorded_by=by,
        )
        record._history_user = by
        record.save()
    return record
