"""Number formatting and lookups for the report templates."""

import datetime

from django import template
from django.utils.safestring import mark_safe

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
