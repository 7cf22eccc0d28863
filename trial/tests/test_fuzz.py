"""Fuzzing the forms and the import: no input gives a server error; bad input gives a
message and changes nothing."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from questionnaires.models import Response
from trial.models import Baseline, Screening

pytestmark = pytest.mark.django_db

junk = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "yes",
            "no",
            "0",
            "1",
            "-1",
            "999999",
            "2019-02-29",
            "2024-02-29",
            "24:00",
            "23:59",
            "1e9",
            "NaN",
            "<script>",
            "' OR 1=1 --",
            "男",
            "\x00",
        ]
    ),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.dates().map(lambda d: d.isoformat()),
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SCREENING_FIELDS = [
    "screening_date",
    "initials",
    "hospital_number",
    "date_of_birth",
    "sex",
    "confirmed_diagnosis",
    "scheduled_procedure_date",
    "excl_pregnancy",
    "excl_psychiatric",
    "excl_severe_disease",
    "excl_medication",
    "excl_mlt_allergy",
    "excl_other_trial",
    "excl_unwilling",
    "excl_pregnancy_date",
    "confirm_duplicate",
]
BASELINE_FIELDS = [
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
    "reason",
]
PSQI_FIELDS = [
    "administered_on",
    "mode",
    "psqi_1",
    "psqi_2",
    "psqi_3",
    "psqi_4_hours",
    "psqi_4_minutes",
    "psqi_5a",
    "psqi_5b",
    "psqi_5j",
    "psqi_5j_text",
    "psqi_6",
    "psqi_7",
    "psqi_8",
    "psqi_9",
    "items_not_answered",
    "confirm_queries",
]


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_screening_form_never_errors(nurse):
    client = _client(nurse)

    @FUZZ
    @given(st.fixed_dictionaries({}, optional=dict.fromkeys(SCREENING_FIELDS, junk)))
    def check(data):
        before = Screening.objects.count()
        response = client.post(reverse("screening_new"), data)
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            assert Screening.objects.count() == before

    check()


def test_baseline_form_never_errors(nurse, make_participant):
    participant = make_participant()
    client = _client(nurse)
    url = reverse("baseline_edit", args=[participant.study_id])

    @FUZZ
    @given(st.fixed_dictionaries({}, optional=dict.fromkeys(BASELINE_FIELDS, junk)))
    def check(data):
        before = Baseline.objects.count()
        response = client.post(url, data)
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            assert Baseline.objects.count() == before

    check()


def test_psqi_form_never_errors(nurse, make_participant):
    participant = make_participant()
    client = _client(nurse)
    url = reverse("response_enter", args=[participant.study_id, "baseline", "psqi"])

    @FUZZ
    @given(st.fixed_dictionaries({}, optional=dict.fromkeys(PSQI_FIELDS, junk)))
    def check(data):
        before = Response.objects.count()
        response = client.post(url, data)
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            assert Response.objects.count() == before

    check()


CLINICAL_APPS = ("trial", "questionnaires", "randomization", "followup", "analysis")


def _clinical_row_counts() -> dict[str, int]:
    """Rows in every table of the clinical apps, history and audit trail included."""
    from django.apps import apps

    return {
        model._meta.label: model._default_manager.count()
        for label in CLINICAL_APPS
        for model in apps.get_app_config(label).get_models()
    }


class _RolledBack(Exception):
    """Raised to undo a real import once its effect has been measured."""


def _import_and_roll_back(folder) -> dict[str, int]:
    """Run the real import, then undo it: how many rows it added, per table.

    The import needs a database without clinical data, so each fuzzed file must
    find the same empty one."""
    from django.core.management import call_command
    from django.db import transaction

    before = _clinical_row_counts()
    try:
        with transaction.atomic():
            call_command("import_trial_data", str(folder), "--user", "datamanager")
            after = _clinical_row_counts()
            raise _RolledBack
    except _RolledBack:
        pass
    assert _clinical_row_counts() == before
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


def test_import_never_crashes_and_writes_nothing_when_refused(tmp_path, datamanager):
    import re

    from django.core.management import CommandError, call_command

    from analysis.interchange import file_columns

    header = (
        "screening_id,screening_date,age,excl_age,excl_pregnancy,excl_psychiatric,"
        "excl_severe_disease,excl_medication,excl_mlt_allergy,excl_other_trial,"
        "excl_unwilling,consented,study_id"
    )
    columns = header.split(",")
    cells = ["S1", "2024-01-05", "50", "0", "0", "0", "0", "0", "0", "0", "0", "0", ""]
    folder = tmp_path / "data"

    def write_files(row: list[str]) -> None:
        folder.mkdir(exist_ok=True)
        for name, file_cols in file_columns().items():
            (folder / name).write_text(",".join(c.name for c in file_cols) + "\n")
        (folder / "screening.csv").write_text(header + "\n" + ",".join(row) + "\n")

    # The valid file really imports: one screening, with its history and audit line.
    write_files(cells)
    added = _import_and_roll_back(folder)
    assert added["trial.Screening"] == 1
    assert added["trial.HistoricalScreening"] == 1
    assert added["trial.AuditEvent"] >= 1

    @FUZZ
    @given(st.integers(min_value=0, max_value=len(cells) - 1), junk)
    @example(column=0, value="S2")  # valid: the real import writes it
    @example(column=2, value="17")  # under age, yet excl_age says 0
    @example(column=11, value="1")  # consented without a study id
    @example(column=12, value="MLT-001")  # a study id without consent
    @example(column=1, value="\x00")
    @example(column=2, value='"50')  # an opening quote swallows the separators after it
    @example(column=4, value='0"')
    def check(column, value):
        row = list(cells)
        row[column] = value.replace(",", ";").replace("\n", " ").replace("\r", " ")
        write_files(row)
        before = _clinical_row_counts()
        try:
            call_command("import_trial_data", str(folder), "--user", "datamanager", "--dry-run")
        except CommandError as error:
            refused = str(error)
        else:
            refused = ""
        assert _clinical_row_counts() == before
        if not refused:
            # Valid after all: the real import writes it (undone for the next example).
            assert _import_and_roll_back(folder)["trial.Screening"] == 1
            outcomes.append("valid")
            return
        # Refused: the real import refuses the same way and writes nothing at all.
        with pytest.raises(CommandError) as real:
            call_command("import_trial_data", str(folder), "--user", "datamanager")
        assert str(real.value) == refused
        assert _clinical_row_counts() == before
        head, *problems = refused.splitlines()
        assert head.startswith("Nothing was imported:")
        assert problems
        for problem in problems:
            # Each problem names the file, the data row and the column; only a row
            # whose cells do not line up with the header (a quote) has no one column.
            named = re.match(r"screening\.csv row 1(?:, column (\w+))?: (.*)", problem)
            assert named, problem
            column_named, message = named.groups()
            if column_named is None:
                assert re.fullmatch(r"has \d+ cells, the header has 13", message), problem
            else:
                assert column_named in columns, problem
        outcomes.append("refused")

    outcomes: list[str] = []
    check()
    assert {"valid", "refused"} <= set(outcomes)
