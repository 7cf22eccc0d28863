"""What counts as text someone actually wrote: reasons, notes, search terms.

A reason must say something: whitespace, zero-width spaces, joiners, direction
marks and other invisible characters do not count, and a NUL byte is refused
(PostgreSQL cannot store one, and it is never typed on purpose). Pure: no ORM,
no settings; the services call these and turn the errors into messages.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

NUL_REFUSED = _("This text contains a NUL character, which cannot be stored. Remove it.")
REASON_NOT_VISIBLE = _("Give a reason in words: spaces and invisible characters do not count.")

# Letters, marks that sit on them, numbers, punctuation and symbols are visible;
# separators (Z*) and control, format, surrogate, private and unassigned (C*) are not.
_VISIBLE_CATEGORIES = frozenset("LMNPS")


def has_visible_text(value: str) -> bool:
    return any(unicodedata.category(char)[0] in _VISIBLE_CATEGORIES for char in value)


def _invisible(char: str) -> bool:
    return unicodedata.category(char)[0] not in _VISIBLE_CATEGORIES


def trimmed(value: str) -> str:
    """``value`` without invisible characters at either end (inner spacing kept)."""
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    return value[start:end]


def refuse_nul(value: str, *, field: str | None = None) -> str:
    if "\x00" in value:
        raise ValidationError({field: [NUL_REFUSED]} if field else NUL_REFUSED)
    return value


def required_text(value: str | None, *, field: str, message=REASON_NOT_VISIBLE) -> str:
    """The trimmed text, or a ValidationError on ``field`` when it says nothing.

    ``message`` is the service's own "give the reason" text, shown when the field
    is empty or holds only invisible characters.
    """
    value = refuse_nul(value or "", field=field)
    if not has_visible_text(value):
        raise ValidationError({field: [message]})
    return trimmed(value)


def optional_text(value: str | None, *, field: str) -> str:
    """The trimmed text ('' when it holds nothing visible); NUL refused."""
    value = refuse_nul(value or "", field=field)
    return trimmed(value) if has_visible_text(value) else ""
