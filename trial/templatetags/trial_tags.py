"""Template helpers for the trial's own pages."""

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext

from trial.audit import readable_changes

register = template.Library()


def _model(label: str):
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None  # an event that is not a row change (e.g. analysis.TrialDataImport)


@register.filter
def record_name(label: str) -> str:
    """An audit line's record type in the reader's language ("trial.Participant" → its
    verbose name), the stored label where it names no model."""
    model = _model(label)
    return str(model._meta.verbose_name) if model is not None else label


@register.filter
def readable(changes: dict) -> dict:
    """An audit line's changes with values that may name an arm withheld."""
    return readable_changes(changes, withheld=gettext("(withheld: may name an arm)"))


@register.filter
def field_names(changes: dict, label: str) -> str:
    """The changed fields of an audit line, by their names in the reader's language."""
    model = _model(label)
    names = []
    for name in changes or {}:
        try:
            names.append(str(model._meta.get_field(name).verbose_name) if model else name)
        except FieldDoesNotExist:
            names.append(name)
    return ", ".join(names)


@register.filter
def record_text(text: str) -> str:
    """A reason or note the system wrote (stored in English) in the reader's language;
    what a person typed, unchanged."""
    from trial.record_text import shown

    return shown(text)
