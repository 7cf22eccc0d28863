"""The data dictionary: one row per item and per score, from the instrument definitions.

The same rows label the exports (CSV, SAS transport, ODM), so a column means
the same thing everywhere.
"""

from __future__ import annotations

import csv
import io

from django.utils import translation

from .definitions import instruments

COLUMNS = ("item_key", "label", "type", "allowed_values", "instrument", "scoring_version")

_SCORE_TYPES = {
    "severity": ("category", "see instruments.md"),
    "prorated": ("boolean", "0, 1"),
    "item9_alert": ("boolean", "0, 1"),
    "persistent_pain": ("boolean", "0, 1"),
    "poor_sleeper": ("boolean", "0, 1"),
    "version": ("text", "TICS version"),
    "sleep_efficiency": ("decimal", "percent"),
    "total": ("decimal", "computed"),
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
                kind, allowed = _SCORE_TYPES.get(score, ("integer", "computed"))
                rows.append(
                    {
                        "item_key": f"{key}_{score}",
                        "label": f"{instrument.name}: {score} (computed)",
                        "type": kind,
                        "allowed_values": allowed,
                        "instrument": key,
                        "scoring_version": version,
                    }
                )
    return rows


def codebook_csv(language: str = "en") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(codebook_rows(language))
    return buffer.getvalue()
