"""Figures of the DSMB report, drawn on the server as SVG (matplotlib), readable in print.

Each function takes the report dict (``analysis.report.build_report``) and
returns SVG text in the active language; nothing here reads the database. The
task draws every figure once per interface language (:func:`figures_by_language`).
Text is drawn as paths, so a browser or PDF needs no font; the server needs one
with Chinese glyphs (``check --deploy`` warns without one).
"""

from __future__ import annotations

import io

import matplotlib
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from questionnaires.visits import visit_codes, visit_label

from .labels import OUTCOME_TITLES

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first


def _use_chinese_fonts() -> None:
    """Latin text in DejaVu Sans, Chinese from the fonts fontconfig lists (glyph fallback).

    The fonts are added by file: matplotlib's font cache may predate their install.
    """
    from matplotlib import font_manager

    from trial.checks import chinese_font_files

    families = []
    for path in chinese_font_files():
        try:
            font_manager.fontManager.addfont(path)
            families.append(font_manager.FontProperties(fname=path).get_name())
        except (OSError, RuntimeError, ValueError):
            continue  # a file matplotlib cannot read: the others still serve
    # A list of families (not the generic "sans-serif") is what matplotlib falls back along.
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *dict.fromkeys(families)]
    matplotlib.rcParams["svg.fonttype"] = "path"  # text as outlines: no font needed to view


_use_chinese_fonts()

ARM_STYLES = [
    {"color": "#1f4e79", "marker": "o", "hatch": ""},
    {"color": "#c55a11", "marker": "s", "hatch": "//"},
    {"color": "#555555", "marker": "^", "hatch": ".."},
]


def _visit(code: str) -> str:
    return visit_label(code)


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def incidence_figure(report: dict) -> str:
    """Persistent pain (VAS ≥ 30 mm) at each endpoint visit: bars per arm with percentages."""
    arms = report["arms"]
    visits = [v for v in visit_codes() if v in report.get("persistent_pain", {})]
    figure, axis = plt.subplots(figsize=(5.5, 3.2))
    width = 0.8 / max(len(arms), 1)
    for index, arm in enumerate(arms):
        style = ARM_STYLES[index % len(ARM_STYLES)]
        percents = []
        for visit in visits:
            cell = report["persistent_pain"][visit].get(arm, {})
            n, events = cell.get("n") or 0, cell.get("events") or 0
            percents.append(100 * events / n if n else 0)
        positions = [v + index * width for v in range(len(visits))]
        bars = axis.bar(
            positions,
            percents,
            width,
            label=arm,
            color=style["color"],
            hatch=style["hatch"],
            edgecolor="black",
        )
        for bar, percent in zip(bars, percents, strict=True):
            axis.annotate(
                f"{percent:.0f}%",
                (bar.get_x() + bar.get_width() / 2, percent),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    axis.set_xticks(
        [v + width * (len(arms) - 1) / 2 for v in range(len(visits))],
        [_visit(v) for v in visits],
    )
    axis.set_ylabel(_("Persistent pain (%)"))
    axis.set_ylim(0, 100)
    axis.legend(frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def outcome_figure(report: dict, outcome: str) -> str:
    """Mean ± SEM over visits per arm for one outcome."""
    arms = report["arms"]
    visits = report["outcomes"][outcome]["visits"]
    order = [v for v in visit_codes() if v in visits]
    figure, axis = plt.subplots(figsize=(5, 3))
    for index, arm in enumerate(arms):
        style = ARM_STYLES[index % len(ARM_STYLES)]
        xs, means, sems = [], [], []
        for position, visit in enumerate(order):
            cell = visits[visit].get(arm) or {}
            if cell.get("mean") is None:
                continue
            xs.append(position + (index - 0.5) * 0.06)
            means.append(cell["mean"])
            sems.append(cell.get("sem") or 0)
        axis.errorbar(
            xs,
            means,
            yerr=sems,
            label=arm,
            color=style["color"],
            marker=style["marker"],
            capsize=3,
            linewidth=1.5,
        )
    axis.set_xticks(range(len(order)), [_visit(v) for v in order])
    title = str(OUTCOME_TITLES.get(outcome, outcome))
    axis.set_ylabel(_("%(outcome)s (mean ± SEM)") % {"outcome": title})
    axis.legend(frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def enrolment_figure(report: dict) -> str:
    conduct = report["conduct"]
    figure, axis = plt.subplots(figsize=(5.5, 3))
    months = [row["month"] for row in conduct["enrolment"]]
    counts = [row["randomized"] for row in conduct["enrolment"]]
    axis.step(range(len(months)), counts, where="post", color="#1f4e79", label=_("Randomized"))
    axis.axhline(
        conduct["target"],
        color="#c55a11",
        linestyle="--",
        label=_("Target (%(n)s)") % {"n": conduct["target"]},
    )
    axis.set_xticks(range(len(months)), months, rotation=45, ha="right", fontsize=7)
    axis.set_ylabel(_("Participants (cumulative)"))
    axis.legend(frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def all_figures(report: dict) -> dict[str, str]:
    figures = {"enrolment": enrolment_figure(report)}
    if report.get("pooled"):
        return figures
    figures["incidence"] = incidence_figure(report)
    for outcome in report.get("outcomes", {}):
        figures[outcome] = outcome_figure(report, outcome)
    return figures


def figures_by_language(report: dict) -> dict[str, dict[str, str]]:
    """Every figure drawn in each interface language: ``{language: {key: svg}}``."""
    drawn = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            drawn[code] = all_figures(report)
    return drawn
