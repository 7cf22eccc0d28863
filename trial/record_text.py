"""Texts the system itself writes into records: audit reasons, status reasons, why a
visit was missed.

They are stored in English, whoever's request wrote them, so a record has one
language; pages show them in the reader's language with :func:`shown`. What users
typed is shown as typed.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop

INTERVIEW_COMPLETED = gettext_noop("Telephone interview completed")
INVESTIGATOR_REVIEW = gettext_noop("Investigator review")
ACKNOWLEDGED = gettext_noop("Acknowledged")
RETIRED_BEFORE_ACTIVATION = gettext_noop("Retired before activation")
THREE_FAILED_ATTEMPTS = gettext_noop("Three failed contact attempts in the window")
IMPORTED = gettext_noop("Imported by import_trial_data")
CONSENTED_AS = gettext_noop("Consented as %(study_id)s")
SCHEDULED_FROM = gettext_noop("Scheduled from procedure date %(date)s")
STATUS_ON = gettext_noop("%(status)s on %(date)s")
NOT_DONE_BEFORE_COMPLETION = gettext_noop("Not done before completion (%(date)s)")

_FIXED = (
    INTERVIEW_COMPLETED,
    INVESTIGATOR_REVIEW,
    ACKNOWLEDGED,
    RETIRED_BEFORE_ACTIVATION,
    THREE_FAILED_ATTEMPTS,
    IMPORTED,
)
_TEMPLATES = (CONSENTED_AS, SCHEDULED_FROM, STATUS_ON, NOT_DONE_BEFORE_COMPLETION)
_DATE = r"\d{4}-\d{2}-\d{2}"


def english(label) -> str:
    """A (lazy) choice label as stored: in English."""
    with translation.override("en"):
        return str(label)


# Fixed texts that later apps write into records (a status change's kind, say):
# they name them here from their AppConfig.ready(), so trial imports none of them.
_registered: list = []


def register_fixed(*labels) -> None:
    """Add (lazy) labels that later apps store in English and pages translate."""
    _registered.extend(labels)
    _registered_labels.cache_clear()


@cache
def _registered_labels() -> frozenset[str]:
    return frozenset(english(label) for label in _registered)


@cache
def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", template)
    regex = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            regex += re.escape(part)
        else:
            regex += f"(?P<{part}>{_DATE if part == 'date' else '.+?'})"
    return re.compile(regex)


def match_template(text: str, templates) -> tuple[str, dict[str, str]] | None:
    """The English template (``%(name)s`` placeholders) that wrote ``text``, with the
    values it was filled with; None when none did. A ``date`` value is an ISO date."""
    for template in templates:
        match = _pattern(template).fullmatch(text)
        if match:
            return template, match.groupdict()
    return None


def shown(text: str) -> str:
    """``text`` in the active language if the system wrote it, else unchanged."""
    if not text:
        return text
    if text in _FIXED or text in _registered_labels():
        return gettext(text)
    found = match_template(text, _TEMPLATES)
    if found is None:
        return text
    template, values = found
    values = {
        name: date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
        if name == "date"
        else value
        for name, value in values.items()
    }
    if "status" in values:
        values["status"] = shown(values["status"])
    return gettext(template) % values
