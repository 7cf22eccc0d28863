"""What the DSMB reads for the keys the statistics carry: baseline variables, their
categories, the tests chosen and the eligibility criteria, in the reader's language.

``analysis.stats`` and the stored report keep the keys (contracts.md §4); only the
pages and the PDF show these labels.
"""

from django.utils.translation import gettext_lazy as _

from trial.labels import CRITERION_LABELS
from trial.models import ProcedureType, SurgicalSite

VARIABLE_LABELS = {
    "age": _("Age (years)"),
    "bmi": _("Body-mass index"),
    "comorbidity": _("Co-morbidity"),
    "surgical_site": _("Surgical site"),
    "preop_vas_mm": _("Preoperative pain VAS (mm)"),
    "preop_pain_condition": _("Preoperative pain condition (VAS ≥ 30 mm)"),
    "procedure_type": _("Type of procedure"),
    "chemo_plan": _("Postoperative chemotherapy plan"),
    "radiotherapy": _("Radiotherapy"),
    "hormone_therapy": _("Hormone therapy"),
    "targeted_therapy": _("Targeted therapy"),
}

CATEGORY_LABELS = {
    "yes": _("yes"),
    "no": _("no"),
    **dict(SurgicalSite.choices),
    **dict(ProcedureType.choices),
    "two_drug": _("Two-drug regimen"),
    "three_drug": _("Three-drug regimen"),
}

# The outcomes' headings, on the pages and in the figures, in the reader's language.
OUTCOME_TITLES = {
    "sf_mpq_total": _("SF-MPQ total"),
    "sf_mpq_pri_total": _("SF-MPQ PRI total"),
    "vas_mm": _("VAS (mm)"),
    "ppi": "PPI",
    "gad7_total": "GAD-7",
    "phq9_total": "PHQ-9",
    "psqi_global": _("PSQI global score"),
}
TEST_LABELS = {
    "student_t": _("Student's t test"),
    "mann_whitney": _("Mann–Whitney U test"),
    "fisher": _("Fisher's exact test"),
    "chi_square": _("Chi-square test"),
}


def label(kind: str, key: str) -> str:
    """The label of ``key`` among variables, categories, tests or criteria; the key itself
    when there is none (a report computed by a later version may carry new keys)."""
    labels = {
        "variable": VARIABLE_LABELS,
        "category": CATEGORY_LABELS,
        "test": TEST_LABELS,
        "criterion": CRITERION_LABELS,
        "outcome": OUTCOME_TITLES,
    }[kind]
    return str(labels.get(key, key))
