"""Eligibility: every criterion, every age boundary, and combinations."""

from datetime import date
from itertools import combinations

import pytest

from trial.eligibility import (
    ANSWERED_CRITERIA,
    EXCLUSION_CRITERIA,
    age_in_completed_years,
    assess_eligibility,
)

SCREENED_ON = date(2019, 7, 1)
NO_EXCLUSIONS = {key: False for key in ANSWERED_CRITERIA}


def assess(dob=date(1970, 1, 1), on=SCREENED_ON, female=True, diagnosis=True, **answers):
    return assess_eligibility(
        date_of_birth=dob,
        screening_date=on,
        female=female,
        confirmed_diagnosis=diagnosis,
        answers={**NO_EXCLUSIONS, **answers},
    )


def test_eight_criteria_in_protocol_order():
    assert EXCLUSION_CRITERIA == (
        "excl_age",
        "excl_pregnancy",
        "excl_psychiatric",
        "excl_severe_disease",
        "excl_medication",
        "excl_mlt_allergy",
        "excl_other_trial",
        "excl_unwilling",
    )


def test_no_exclusion_is_eligible():
    result = assess()
    assert result.eligible is True
    assert result.failed == ()
    assert result.age == 49


@pytest.mark.parametrize("criterion", ANSWERED_CRITERIA)
def test_each_answered_criterion_alone_excludes(criterion):
    result = assess(**{criterion: True})
    assert result.eligible is False
    assert result.failed == (criterion,)


@pytest.mark.parametrize(
    ("dob", "on", "age", "eligible"),
    [
        # 18th birthday: eligible from that day, not the day before.
        (date(2001, 7, 1), date(2019, 7, 1), 18, True),
        (date(2001, 7, 2), date(2019, 7, 1), 17, False),
        (date(2001, 6, 30), date(2019, 7, 1), 18, True),
        # Up to the day before the 71st birthday.
        (date(1948, 7, 2), date(2019, 7, 1), 70, True),
        (date(1948, 7, 1), date(2019, 7, 1), 71, False),
        (date(1948, 6, 30), date(2019, 7, 1), 71, False),
        # Birthday later in the year, same month.
        (date(1980, 12, 31), date(2019, 12, 30), 38, True),
        (date(1980, 12, 31), date(2019, 12, 31), 39, True),
        # Leap-day birthdays: the birthday is reached on 1 March in a common year.
        (date(2000, 2, 29), date(2018, 2, 28), 17, False),
        (date(2000, 2, 29), date(2018, 3, 1), 18, True),
        (date(1948, 2, 29), date(2019, 2, 28), 70, True),
        (date(1948, 2, 29), date(2019, 3, 1), 71, False),
        # ... and on 29 February itself in a leap year.
        (date(1996, 2, 29), date(2014, 2, 28), 17, False),
        (date(1996, 2, 29), date(2016, 2, 29), 20, True),
        (date(1948, 2, 29), date(2016, 2, 29), 68, True),
        # Born on 1 March, screened on 29 February of a leap year: day before birthday.
        (date(1998, 3, 1), date(2016, 2, 29), 17, False),
        (date(1998, 3, 1), date(2016, 3, 1), 18, True),
    ],
)
def test_age_boundaries(dob, on, age, eligible):
    result = assess(dob=dob, on=on)
    assert result.age == age
    assert result.eligible is eligible
    assert ("excl_age" in result.failed) is (not eligible)


def test_age_limits_are_parameters():
    result = assess_eligibility(
        date_of_birth=date(2001, 7, 1),
        screening_date=date(2019, 7, 1),
        female=True,
        confirmed_diagnosis=True,
        answers=NO_EXCLUSIONS,
        age_min=19,
        age_max=65,
    )
    assert result.failed == ("excl_age",)


@pytest.mark.parametrize("pair", list(combinations(ANSWERED_CRITERIA, 2)))
def test_every_pair_of_criteria_lists_both_in_order(pair):
    result = assess(**dict.fromkeys(pair, True))
    assert result.eligible is False
    assert result.failed == pair


def test_all_criteria_together_with_age_and_inclusion():
    result = assess(
        dob=date(2005, 1, 1),
        female=False,
        diagnosis=False,
        **dict.fromkeys(ANSWERED_CRITERIA, True),
    )
    assert result.failed == ("incl_female", "incl_diagnosis", *EXCLUSION_CRITERIA)


@pytest.mark.parametrize(
    ("female", "diagnosis", "failed"),
    [
        (False, True, ("incl_female",)),
        (True, False, ("incl_diagnosis",)),
        (False, False, ("incl_female", "incl_diagnosis")),
    ],
)
def test_inclusion_conditions(female, diagnosis, failed):
    assert assess(female=female, diagnosis=diagnosis).failed == failed


def test_unanswered_criterion_is_refused():
    answers = dict(NO_EXCLUSIONS)
    del answers["excl_unwilling"]
    with pytest.raises(ValueError, match="excl_unwilling"):
        assess_eligibility(
            date_of_birth=date(1970, 1, 1),
            screening_date=SCREENED_ON,
            female=True,
            confirmed_diagnosis=True,
            answers=answers,
        )


def test_none_answer_is_refused():
    with pytest.raises(ValueError, match="excl_pregnancy"):
        assess(excl_pregnancy=None)


def test_unknown_criterion_is_refused():
    with pytest.raises(ValueError, match="excl_smoking"):
        assess(excl_smoking=True)


def test_birth_after_screening_is_refused():
    with pytest.raises(ValueError):
        age_in_completed_years(date(2020, 1, 1), date(2019, 1, 1))


def test_answers_are_not_mutated():
    answers = dict(NO_EXCLUSIONS)
    assess_eligibility(
        date_of_birth=date(1970, 1, 1),
        screening_date=SCREENED_ON,
        female=True,
        confirmed_diagnosis=True,
        answers=answers,
    )
    assert answers == NO_EXCLUSIONS


def test_born_on_the_screening_date_is_zero_years_not_refused():
    # Only a birth *after* the screening date is impossible (the docstring's rule).
    assert age_in_completed_years(date(2019, 7, 1), date(2019, 7, 1)) == 0
    assert age_in_completed_years(date(2019, 6, 30), date(2019, 7, 1)) == 0


def test_birth_after_screening_says_why():
    with pytest.raises(ValueError) as error:
        age_in_completed_years(date(2019, 7, 2), date(2019, 7, 1))
    assert str(error.value) == "The date of birth is after the screening date."


def test_every_unanswered_criterion_is_named_in_one_message():
    answers = dict(NO_EXCLUSIONS)
    del answers["excl_other_trial"]
    answers["excl_unwilling"] = None
    with pytest.raises(ValueError) as error:
        assess_eligibility(
            date_of_birth=date(1970, 1, 1),
            screening_date=SCREENED_ON,
            female=True,
            confirmed_diagnosis=True,
            answers=answers,
        )
    assert str(error.value) == "Unanswered exclusion criteria: excl_other_trial, excl_unwilling"


def test_every_unknown_criterion_is_named_in_one_message():
    with pytest.raises(ValueError) as error:
        assess(excl_smoking=True, excl_alcohol=False)
    assert str(error.value) == "Unknown criteria: excl_alcohol, excl_smoking"
