"""The entry rules hold in the services, whoever calls them (a page, a demo, a command).

The questionnaire form shows these errors beside its fields before anything is
posted (``test_capture.TestForm``); here each rule is enforced when the service is
called directly, with the error keyed by the item (or ``confirm_queries``) and the
message constant the page shows.
"""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from questionnaires import services
from questionnaires.models import Response

pytestmark = pytest.mark.django_db

PHQ9_CLEAN = {f"phq9_{n}": 0 for n in range(1, 10)}
PSQI = {
    "psqi_1": "23:30",
    "psqi_2": 20,
    "psqi_3": "06:30",
    "psqi_4": "6:00",
    **{f"psqi_5{letter}": 0 for letter in "abcdefghi"},
    "psqi_6": 1,
    "psqi_7": 0,
    "psqi_8": 0,
    "psqi_9": 1,
}
# 8 h asleep in 7 h in bed: sleep efficiency over 100 %, a soft query.
PSQI_OVER_100 = {**PSQI, "psqi_4": "8:00"}


def administration(**overrides):
    values = {"administered_on": timezone.localdate(), "mode": "in_person"}
    values.update(overrides)
    return services.Administration(**values)


@pytest.fixture
def record(make_participant, nurse):
    participant = make_participant()

    def record(instrument, answers, **overrides):
        return services.response_record(
            participant=participant,
            visit="baseline",
            instrument=instrument,
            answers=answers,
            administration=administration(**overrides),
            by=nurse,
        )

    return record


def refusal(call) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        call()
    return excinfo.value.message_dict


class TestRequiredItems:
    @pytest.mark.parametrize(
        "answers",
        [{**PHQ9_CLEAN, "phq9_4": None}, {k: v for k, v in PHQ9_CLEAN.items() if k != "phq9_4"}],
        ids=["blank", "absent"],
    )
    def test_a_blank_required_item_is_refused_beside_the_item(self, record, answers):
        assert refusal(lambda: record("phq9", answers)) == {"phq9_4": [str(services.ITEM_REQUIRED)]}
        assert Response.objects.count() == 0

    def test_every_blank_required_item_is_named(self, record):
        answers = {**PHQ9_CLEAN, "phq9_2": None, "phq9_7": None}
        assert refusal(lambda: record("phq9", answers)) == {
            "phq9_2": [str(services.ITEM_REQUIRED)],
            "phq9_7": [str(services.ITEM_REQUIRED)],
        }

    def test_blank_items_are_stored_when_marked_not_answered(self, record):
        response = record("phq9", {**PHQ9_CLEAN, "phq9_4": None}, items_not_answered=True)
        assert response.items_not_answered and response.answers["phq9_4"] is None

    def test_optional_items_may_be_blank(self, record):
        # phq9_10 (difficulty) is not required.
        assert record("phq9", {**PHQ9_CLEAN, "phq9_10": None}).pk

    def test_the_hours_of_sleep_are_required_too(self, record):
        answers = {**PSQI, "psqi_4": None}
        assert refusal(lambda: record("psqi", answers)) == {"psqi_4": [str(services.ITEM_REQUIRED)]}


class TestPsqi5jText:
    def test_5j_rated_without_its_text_is_refused(self, record):
        answers = {**PSQI, "psqi_5j": 2}
        assert refusal(lambda: record("psqi", answers)) == {
            "psqi_5j_text": [str(services.PSQI_5J_TEXT_REQUIRED)]
        }
        assert refusal(lambda: record("psqi", {**answers, "psqi_5j_text": "  "})) == {
            "psqi_5j_text": [str(services.PSQI_5J_TEXT_REQUIRED)]
        }
        assert Response.objects.count() == 0

    def test_5j_text_is_needed_even_when_items_are_marked_not_answered(self, record):
        answers = {**PSQI, "psqi_5j": 1}
        assert "psqi_5j_text" in refusal(lambda: record("psqi", answers, items_not_answered=True))

    def test_5j_with_its_text_or_unrated_is_stored(self, record, make_participant, nurse):
        assert record("psqi", {**PSQI, "psqi_5j": 0}).pk
        services.response_record(
            participant=make_participant(),
            visit="baseline",
            instrument="psqi",
            answers={**PSQI, "psqi_5j": 2, "psqi_5j_text": "Neighbour's dog"},
            administration=administration(),
            by=nurse,
        )


class TestSoftQueries:
    def test_an_unconfirmed_query_is_refused(self, record):
        errors = refusal(lambda: record("psqi", PSQI_OVER_100))
        assert list(errors) == ["confirm_queries"]
        [message] = errors["confirm_queries"]
        assert message == str(services.QUERIES_NOT_CONFIRMED) % {
            "queries": str(services.QUERY_EFFICIENCY_OVER_100)
        }
        assert Response.objects.count() == 0

    def test_confirming_another_query_does_not_confirm_this_one(self, record):
        errors = refusal(
            lambda: record("psqi", PSQI_OVER_100, queries_confirmed=("time_in_bed_short",))
        )
        assert "confirm_queries" in errors

    def test_a_confirmed_query_is_stored_with_the_response(self, record):
        response = record("psqi", PSQI_OVER_100, queries_confirmed=("efficiency_over_100",))
        assert response.queries_confirmed == ["efficiency_over_100"]

    def test_the_queries_raised(self):
        codes = [code for code, _message in services.soft_queries("psqi", PSQI_OVER_100)]
        assert codes == ["efficiency_over_100"]
        assert services.soft_queries("psqi", PSQI) == []
        assert services.soft_queries("phq9", PHQ9_CLEAN) == []


class TestCorrections:
    """A correction is held to the same rules as the first entry."""

    @pytest.fixture
    def entered(self, record):
        return record("psqi", PSQI)

    def correct(self, response, answers, nurse, **overrides):
        return services.response_correct(
            response=response,
            answers=answers,
            administration=administration(**overrides),
            reason="Re-read the paper form",
            by=nurse,
        )

    @pytest.mark.parametrize(
        ("answers", "field", "message"),
        [
            ({**PSQI, "psqi_6": None}, "psqi_6", "ITEM_REQUIRED"),
            ({**PSQI, "psqi_5j": 1}, "psqi_5j_text", "PSQI_5J_TEXT_REQUIRED"),
        ],
    )
    def test_hard_errors(self, entered, nurse, answers, field, message):
        errors = refusal(lambda: self.correct(entered, answers, nurse))
        assert errors == {field: [str(getattr(services, message))]}
        entered.refresh_from_db()
        assert entered.answers == PSQI

    def test_soft_queries(self, entered, nurse):
        assert "confirm_queries" in refusal(lambda: self.correct(entered, PSQI_OVER_100, nurse))
        corrected = self.correct(
            entered, PSQI_OVER_100, nurse, queries_confirmed=("efficiency_over_100",)
        )
        assert corrected.queries_confirmed == ["efficiency_over_100"]


class TestCodebookDownload:
    def test_recorded_for_the_data_manager(self, datamanager):
        from trial.models import AuditEvent

        content = services.codebook_download(by=datamanager)
        assert content.startswith("item_key,label,type")
        assert AuditEvent.objects.filter(
            summary="Codebook downloaded", user=datamanager, model="questionnaires.Codebook"
        ).exists()

    def test_refused_to_others_and_not_recorded(self, nurse):
        from django.core.exceptions import PermissionDenied

        from trial.models import AuditEvent

        with pytest.raises(PermissionDenied):
            services.codebook_download(by=nurse)
        assert not AuditEvent.objects.filter(summary="Codebook downloaded").exists()
