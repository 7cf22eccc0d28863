"""Write layer of the participant core: screening, consent, enrolment and baseline.

Each service runs in one transaction, checks the domain rules itself (forms
only check shape), names who acted, and leaves history rows that the audit
trail mirrors. Error messages are module constants the tests assert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from . import record_text
from .audit import audit_event
from .eligibility import ANSWERED_CRITERIA, assess_eligibility
from .locks import lock_one
from .models import (
    Baseline,
    ConsentFormVersion,
    Participant,
    ParticipantStatus,
    Screening,
    SequenceCounter,
    Sex,
    Site,
)
from .text import optional_text, required_text
from .versions import check_unchanged, state_of, token_for

SCREENING_DATE_IN_FUTURE = _("The screening date cannot be in the future.")
BIRTH_AFTER_SCREENING = _("The date of birth must be before the screening date.")
PROCEDURE_BEFORE_SCREENING = _("The procedure date cannot be before the screening date.")
EVIDENCE_DATE_IN_FUTURE = _("The evidence date cannot be after the screening date.")
SITE_NOT_ALLOWED = _("You do not work at this site.")
NOT_ELIGIBLE_FOR_CONSENT = _("Only an eligible patient can be consented.")
ALREADY_DECIDED = _("Consent has already been recorded for this screening.")
CONSENT_BEFORE_SCREENING = _("Consent cannot be dated before the screening date.")
CONSENT_IN_FUTURE = _("Consent cannot be dated in the future.")
CONSENT_FORM_NOT_IN_USE = _("This consent form version is not in use.")
SIGNED_FORM_NOT_FILED = _("Confirm that the signed consent form is filed.")
DECLINE_REASON_REQUIRED = _("Give the reason the patient declined.")
DECLINE_BEFORE_SCREENING = _("The date cannot be before the screening date.")
DECLINE_IN_FUTURE = _("The date cannot be in the future.")
REASON_REQUIRED = _("A reason for the change is required.")
NOTHING_CHANGED = _("Nothing was changed.")
HEIGHT_OUT_OF_RANGE = _("Height must be between 120 and 220 cm.")
WEIGHT_OUT_OF_RANGE = _("Weight must be between 30 and 250 kg.")
VAS_OUT_OF_RANGE = _("The VAS must be between 0 and 100 mm.")
COMORBIDITY_LIST_REQUIRED = _("List the co-morbidities.")
COMORBIDITY_LIST_WITHOUT_COMORBIDITY = _(
    "Co-morbidities are listed but co-morbidity is answered no."
)
PROCEDURE_DATE_TOO_EARLY = _("The procedure date cannot be before the screening date.")
NOT_ALLOWED = _("Your role may not do this.")
ALREADY_ENROLLED = _(
    "This hospital number is already enrolled as %(study_id)s: one person has one study id. "
    "If this is a different person with the same number, an investigator must override, "
    "with the reason."
)
RESCREEN_NOT_CONFIRMED = _(
    "This hospital number was screened before. Check the earlier record, then confirm that "
    "this is a new screening episode."
)
OVERRIDE_REASON_REQUIRED = _("Give the reason this is a different person.")


def _today() -> date:
    return timezone.localdate()


def _next_number(*, site: Site, kind: str) -> int:
    """Take the next number of a site's sequence under a row lock.

    Must run inside the caller's transaction: the lock is held until commit,
    so two nurses enrolling at the same moment get consecutive numbers, and a
    rollback gives the number back (no gaps).
    """
    SequenceCounter.objects.get_or_create(site=site, kind=kind)
    counter = lock_one(SequenceCounter.objects.filter(site=site, kind=kind))
    counter.last_number += 1
    # The counter was read under its lock just now: saving every field is the same.
    counter.save(update_fields=["last_number"])  # pragma: no mutate
    return counter.last_number


def _require(by, permission: str) -> None:
    if not (by is not None and by.is_active and by.has_perm(permission)):
        raise PermissionDenied(NOT_ALLOWED)


def _check_site(*, site: Site, by) -> None:
    from .selectors import sites_for_user

    if not sites_for_user(user=by).filter(pk=site.pk).exists():
        raise ValidationError(SITE_NOT_ALLOWED)


def _enrolled_twin(*, site: Site, hospital_number: str, exclude_pk=None):
    """A consented screening of the same person (site and hospital number), if any."""
    if not hospital_number:
        return None
    twins = Screening.objects.annotate(number=Upper("hospital_number")).filter(
        site=site,
        number=hospital_number.upper(),
        consent_status=Screening.ConsentStatus.CONSENTED,
        duplicate_override_reason="",
    )
    if exclude_pk is not None:
        twins = twins.exclude(pk=exclude_pk)
    return twins.select_related("participant").first()  # pragma: no mutate (a join, no more)


@dataclass(frozen=True)
class ScreeningInput:
    """The nurse's screening answers, already shape-checked by the form."""

    screening_date: date
    initials: str
    hospital_number: str
    date_of_birth: date
    sex: str
    confirmed_diagnosis: bool
    scheduled_procedure_date: date
    answers: dict[str, bool]
    evidence_dates: dict[str, date]
    # The nurse has checked the earlier screening of this hospital number and this
    # is a new screening episode (re-screening a screen failure, say).
    rescreen_confirmed: bool = False
    # An investigator's statement that an enrolled hospital number now belongs to a
    # different person, with the reason (audited).
    duplicate_override_reason: str = ""


def screening_record(*, site: Site, data: ScreeningInput, by) -> Screening:
    """Record one screened patient, eligible or not, with every failed criterion.

    One person, one study id: a hospital number already enrolled at the site is
    refused (the database refuses a second consent too) unless an investigator
    overrides with a reason; a number screened before but not enrolled may be
    screened again once the nurse confirms it, and the new screening is linked
    to the one before. Allocates the site's next screening id under the
    counter's row lock.
    """
    override = optional_text(data.duplicate_override_reason, field="duplicate_override_reason")
    if data.duplicate_override_reason and not override:
        raise ValidationError({"duplicate_override_reason": [OVERRIDE_REASON_REQUIRED]})
    # Screening is the nurse's; an investigator may record the screening that
    # overrides the one-person rule.
    _require(by, "trial.override_duplicate_screening" if override else "trial.screen_patient")
    errors: dict[str, list] = {}
    today = _today()
    if data.screening_date > today:
        errors.setdefault("screening_date", []).append(SCREENING_DATE_IN_FUTURE)
    if data.date_of_birth >= data.screening_date:
        errors.setdefault("date_of_birth", []).append(BIRTH_AFTER_SCREENING)
    if data.scheduled_procedure_date < data.screening_date:
        errors.setdefault("scheduled_procedure_date", []).append(PROCEDURE_BEFORE_SCREENING)
    for key in ANSWERED_CRITERIA:
        evidence = data.evidence_dates.get(key)
        if evidence is not None and evidence > data.screening_date:
            errors.setdefault(f"{key}_date", []).append(EVIDENCE_DATE_IN_FUTURE)
    if errors:
        raise ValidationError(errors)

    outcome = assess_eligibility(
        date_of_birth=data.date_of_birth,
        screening_date=data.screening_date,
        female=data.sex == Sex.FEMALE,
        confirmed_diagnosis=data.confirmed_diagnosis,
        answers=data.answers,
        age_min=settings.ELIGIBLE_AGE_MIN,
        age_max=settings.ELIGIBLE_AGE_MAX,
    )
    hospital_number = data.hospital_number.strip()
    with transaction.atomic():
        _check_site(site=site, by=by)
        number = _next_number(site=site, kind=SequenceCounter.Kind.SCREENING)
        earlier = (
            Screening.objects.annotate(number=Upper("hospital_number"))
            .filter(site=site, number=hospital_number.upper())
            .exclude(hospital_number="")
            .order_by("-screening_date", "-pk")
            .first()
        )
        enrolled = _enrolled_twin(site=site, hospital_number=hospital_number)
        if enrolled is not None:
            if not override:
                raise ValidationError(
                    {
                        "hospital_number": [
                            ALREADY_ENROLLED % {"study_id": enrolled.participant.study_id}
                        ]
                    }
                )
        elif earlier is not None and not (data.rescreen_confirmed or override):
            raise ValidationError({"confirm_duplicate": [RESCREEN_NOT_CONFIRMED]})
        screening = Screening(
            screening_id=settings.SCREENING_ID_FORMAT.format(
                prefix=site.study_id_prefix, number=number, site=site.code
            ),
            site=site,
            screening_date=data.screening_date,
            initials=data.initials.strip().upper(),
            hospital_number=hospital_number,
            rescreen_of=earlier,
            duplicate_override_reason=override if enrolled is not None else "",
            duplicate_override_by=by if enrolled is not None else None,
            date_of_birth=data.date_of_birth,
            sex=data.sex,
            confirmed_diagnosis=data.confirmed_diagnosis,
            scheduled_procedure_date=data.scheduled_procedure_date,
            age_at_screening=outcome.age,
            excl_age="excl_age" in outcome.failed,
            eligible=outcome.eligible,
            failed_criteria=list(outcome.failed),
            consent_status=(
                Screening.ConsentStatus.PENDING
                if outcome.eligible
                else Screening.ConsentStatus.NOT_ELIGIBLE
            ),
            screened_by=by,
        )
        for key in ANSWERED_CRITERIA:
            setattr(screening, key, data.answers[key])
            setattr(screening, f"{key}_date", data.evidence_dates.get(key) or data.screening_date)
        screening._history_user = by
        if enrolled is not None:
            screening._change_reason = override
        screening.full_clean()
        screening.save()
        if enrolled is not None:
            audit_event(
                user=by,
                model="trial.Screening",
                object_id=screening.pk,
                subject=screening.screening_id,
                reason=override,
                summary=f"One-person-one-study-id rule overridden: hospital number enrolled "
                f"as {enrolled.participant.study_id}",
            )
    return screening


def participant_consent(
    *,
    screening: Screening,
    consent_date: date,
    form_version: ConsentFormVersion,
    signed_form_filed: bool,
    by,
    language: str = "zh-hans",
) -> Participant:
    """Record consent and enrol the patient as a participant with a new study id.

    Locks the screening row (so it is consented once) and the site's study-id
    counter (so ids are sequential per site, unique and gap-free). A hospital
    number already enrolled at the site is refused here and by the database.
    """
    _require(by, "trial.consent_participant")
    errors: dict[str, list] = {}
    if consent_date < screening.screening_date:
        errors.setdefault("consent_date", []).append(CONSENT_BEFORE_SCREENING)
    if consent_date > _today():
        errors.setdefault("consent_date", []).append(CONSENT_IN_FUTURE)
    if not form_version.active:
        errors.setdefault("form_version", []).append(CONSENT_FORM_NOT_IN_USE)
    if not signed_form_filed:
        errors.setdefault("signed_form_filed", []).append(SIGNED_FORM_NOT_FILED)
    if errors:
        raise ValidationError(errors)

    try:
        return _consent(
            screening=screening,
            consent_date=consent_date,
            form_version=form_version,
            language=language,
            by=by,
        )
    except IntegrityError as error:
        # Another nurse consented the same person a moment ago: the database's
        # one-person-one-study-id constraint refused this one.
        twin = _enrolled_twin(
            site=screening.site,
            hospital_number=screening.hospital_number,
            exclude_pk=screening.pk,
        )
        if twin is None:
            raise
        raise ValidationError(ALREADY_ENROLLED % {"study_id": twin.participant.study_id}) from error


def _consent(*, screening, consent_date, form_version, language, by) -> Participant:
    with transaction.atomic():
        # pragma: no mutate start (select_related only saves a query)
        locked = lock_one(Screening.objects.filter(pk=screening.pk).select_related("site"))
        # pragma: no mutate end
        _check_site(site=locked.site, by=by)
        if not locked.eligible:
            raise ValidationError(NOT_ELIGIBLE_FOR_CONSENT)
        if locked.consent_status != Screening.ConsentStatus.PENDING:
            raise ValidationError(ALREADY_DECIDED)
        if not locked.duplicate_override_reason:
            twin = _enrolled_twin(
                site=locked.site, hospital_number=locked.hospital_number, exclude_pk=locked.pk
            )
            if twin is not None:
                raise ValidationError(ALREADY_ENROLLED % {"study_id": twin.participant.study_id})
        number = _next_number(site=locked.site, kind=SequenceCounter.Kind.STUDY_ID)
        participant = Participant(
            study_id=settings.STUDY_ID_FORMAT.format(
                prefix=locked.site.study_id_prefix, number=number, site=locked.site.code
            ),
            site=locked.site,
            screening=locked,
            consent_date=consent_date,
            consent_form_version=form_version,
            consent_taken_by=by,
            signed_form_filed=True,
            language=language,
            status=ParticipantStatus.ON_STUDY,  # pragma: no mutate (the model's default too)
            status_date=consent_date,
        )
        participant._history_user = by
        participant.save()
        locked.consent_status = Screening.ConsentStatus.CONSENTED
        locked._history_user = by
        locked._change_reason = record_text.CONSENTED_AS % {"study_id": participant.study_id}
        # The row was read under its lock: saving every field writes what update_fields does.
        locked.save(update_fields=["consent_status"])  # pragma: no mutate
    screening.refresh_from_db()
    return participant


def screening_decline(*, screening: Screening, declined_on: date, reason: str, by) -> Screening:
    """Record that an eligible patient declined consent (counted in CONSORT)."""
    _require(by, "trial.consent_participant")
    errors: dict[str, list] = {}
    try:
        reason = required_text(reason, field="reason", message=DECLINE_REASON_REQUIRED)
    except ValidationError as error:
        errors.update(error.error_dict)
    if declined_on < screening.screening_date:
        errors.setdefault("declined_on", []).append(DECLINE_BEFORE_SCREENING)
    if declined_on > _today():
        errors.setdefault("declined_on", []).append(DECLINE_IN_FUTURE)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # pragma: no mutate start (select_related only saves a query)
        locked = lock_one(Screening.objects.filter(pk=screening.pk).select_related("site"))
        # pragma: no mutate end
        _check_site(site=locked.site, by=by)
        if not locked.eligible:
            raise ValidationError(NOT_ELIGIBLE_FOR_CONSENT)
        if locked.consent_status != Screening.ConsentStatus.PENDING:
            raise ValidationError(ALREADY_DECIDED)
        locked.consent_status = Screening.ConsentStatus.DECLINED
        locked.declined_on = declined_on
        locked.decline_reason = reason
        locked._history_user = by
        locked._change_reason = reason
        # pragma: no mutate start (read under its lock: saving every field is the same)
        locked.save(update_fields=["consent_status", "declined_on", "decline_reason"])
        # pragma: no mutate end
    return locked


BASELINE_FIELDS = (
    "height_cm",
    "weight_kg",
    "comorbidity",
    "comorbidity_list",
    "surgical_site",
    "preop_vas_mm",
    "procedure_type",
    "procedure_date",
    "chemo_regimen",
    "radiotherapy",
    "hormone_therapy",
    "targeted_therapy",
)


def body_mass_index(*, height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    """BMI in kg/m², one decimal, rounded half up as clinicians round."""
    metres = Decimal(height_cm) / 100
    return (Decimal(weight_kg) / (metres * metres)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _baseline_errors(*, participant: Participant, data: dict[str, Any]) -> dict[str, list]:
    errors: dict[str, list] = {}
    low, high = Baseline.HEIGHT_RANGE
    if not low <= data["height_cm"] <= high:
        errors.setdefault("height_cm", []).append(HEIGHT_OUT_OF_RANGE)
    low, high = Baseline.WEIGHT_RANGE
    if not low <= data["weight_kg"] <= high:
        errors.setdefault("weight_kg", []).append(WEIGHT_OUT_OF_RANGE)
    if not 0 <= data["preop_vas_mm"] <= 100:
        errors.setdefault("preop_vas_mm", []).append(VAS_OUT_OF_RANGE)
    listed = (data.get("comorbidity_list") or "").strip()
    if data["comorbidity"] and not listed:
        errors.setdefault("comorbidity_list", []).append(COMORBIDITY_LIST_REQUIRED)
    if not data["comorbidity"] and listed:
        errors.setdefault("comorbidity_list", []).append(COMORBIDITY_LIST_WITHOUT_COMORBIDITY)
    if data["procedure_date"] < participant.screening.screening_date:
        errors.setdefault("procedure_date", []).append(PROCEDURE_DATE_TOO_EARLY)
    return errors


def baseline_version(baseline: Baseline) -> str:
    """The version a correction form is loaded with (``trial.versions``)."""
    return token_for(state_of(baseline, BASELINE_FIELDS))


def baseline_save(
    *,
    participant: Participant,
    data: dict[str, Any],
    by,
    reason: str = "",
    version: str | None = None,
) -> Baseline:
    """Enter the baseline form, or correct it (a correction needs a reason, and is
    refused if the form's ``version`` is older than the record: no lost update).

    Derives BMI; checks plausibility; saves all or nothing.
    """
    _require(by, "trial.edit_baseline")
    unknown = set(data) - set(BASELINE_FIELDS)
    if unknown:
        raise ValueError(f"Unknown baseline fields: {sorted(unknown)}")
    data = {
        **data,
        "comorbidity_list": optional_text(data.get("comorbidity_list"), field="comorbidity_list"),
    }
    errors = _baseline_errors(participant=participant, data=data)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # pragma: no mutate start (select_related only saves a query)
        locked = lock_one(Participant.objects.filter(pk=participant.pk).select_related("site"))
        # pragma: no mutate end
        _check_site(site=locked.site, by=by)
        existing = Baseline.objects.filter(participant=locked).first()
        procedure_changed = existing is None or existing.procedure_date != data["procedure_date"]
        if existing is None:
            baseline = Baseline(participant=locked, recorded_by=by, **data)
        else:
            reason = required_text(reason, field="reason", message=REASON_REQUIRED)
            check_unchanged(version, state_of(existing, BASELINE_FIELDS))
            changed = [name for name in BASELINE_FIELDS if getattr(existing, name) != data[name]]
            if not changed:
                raise ValidationError(NOTHING_CHANGED)
            baseline = existing
            for name in BASELINE_FIELDS:
                setattr(baseline, name, data[name])
            baseline._change_reason = reason
        baseline.bmi = body_mass_index(height_cm=data["height_cm"], weight_kg=data["weight_kg"])
        baseline._history_user = by
        # The service sets these two itself; validating them too finds nothing (no mutate).
        baseline.full_clean(exclude=["participant", "recorded_by"])  # pragma: no mutate
        baseline.save()
        if procedure_changed:
            # Later apps (the follow-up schedule) act on the procedure date in this
            # same transaction; they are named in settings so trial imports none.
            for path in settings.PROCEDURE_DATE_HOOKS:
                import_string(path)(
                    participant=locked, procedure_date=baseline.procedure_date, by=by
                )
    return baseline


def participant_status_set(
    *, participant: Participant, status: str, status_date: date, reason: str, by
) -> Participant:
    """Change a participant's study status (called by the follow-up services, which
    record the details of the change). Runs in the caller's transaction."""
    participant.status = status
    participant.status_date = status_date
    participant.status_reason = reason
    participant._history_user = by
    participant._change_reason = reason
    participant.save(update_fields=["status", "status_date", "status_reason"])
    return participant


def audit_export_record(*, by, query: str) -> None:
    """Note in the trail itself that someone exported it (and with which filters)."""
    audit_event(
        user=by,
        model="trial.AuditEvent",
        summary="Audit trail exported as CSV",
        changes={"filters": query},
    )


def second_factor_record(*, user, enrolled: bool) -> None:
    """Note in the trail that a person enrolled or used their second factor."""
    audit_event(
        user=user,
        model="auth.TwoFactor",
        summary="Authenticator enrolled" if enrolled else "Second factor verified",
    )


def user_language_set(*, user, language: str) -> None:
    """A person's interface language ('' follows the browser)."""
    from .models import Language, UserProfile

    if language and language not in Language.values:
        raise ValidationError({"language": [_("Choose English or 中文.")]})
    with transaction.atomic():
        profile, _created = UserProfile.objects.get_or_create(user=user)
        profile.language = language
        profile.save(update_fields=["language"])
