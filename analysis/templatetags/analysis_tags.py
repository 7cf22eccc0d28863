"""Number formatting, lookups and the method notes for the report templates."""

import datetime

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_noop, pgettext

register = template.Library()


@register.filter
def get(mapping, key):
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def num(value, digits=1):
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return value


@register.filter
def pval(value):
    if value is None:
        return "—"
    value = float(value)
    return "<0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def percent(part, whole):
    try:
        return f"{100 * part / whole:.0f}%" if whole else "—"
    except (TypeError, ValueError):
        return "—"


@register.filter
def svg(text):
    """Inline a server-rendered matplotlib SVG (made by analysis.figures, never user input)."""
    return mark_safe(text or "")  # noqa: S308 - our own figure output


@register.filter
def isodate(value):
    """A stored report's ISO date text as a date, for ``|date`` to show in the reader's
    language; anything else unchanged."""
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return value
    return value


# The clauses ``analysis.stats`` writes into an analysis's ``method`` note, which is stored
# in English with the run. Each is shown in the reader's language; a clause not listed
# here is shown as stored.
METHOD_CLAUSES = [
    gettext_noop("two-way mixed repeated-measures ANOVA, arm between and visit within"),
    gettext_noop(
        "two-way mixed repeated-measures ANOVA, arm between and visit within (%(software)s)"
    ),
    gettext_noop("completers n=%(n)s (%(arms)s)"),
    gettext_noop("%(n)s participant(s) with a missing visit excluded (complete cases)"),
    gettext_noop("not computed: needs completers in both arms and more completers than arms"),
    gettext_noop("not computed: the data have no residual variance"),
    gettext_noop("not computed: the data have no within-participant residual variance"),
    gettext_noop(
        "not computed: visit and interaction have no within-participant residual variance"
    ),
    gettext_noop("not computed: arm has no between-participant residual variance"),
    gettext_noop("not computed: the model could not be fitted"),
    gettext_noop("not computed: no data in %(cells)s"),
    gettext_noop("Mauchly's test not computable (too few completers)"),
    gettext_noop("Mauchly W=%(w)s, p%(p)s"),
    gettext_noop(
        "Greenhouse–Geisser correction applied to visit and interaction (epsilon=%(epsilon)s)"
    ),
    gettext_noop("Greenhouse–Geisser epsilon not computable, uncorrected p"),
    gettext_noop("sphericity assumed, uncorrected p"),
    gettext_noop(
        "linear mixed model on all available data (statsmodels MixedLM, maximum likelihood, "
        "random intercept per participant, fixed arm, visit and arm × visit; missing visits "
        "assumed missing at random)"
    ),
    gettext_noop("%(observations)s observations from %(participants)s participants (%(arms)s)"),
    gettext_noop(
        "likelihood-ratio tests: interaction = full vs additive model, arm and visit = "
        "additive model vs the model without the term (type II)"
    ),
    gettext_noop("warning: the optimiser did not report convergence for every model"),
]


def _clauses(note: str) -> list[str]:
    """``note`` split at the "; " that are outside parentheses."""
    clauses, depth, start = [], 0, 0
    for index, char in enumerate(note):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and note.startswith("; ", index):
            clauses.append(note[start:index])
            start = index + 2
    return [*clauses, note[start:]]


@register.filter
def method_note(note):
    """An analysis's stored method note in the active language, clause by clause."""
    if not note:
        return note
    from trial.record_text import match_template

    shown = []
    for clause in _clauses(str(note)):
        found = match_template(clause, METHOD_CLAUSES)
        if found is None:
            shown.append(clause)
            continue
        msgid, values = found
        shown.append(gettext(msgid) % values if values else gettext(msgid))
    return pgettext("between the clauses of a method note", "; ").join(shown)


@register.filter
def label_of(key, kind):
    """A statistics key as the DSMB reads it: ``{{ variable|label_of:"variable" }}``."""
    from analysis.labels import label

    return label(kind, key)
