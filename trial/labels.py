"""Human labels for the eligibility criteria (the pure module carries keys only)."""

from django.utils.translation import gettext_lazy as _

CRITERION_LABELS = {
    "incl_female": _("Not female"),
    "incl_diagnosis": _("No primary unilateral breast cancer scheduled for a procedure"),
    "excl_age": _("Age below 18 or over 70 years"),
    "excl_pregnancy": _("Pregnant or breastfeeding"),
    "excl_psychiatric": _("History of drug abuse or psychiatric disease"),
    "excl_severe_disease": _(
        "Severe respiratory, cardiovascular, hepatic, renal or autoimmune disease, "
        "or another neoplasm"
    ),
    "excl_medication": _(
        "Previous analgesic, antiepileptic or antidepressant medication, or drugs "
        "affecting magnesium metabolism"
    ),
    "excl_mlt_allergy": _("Allergy to magnesium-L-threonate"),
    "excl_other_trial": _("In another clinical trial"),
    "excl_unwilling": _("Unwilling to take part"),
}
