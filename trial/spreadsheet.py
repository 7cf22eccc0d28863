"""Pure: CSV cells that a spreadsheet opens as text, never as a formula (no Django, no ORM).

Excel, LibreOffice and Google Sheets take a cell that starts with ``=``, ``+``,
``-`` or ``@`` (and, in some versions, a tab or a carriage return) for a
formula, so free text typed by one person (an adverse-event term, a status
reason, a username) could run as a formula, or a DDE command, on the computer
of whoever opens the export. :func:`neutralise_cell` prepends one ``'`` to such
a cell, which spreadsheets read as "this is text" and do not show.

The escape is reversible: a cell that already starts with ``'`` gets one more,
so :func:`restore_cell` removes exactly one leading ``'`` and gives back the
text as it was. The trial's own import reads its exports that way, so export,
import and export again give the same bytes.

A cell that is a plain decimal number (``-5``, ``+1.5``, ``-0.25``, ``.5``) is
left alone: a spreadsheet reads it as that number, not as a formula, and
numeric columns stay numeric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"

# ASCII digits only: str.isdigit() and \d also accept other scripts' digits.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def is_plain_number(text: str) -> bool:
    """A decimal number with an optional sign and no exponent, spaces or separators."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def neutralise_cell(text: str) -> str:
    """The text as a spreadsheet shows it and never evaluates; see the module docstring."""
    if text.startswith(ESCAPE):
        return ESCAPE + text
    if text.startswith(FORMULA_TRIGGERS) and not is_plain_number(text):
        return ESCAPE + text
    return text


def restore_cell(text: str) -> str:
    """The inverse of :func:`neutralise_cell`: exactly one leading ``'`` removed."""
    return text[len(ESCAPE) :] if text.startswith(ESCAPE) else text


def safe_cell(value: object) -> object:
    """One value for ``csv.writer``: whole numbers and None as they are, the rest as safe text.

    Floats go through the text rule too: ``csv`` writes ``-inf`` or ``-1e-05`` for them.
    """
    if value is None or isinstance(value, int):
        return value
    return neutralise_cell(str(value))


def safe_row(values: Iterable[object]) -> list[object]:
    """A row for ``csv.writer.writerow`` with every text cell neutralised."""
    return [safe_cell(value) for value in values]
