"""Write layer of questionnaire capture: responses, corrections, rescoring, safety alerts.

Scores are always computed here from the answers (never typed in) and stored
with the scoring version. A PHQ-9 response with ``item9_alert`` creates its
safety alert in the same transaction and notifies investigators once the
transaction has committed.

The entry rules are checked here for every entry and correction, whoever calls:
a required item left blank (unless the participant did not answer some items),
the PSQI 5j reason when 5j is rated, and soft queries (implausible sleep times),
which are stored only once confirmed. Errors are keyed by item (``confirm_queries``
for the queries), so the form shows them beside its fields; the form asks the
same functions before posting (``answer_problems``, ``soft_queries``,
``unconfirmed_queries``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trial import record_text
from trial.audit import audit_event
from trial.locks import lock_one
from trial.selectors import check_participant_access
from trial.text import required_text
from trial.versions import check_unchanged, token_for

from . import scoring
from .codebook import codebook_csv
from .definitions import instrument as get_instrument
from .models import Response, SafetyAlert

ADMINISTERED_IN_FUTURE = _("The date cannot be in the future.")
ADMINISTERED_BEFORE_CONSENT = _("The questionnaire cannot be dated before consent.")
ALREADY_ENTERED = _("This questionnaire was already entered for this visit; correct it instead.")
REASON_REQUIRED = _("A reason for the change is required.")
NOTHING_CHANGED = _("Nothing was changed.")
NOTE_REQUIRED = _("Say what was done about the alert.")
ALREADY_ACKNOWLEDGED = _("This alert was already acknowledged.")
ITEM_REQUIRED = _("Answer this item, or tick that some items were not answered.")
PSQI_5J_TEXT_REQUIRED = _("Describe the other reason when 5j is rated above 0.")
QUERIES_NOT_CONFIRMED = _("Please check: %(queries)s")
QUERY_BED_EQUALS_GETTING_UP = _("Bed time equals getting-up time: time in bed cannot be computed.")
QUERY_TIME_IN_BED_SHORT = _("Time in bed is under 3 hours.")
QUERY_TIME_IN_BED_LONG = _("Time in bed is over 16 hours.")
QUERY_EFFICIENCY_OVER_100 = _("Hours of sleep exceed time in bed (sleep efficiency over 100 %).")


@dataclass(frozen=True)
class Administration:
    administered_on: date
    mode: str
    language: str = "en"
    queries_confirmed: tuple[str, ...] = ()
    items_not_answered: bool = False


def answer_problems(
    *, instrument: str, answers: dict[str, Any], items_not_answered: bool
) -> dict[str, list[str]]:
    """Hard errors scoring does not see, by item: a required item left blank (allowed
    only when the participant did not answer some items) and PSQI 5j rated above 0
    without the other reason described. An item missing from ``answers`` is blank."""
    problems: dict[str, list[str]] = {}
    if not items_not_answered:
        for item in get_instrument(instrument).items:
            if item.required and answers.get(item.key) is None:
                problems[item.key] = [str(ITEM_REQUIRED)]
    described = str(answers.get("psqi_5j_text") or "").strip()
    if instrument == "psqi" and (answers.get("psqi_5j") or 0) > 0 and not described:
        problems["psqi_5j_text"] = [str(PSQI_5J_TEXT_REQUIRED)]
    return problems


def soft_queries(instrument_key: str, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """Warnings that do not stop a save but need a confirmation: (code, message)."""
    if instrument_key != "psqi":
        return []
    queries = []
    bed = scoring.psqi_time_in_bed_minutes(answers)
    if answers.get("psqi_1") and answers.get("psqi_1") == answers.get("psqi_3"):
        queries.append(("bed_equals_getting_up", str(QUERY_BED_EQUALS_GETTING_UP)))
    if bed is not None and bed < 180:
        queries.append(("time_in_bed_short", str(QUERY_TIME_IN_BED_SHORT)))
    if bed is not None and bed > 16 * 60:
        queries.append(("time_in_bed_long", str(QUERY_TIME_IN_BED_LONG)))
    sleep = scoring.psqi_sleep_minutes(answers)
    if bed and sleep is not None and sleep > bed:
        queries.append(("efficiency_over_100", str(QUERY_EFFICIENCY_OVER_100)))
    return queries


def unconfirmed_queries(
    queries: list[tuple[str, str]], *, confirmed: Collection[str]
) -> dict[str, list[str]]:
    """The error for the soft queries raised but not confirmed (empty when none)."""
    open_queries = [message for code, message in queries if code not in confirmed]
    if not open_queries:
        return {}
    return {"confirm_queries": [str(QUERIES_NOT_CONFIRMED) % {"queries": " ".join(open_queries)}]}


def _score(instrument_key: str, answers: dict[str, Any]) -> dict[str, Any]:
    instrument = get_instrument(instrument_key)
    unknown = sorted(set(answers) - set(instrument.item_keys))
    if unknown:
        raise ValidationError(f"Unknown items for {instrument_key}: {', '.join(unknown)}")
    try:
        return instrument.score(answers)
    except scoring.ScoringError as error:
        key = getattr(error, "key", None) or "__all__"
        raise ValidationError({key: [str(error)]}) from error


def _checked_scores(
    instrument_key: str, answers: dict[str, Any], administration: Administration
) -> dict[str, Any]:
    """The scores of answers that meet every entry rule, in the order the form checks
    them: hard errors, then scoring, then the soft queries."""
    problems = answer_problems(
        instrument=instrument_key,
        answers=answers,
        items_not_answered=administration.items_not_answered,
    )
    if problems:
        raise ValidationError(problems)
    scores = _score(instrument_key, answers)
    unconfirmed = unconfirmed_queries(
        soft_queries(instrument_key, answers), confirmed=administration.queries_confirmed
    )
    if unconfirmed:
        raise ValidationError(unconfirmed)
    return scores


def _check_dates(*, participant, administered_on: date) -> None:
    if administered_on > timezone.localdate():
        raise ValidationError({"administered_on": [ADMINISTERED_IN_FUTURE]})
    if administered_on < participant.consent_date:
        raise ValidationError({"administered_on": [ADMINISTERED_BEFORE_CONSENT]})


def safety_alert_for(response: Response) -> SafetyAlert | None:
    """The safety alert a response raises, unsaved, or None: a PHQ-9 whose scores
    carry ``item9_alert``. Entry and the trial-data import both decide it here."""
    if response.instrument != "phq9" or not response.scores.get("item9_alert"):
        return None
    return SafetyAlert(
        response=response,
        participant=response.participant,
        item9_value=response.answers.get("phq9_9"),
    )


def _raise_alert_if_needed(response: Response, by) -> SafetyAlert | None:
    alert = safety_alert_for(response)
    if alert is None or SafetyAlert.objects.filter(response=response).exists():
        return None
    alert._history_user = by
    alert.save()

    from .tasks import notify_safety_alert

    transaction.on_commit(lambda: notify_safety_alert.delay(alert.pk))
    return alert


def _require_entry(by) -> None:
    if not by.has_perm("questionnaires.enter_response"):
        raise PermissionDenied


def response_record(
    *,
    participant,
    visit: str,
    instrument: str,
    answers: dict[str, Any],
    administration: Administration,
    by,
) -> Response:
    """Enter a questionnaire for a visit: check the entry rules, score it, store it,
    raise any safety alert.

    One transaction; the unique constraint (participant, visit, instrument)
    refuses a second entry, which must be a correction instead.
    """
    _require_entry(by)
    check_participant_access(participant=participant, user=by)
    _check_dates(participant=participant, administered_on=administration.administered_on)
    scores = _checked_scores(instrument, answers, administration)
    with transaction.atomic():
        if (
            Response.objects.select_for_update()
            .filter(participant=participant, visit=visit, instrument=instrument)
            .exists()
        ):
            raise ValidationError(ALREADY_ENTERED)
        response = Response(
            participant=participant,
            visit=visit,
            instrument=instrument,
            administered_on=administration.administered_on,
            mode=administration.mode,
            language=administration.language,
            answers=answers,
            scores={k: v for k, v in scores.items() if k != "scoring_version"},
            scoring_version=scores["scoring_version"],
            queries_confirmed=list(administration.queries_confirmed),
            items_not_answered=administration.items_not_answered,
            entered_by=by,
        )
        response._history_user = by
        response.full_clean(exclude=["participant", "entered_by"])
        response.save()
        _raise_alert_if_needed(response, by)
    return response


def response_state(response: Response) -> dict[str, Any]:
    """What a correction form edits, item by item (``trial.versions`` compares it)."""
    items = get_instrument(response.instrument).items
    return {
        "administered_on": response.administered_on.isoformat(),
        "mode": response.mode,
        "items_not_answered": response.items_not_answered,
        **{item.key: response.answers.get(item.key) for item in items},
    }


def response_version(response: Response) -> str:
    return token_for(response_state(response))


def response_correct(
    *,
    response: Response,
    answers: dict[str, Any],
    administration: Administration,
    reason: str,
    by,
    version: str | None = None,
) -> Response:
    """Correct an entered questionnaire; needs a reason; held to the entry rules;
    rescored; never deletes an alert; refused when the form's ``version`` is older
    than the response."""
    _require_entry(by)
    check_participant_access(participant=response.participant, user=by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    _check_dates(participant=response.participant, administered_on=administration.administered_on)
    scores = _checked_scores(response.instrument, answers, administration)
    with transaction.atomic():
        locked = lock_one(Response.objects.filter(pk=response.pk).select_related("participant"))
        check_unchanged(version, response_state(locked))
        new_values = {
            "administered_on": administration.administered_on,
            "mode": administration.mode,
            "language": administration.language,
            "answers": answers,
            "scores": {k: v for k, v in scores.items() if k != "scoring_version"},
            "scoring_version": scores["scoring_version"],
            "queries_confirmed": list(administration.queries_confirmed),
            "items_not_answered": administration.items_not_answered,
        }
        if all(getattr(locked, name) == value for name, value in new_values.items()):
            raise ValidationError(NOTHING_CHANGED)
        for name, value in new_values.items():
            setattr(locked, name, value)
        locked._history_user = by
        locked._change_reason = reason
        locked.save()
        _raise_alert_if_needed(locked, by)
    return locked


@dataclass(frozen=True)
class Rescored:
    response: Response
    old_version: str
    new_version: str
    changes: dict[str, list[Any]]


def response_rescore(*, response: Response, by, reason: str) -> Rescored | None:
    """Recompute scores with the current scoring version; None when nothing changes."""
    if not by.has_perm("questionnaires.rescore_responses"):
        raise PermissionDenied
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    scores = _score(response.instrument, response.answers)
    new_scores = {k: v for k, v in scores.items() if k != "scoring_version"}
    with transaction.atomic():
        locked = lock_one(Response.objects.filter(pk=response.pk))
        if locked.scores == new_scores and locked.scoring_version == scores["scoring_version"]:
            return None
        changes = {
            key: [locked.scores.get(key), new_scores.get(key)]
            for key in sorted(set(locked.scores) | set(new_scores))
            if locked.scores.get(key) != new_scores.get(key)
        }
        result = Rescored(
            response=locked,
            old_version=locked.scoring_version,
            new_version=scores["scoring_version"],
            changes=changes,
        )
        locked.scores = new_scores
        locked.scoring_version = scores["scoring_version"]
        locked._history_user = by
        locked._change_reason = f"Rescored ({result.old_version} -> {result.new_version}): {reason}"
        locked.save(update_fields=["scores", "scoring_version"])
        _raise_alert_if_needed(locked, by)
    return result


def alert_acknowledge(*, alert: SafetyAlert, note: str, by) -> SafetyAlert:
    """An investigator closes an alert with a note of what was done."""
    if not by.has_perm("questionnaires.acknowledge_alert"):
        raise PermissionDenied
    note = required_text(note, field="note", message=NOTE_REQUIRED)
    with transaction.atomic():
        locked = lock_one(SafetyAlert.objects.filter(pk=alert.pk).select_related("participant"))
        check_participant_access(participant=locked.participant, user=by)
        if locked.acknowledged_at is not None:
            raise ValidationError(ALREADY_ACKNOWLEDGED)
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = by
        locked.acknowledgement_note = note
        locked._history_user = by
        locked._change_reason = record_text.ACKNOWLEDGED
        locked.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_note"])
    return locked


def codebook_download(*, by) -> str:
    """The codebook as CSV (English, like the exports it labels), its download recorded."""
    if not by.has_perm("questionnaires.view_codebook"):
        raise PermissionDenied
    with transaction.atomic():
        audit_event(user=by, model="questionnaires.Codebook", summary="Codebook downloaded")
    return codebook_csv()
