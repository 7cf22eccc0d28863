"""The data dictionary: one row per item and per score, from the instrument definitions.

The same rows label the exports (CSV, SAS transport, ODM), so a column means
the same thing everywhere.
"""

from __future__ import annotations

import csv
import io

from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from trial.spreadsheet import neutralise_cell

from .definitions import instruments, score_label

COLUMNS = ("item_key", "label", "type", "allowed_values", "instrument", "scoring_version")

# Types are codes (the data types of the exports); allowed values are read by people.
_SCORE_TYPES = {
    "severity": ("category", _("see instruments.md")),
    "prorated": ("boolean", "0, 1"),
    "item9_alert": ("boolean", "0, 1"),
    "persistent_pain": ("boolean", "0, 1"),
    "poor_sleeper": ("boolean", "0, 1"),
    "version": ("text", _("TICS version")),
    "sleep_efficiency": ("decimal", _("percent")),
    "total": ("decimal", _("computed")),
}


def codebook_rows(language: str = "en") -> list[dict[str, str]]:
    rows = []
    with translation.override(language):
        for key, instrument in instruments().items():
            version = instrument.scoring_version
            for item in instrument.items:
                rows.append(
                    {
                        "item_key": item.key,
                        "label": str(item.label),
                        "type": item.data_type,
                        "allowed_values": item.allowed_values,
                        "instrument": key,
                        "scoring_version": version,
                    }
                )
            for score in instrument.score_keys:
                kind, allowed = _SCORE_TYPES.get(score, ("integer", _("computed")))
                rows.append(
                    {
                        "item_key": f"{key}_{score}",
                        "label": gettext("%(instrument)s: %(score)s (computed)")
                        % {"instrument": instrument.name, "score": score_label(score)},
                        "type": kind,
                        "allowed_values": str(allowed),
                        "instrument": key,
                        "scoring_version": version,
                    }
                )
    return rows


def codebook_csv(language: str = "en") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {name: neutralise_cell(text) for name, text in row.items()}
        for row in codebook_rows(language)
    )
    return buffer.getvalue()
