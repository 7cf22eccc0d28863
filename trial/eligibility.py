"""Pure domain layer: who may enter the trial.

No ORM and no settings: the caller passes the answers, the screening date and
the age limits. The result names every criterion that failed, so the screening
log and the CONSORT diagram can count ineligible patients by criterion.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

# The protocol's eight exclusion criteria, in the protocol's order. The first
# (age) is derived from the date of birth; the other seven are answered.
EXCLUSION_CRITERIA: tuple[str, ...] = (
    "excl_age",
    "excl_pregnancy",
    "excl_psychiatric",
    "excl_severe_disease",
    "excl_medication",
    "excl_mlt_allergy",
    "excl_other_trial",
    "excl_unwilling",
)
ANSWERED_CRITERIA: tuple[str, ...] = EXCLUSION_CRITERIA[1:]

# Inclusion conditions that are not among the eight exclusions but still
# decide eligibility: the trial recruits women with primary unilateral breast
# cancer who are scheduled for a procedure.
INCLUSION_CRITERIA: tuple[str, ...] = ("incl_female", "incl_diagnosis")


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    age: int
    failed: tuple[str, ...]


def age_in_completed_years(date_of_birth: date, on: date) -> int:
    """Completed years on ``on``, by birthday arithmetic.

    A birthday is reached when (month, day) of ``on`` is at or past the birth
    (month, day). A 29 February birthday is therefore reached on 1 March in a
    common year (the legal convention in England and in China's civil practice
    of counting full years), never on 28 February.
    """
    if on < date_of_birth:
        raise ValueError("The date of birth is after the screening date.")
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


def assess_eligibility(
    *,
    date_of_birth: date,
    screening_date: date,
    female: bool,
    confirmed_diagnosis: bool,
    answers: Mapping[str, bool],
    age_min: int = 18,
    age_max: int = 70,
) -> Eligibility:
    """Decide eligibility and list every failed criterion, in protocol order.

    ``answers`` holds the seven answered exclusion criteria (True = the
    exclusion applies). Age excludes when under ``age_min`` or over
    ``age_max`` completed years: eligible from the 18th birthday up to the day
    before the 71st.
    """
    missing = [key for key in ANSWERED_CRITERIA if answers.get(key) is None]
    if missing:
        raise ValueError(f"Unanswered exclusion criteria: {', '.join(missing)}")
    unknown = sorted(set(answers) - set(ANSWERED_CRITERIA))
    if unknown:
        raise ValueError(f"Unknown criteria: {', '.join(unknown)}")

    age = age_in_completed_years(date_of_birth, screening_date)
    failed: list[str] = []
    if not female:
        failed.append("incl_female")
    if not confirmed_diagnosis:
        failed.append("incl_diagnosis")
    if age < age_min or age > age_max:
        failed.append("excl_age")
    failed.extend(key for key in ANSWERED_CRITERIA if answers[key])
    return Eligibility(eligible=not failed, age=age, failed=tuple(failed))
