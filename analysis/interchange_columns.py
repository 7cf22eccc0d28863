"""Declarations of the interchange files (contracts.md §3): which files, which columns.

Data only: the file names, and for each file its columns in the order the export
writes them, with each column's type, label, choices and limits. The CSV writer
(``interchange_export``), the parser (``interchange_parse``) and the SAS transport
and ODM exports (``analysis.exports``) all read the files' shape from here, so
there is one description of it.

The columns of ``visits.csv`` and ``administrations.csv`` are built when asked for,
not at import: the visits follow the configured schedule, the item columns the
configured instruments (TICS as configured) and the languages the settings.
``visit_order()`` and ``follow_up_visits()`` are the schedule's visits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from followup.models import AEOutcome, Relatedness, Severity, VisitStatus
from questionnaires.definitions import Item, instruments
from questionnaires.models import Mode
from questionnaires.visits import follow_up_codes, visit_codes
from trial.eligibility import EXCLUSION_CRITERIA
from trial.models import ChemoRegimen, ParticipantStatus, ProcedureType, SurgicalSite

SCREENING_FILE = "screening.csv"
PARTICIPANTS_FILE = "participants.csv"
VISITS_FILE = "visits.csv"
ADVERSE_EVENTS_FILE = "adverse_events.csv"
FILES = (SCREENING_FILE, PARTICIPANTS_FILE, VISITS_FILE, ADVERSE_EVENTS_FILE)
# Beside the contract's four files: how, when and in which language each
# questionnaire was given (visits.csv has one row per visit). Optional on import.
ADMINISTRATIONS_FILE = "administrations.csv"
OPTIONAL_FILES = (ADMINISTRATIONS_FILE,)

ARMS = ("MLT", "PLACEBO")
DONE_STATUSES = (VisitStatus.DONE, VisitStatus.DONE_OUT_OF_WINDOW)


def visit_order() -> tuple[str, ...]:
    """The schedule's visits in time order (the protocol's baseline, m1, m3, m6)."""
    return visit_codes()


def follow_up_visits() -> tuple[str, ...]:
    return follow_up_codes()


@dataclass(frozen=True)
class Column:
    """One column of an interchange file: its type, label, and what it may hold.

    kind: ``id`` (text without surrounding spaces), ``text`` (kept as written),
    ``date``, ``bool`` (0/1), ``int``, ``decimal`` (one decimal place), ``choice``
    or ``item`` (a questionnaire item; ``item`` says which).
    """

    name: str
    kind: str
    label: str
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    max_length: int | None = None
    item: Item | None = None


_EXCLUSION_LABELS = {
    "excl_age": "Exclusion: age below 18 or over 70",
    "excl_pregnancy": "Exclusion: pregnant or breastfeeding",
    "excl_psychiatric": "Exclusion: drug abuse or psychiatric disease",
    "excl_severe_disease": "Exclusion: severe disease or another neoplasm",
    "excl_medication": "Exclusion: analgesic, antiepileptic, antidepressant",
    "excl_mlt_allergy": "Exclusion: allergy to magnesium-L-threonate",
    "excl_other_trial": "Exclusion: in another clinical trial",
    "excl_unwilling": "Exclusion: unwilling to take part",
}

SCREENING_COLUMNS: tuple[Column, ...] = (
    Column("screening_id", "id", "Screening id", required=True, max_length=40),
    Column("screening_date", "date", "Screening date", required=True),
    Column("age", "int", "Age at screening (years)", required=True, low=0, high=120),
    *(Column(key, "bool", _EXCLUSION_LABELS[key], required=True) for key in EXCLUSION_CRITERIA),
    Column("consented", "bool", "Consented", required=True),
    Column("study_id", "id", "Study id", max_length=40),
)

# The baseline form's columns of participants.csv: all of them or none.
BASELINE_COLUMNS = (
    "procedure_date",
    "height_cm",
    "weight_kg",
    "comorbidity",
    "surgical_site",
    "preop_vas_mm",
    "procedure_type",
    "chemo_regimen",
    "radiotherapy",
    "hormone_therapy",
    "targeted_therapy",
)

PARTICIPANT_COLUMNS: tuple[Column, ...] = (
    Column("study_id", "id", "Study id", required=True, max_length=40),
    Column("arm", "choice", "Allocated arm", choices=ARMS),
    Column("pack_code", "id", "Pack code", max_length=20),
    Column("consent_date", "date", "Consent date", required=True),
    Column("randomization_date", "date", "Randomization date"),
    Column("procedure_date", "date", "Procedure date"),
    Column("age", "int", "Age at screening (years)", low=0, high=120),
    Column("height_cm", "decimal", "Height (cm)", low=120, high=220),
    Column("weight_kg", "decimal", "Weight (kg)", low=30, high=250),
    Column("comorbidity", "bool", "Co-morbidity"),
    Column("surgical_site", "choice", "Surgical site", choices=tuple(SurgicalSite.values)),
    Column("preop_vas_mm", "int", "Preoperative pain VAS (mm)", low=0, high=100),
    Column("procedure_type", "choice", "Type of procedure", choices=tuple(ProcedureType.values)),
    Column("chemo_regimen", "choice", "Planned chemotherapy", choices=tuple(ChemoRegimen.values)),
    Column("radiotherapy", "bool", "Postoperative radiotherapy"),
    Column("hormone_therapy", "bool", "Hormone therapy"),
    Column("targeted_therapy", "bool", "Targeted therapy"),
    Column(
        "status", "choice", "Study status", required=True, choices=tuple(ParticipantStatus.values)
    ),
    Column("status_date", "date", "Status date", required=True),
    Column("status_reason", "text", "Status reason"),
)

ADVERSE_EVENT_COLUMNS: tuple[Column, ...] = (
    Column("study_id", "id", "Study id", required=True, max_length=40),
    Column("onset_date", "date", "Onset date", required=True),
    Column("term", "text", "Adverse event term", required=True, max_length=200),
    Column("serious", "bool", "Serious", required=True),
    Column("severity", "choice", "Severity", required=True, choices=tuple(Severity.values)),
    Column(
        "relatedness", "choice", "Relatedness", required=True, choices=tuple(Relatedness.values)
    ),
    Column("outcome", "choice", "Outcome", required=True, choices=tuple(AEOutcome.values)),
)


def item_columns() -> tuple[Column, ...]:
    """One column per item key, in instruments.md order (TICS as configured)."""
    return tuple(
        Column(item.key, "item", str(item.label), item=item)
        for instrument in instruments().values()
        for item in instrument.items
    )


def visit_columns() -> tuple[Column, ...]:
    return (
        Column("study_id", "id", "Study id", required=True, max_length=40),
        Column("visit", "choice", "Visit", required=True, choices=visit_codes()),
        Column("visit_date", "date", "Visit date", required=True),
        *item_columns(),
    )


def administration_columns() -> tuple[Column, ...]:
    return (
        Column("study_id", "id", "Study id", required=True, max_length=40),
        Column("visit", "choice", "Visit", required=True, choices=visit_codes()),
        Column(
            "instrument", "choice", "Questionnaire", required=True, choices=tuple(instruments())
        ),
        Column("administered_on", "date", "Date the questionnaire was given", required=True),
        Column("mode", "choice", "In person or by telephone", required=True, choices=tuple(Mode)),
        Column(
            "language",
            "choice",
            "Language the questionnaire was given in",
            required=True,
            choices=tuple(code for code, _name in settings.LANGUAGES),
        ),
    )


def file_columns() -> dict[str, tuple[Column, ...]]:
    """Every file's columns, in the order the export writes them."""
    return {
        SCREENING_FILE: SCREENING_COLUMNS,
        PARTICIPANTS_FILE: PARTICIPANT_COLUMNS,
        VISITS_FILE: visit_columns(),
        ADVERSE_EVENTS_FILE: ADVERSE_EVENT_COLUMNS,
        ADMINISTRATIONS_FILE: administration_columns(),
    }
