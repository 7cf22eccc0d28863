"""The five instruments declared once, as data: items, labels, options, scoring.

This declaration drives the forms, the validation, the scoring, the export
columns and the codebook. Item keys and ranges come from ``scoring`` (the pure
rules); here they gain short labels, answer options and, for PHQ-9 and GAD-7
(free to reproduce), their full wording. Licensed wording (SF-MPQ, PSQI, TICS)
is never in the repository: it comes from a deployment's content pack
(``questionnaires.content``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import scoring
from .wording_zh import (
    DIFFICULTY_OPTIONS_ZH,
    FREQUENCY_OPTIONS_ZH,
    GAD7_INSTRUCTIONS_ZH,
    GAD7_WORDING_ZH,
    PHQ9_INSTRUCTIONS_ZH,
    PHQ9_WORDING_ZH,
)


@dataclass(frozen=True)
class Option:
    value: int
    label: Any  # lazy translation


@dataclass(frozen=True)
class Item:
    """One question. ``kind`` decides the widget and the stored type.

    choice  an integer from ``options`` (radio row)
    vas     whole millimetres 0–100 on a line with no preset mark
    clock   "HH:MM", 24-hour
    minutes a whole number of minutes, 0 or more
    hours   hours and minutes of sleep, stored "H:MM"
    text    free text
    points  whole points 0..``maximum`` (TICS)
    """

    key: str
    label: Any
    kind: str
    options: tuple[Option, ...] = ()
    required: bool = True
    maximum: int | None = None
    help_text: Any = ""
    wording: Mapping[str, str] = field(default_factory=dict)
    # Answer options in the participant's language (free instruments only); the
    # UI's own translation is used when a language is not given here.
    option_wording: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def allowed_values(self) -> str:
        """The codebook's description of the values, in the active language."""
        if self.kind == "choice":
            return ", ".join(f"{o.value}={o.label}" for o in self.options)
        if self.kind == "points":
            return gettext("0-%(maximum)s (points)") % {"maximum": self.maximum}
        return {
            "vas": "0-100 (mm)",
            "clock": "HH:MM (00:00-23:59)",
            "minutes": gettext("0 or more (minutes)"),
            "hours": "H:MM (0:00-24:00)",
            "text": gettext("free text"),
        }[self.kind]

    @property
    def data_type(self) -> str:
        return {"clock": "time", "hours": "duration", "text": "text"}.get(self.kind, "integer")


@dataclass(frozen=True)
class Instrument:
    key: str
    name: Any
    items: tuple[Item, ...]
    scorer: Callable[[Mapping[str, Any]], dict[str, Any]]
    score_keys: tuple[str, ...]
    licensed: bool
    instructions: Mapping[str, str] = field(default_factory=dict)

    @property
    def scoring_version(self) -> str:
        return self.score({})["scoring_version"]

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def score(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        return self.scorer(answers)


def _options(*labels) -> tuple[Option, ...]:
    return tuple(Option(value, label) for value, label in enumerate(labels))


_SEVERITY = _options(_("none"), _("mild"), _("moderate"), _("severe"))
_FREQUENCY_2W = _options(
    _("Not at all"), _("Several days"), _("More than half the days"), _("Nearly every day")
)
_DIFFICULTY = _options(
    _("Not difficult at all"),
    _("Somewhat difficult"),
    _("Very difficult"),
    _("Extremely difficult"),
)
_PSQI_FREQUENCY = _options(
    _("Not during the past month"),
    _("Less than once a week"),
    _("Once or twice a week"),
    _("Three or more times a week"),
)

# --- SF-MPQ: descriptor names and scoring only; wording from the content pack ----------

_SF_MPQ_LABELS = {
    "sfmpq_throbbing": _("Throbbing"),
    "sfmpq_shooting": _("Shooting"),
    "sfmpq_stabbing": _("Stabbing"),
    "sfmpq_sharp": _("Sharp"),
    "sfmpq_cramping": _("Cramping"),
    "sfmpq_gnawing": _("Gnawing"),
    "sfmpq_hot_burning": _("Hot-burning"),
    "sfmpq_aching": _("Aching"),
    "sfmpq_heavy": _("Heavy"),
    "sfmpq_tender": _("Tender"),
    "sfmpq_splitting": _("Splitting"),
    "sfmpq_tiring_exhausting": _("Tiring-exhausting"),
    "sfmpq_sickening": _("Sickening"),
    "sfmpq_fearful": _("Fearful"),
    "sfmpq_punishing_cruel": _("Punishing-cruel"),
}

SF_MPQ = Instrument(
    key="sf_mpq",
    name=_("SF-MPQ (short-form McGill Pain Questionnaire)"),
    items=(
        *(
            Item(key, _SF_MPQ_LABELS[key], "choice", _SEVERITY)
            for key in scoring.SF_MPQ_DESCRIPTOR_ITEMS
        ),
        Item(
            "sfmpq_vas_mm",
            _("Pain now, visual analogue scale (mm)"),
            "vas",
            help_text=_("0 = no pain, 100 = worst possible pain. Place the mark or type the mm."),
        ),
        Item(
            "sfmpq_ppi",
            _("Present pain intensity"),
            "choice",
            _options(
                _("No pain"),
                _("Mild"),
                _("Discomforting"),
                _("Distressing"),
                _("Horrible"),
                _("Excruciating"),
            ),
        ),
    ),
    scorer=scoring.score_sf_mpq,
    score_keys=(
        "pri_sensory",
        "pri_affective",
        "pri_total",
        "vas_mm",
        "ppi",
        "total",
        "persistent_pain",
    ),
    licensed=True,
)

# --- GAD-7 and PHQ-9: free to reproduce (Pfizer), full wording committed -----------------

_GAD7_WORDING = {
    "gad7_1": "Feeling nervous, anxious, or on edge",
    "gad7_2": "Not being able to stop or control worrying",
    "gad7_3": "Worrying too much about different things",
    "gad7_4": "Trouble relaxing",
    "gad7_5": "Being so restless that it is hard to sit still",
    "gad7_6": "Becoming easily annoyed or irritable",
    "gad7_7": "Feeling afraid, as if something awful might happen",
    "gad7_difficulty": (
        "If you checked any problems, how difficult have they made it for you to do your work, "
        "take care of things at home, or get along with other people?"
    ),
}
_GAD7_LABELS = {
    "gad7_1": _("Nervous, anxious, on edge"),
    "gad7_2": _("Cannot stop or control worrying"),
    "gad7_3": _("Worrying too much"),
    "gad7_4": _("Trouble relaxing"),
    "gad7_5": _("Restless"),
    "gad7_6": _("Easily annoyed or irritable"),
    "gad7_7": _("Afraid something awful might happen"),
    "gad7_difficulty": _("Difficulty caused (not scored)"),
}

GAD7 = Instrument(
    key="gad7",
    name=_("GAD-7 (anxiety)"),
    items=(
        *(
            Item(
                key,
                _GAD7_LABELS[key],
                "choice",
                _FREQUENCY_2W,
                wording={"en": _GAD7_WORDING[key], "zh-hans": GAD7_WORDING_ZH[key]},
                option_wording={"zh-hans": FREQUENCY_OPTIONS_ZH},
            )
            for key in scoring.GAD7_SCORED_ITEMS
        ),
        Item(
            "gad7_difficulty",
            _GAD7_LABELS["gad7_difficulty"],
            "choice",
            _DIFFICULTY,
            required=False,
            wording={
                "en": _GAD7_WORDING["gad7_difficulty"],
                "zh-hans": GAD7_WORDING_ZH["gad7_difficulty"],
            },
            option_wording={"zh-hans": DIFFICULTY_OPTIONS_ZH},
        ),
    ),
    scorer=scoring.score_gad7,
    score_keys=("total", "severity"),
    licensed=False,
    instructions={
        "en": "Over the last 2 weeks, how often have you been bothered by the following problems?",
        "zh-hans": GAD7_INSTRUCTIONS_ZH,
    },
)

_PHQ9_WORDING = {
    "phq9_1": "Little interest or pleasure in doing things",
    "phq9_2": "Feeling down, depressed, or hopeless",
    "phq9_3": "Trouble falling or staying asleep, or sleeping too much",
    "phq9_4": "Feeling tired or having little energy",
    "phq9_5": "Poor appetite or overeating",
    "phq9_6": (
        "Feeling bad about yourself — or that you are a failure or have let yourself or your "
        "family down"
    ),
    "phq9_7": (
        "Trouble concentrating on things, such as reading the newspaper or watching television"
    ),
    "phq9_8": (
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual"
    ),
    "phq9_9": "Thoughts that you would be better off dead or of hurting yourself in some way",
    "phq9_10": (
        "If you checked off any problems, how difficult have these problems made it for you to "
        "do your work, take care of things at home, or get along with other people?"
    ),
}
_PHQ9_LABELS = {
    "phq9_1": _("Little interest or pleasure"),
    "phq9_2": _("Down, depressed, hopeless"),
    "phq9_3": _("Sleep problems"),
    "phq9_4": _("Tired, little energy"),
    "phq9_5": _("Appetite"),
    "phq9_6": _("Feeling bad about yourself"),
    "phq9_7": _("Trouble concentrating"),
    "phq9_8": _("Slow or restless"),
    "phq9_9": _("Thoughts of death or self-harm"),
    "phq9_10": _("Difficulty caused (not scored)"),
}

PHQ9 = Instrument(
    key="phq9",
    name=_("PHQ-9 (depression)"),
    items=(
        *(
            Item(
                key,
                _PHQ9_LABELS[key],
                "choice",
                _FREQUENCY_2W,
                wording={"en": _PHQ9_WORDING[key], "zh-hans": PHQ9_WORDING_ZH[key]},
                option_wording={"zh-hans": FREQUENCY_OPTIONS_ZH},
            )
            for key in scoring.PHQ9_SCORED_ITEMS
        ),
        Item(
            "phq9_10",
            _PHQ9_LABELS["phq9_10"],
            "choice",
            _DIFFICULTY,
            required=False,
            wording={"en": _PHQ9_WORDING["phq9_10"], "zh-hans": PHQ9_WORDING_ZH["phq9_10"]},
            option_wording={"zh-hans": DIFFICULTY_OPTIONS_ZH},
        ),
    ),
    scorer=scoring.score_phq9,
    score_keys=("total", "severity", "prorated", "item9_alert"),
    licensed=False,
    instructions={
        "en": "Over the last 2 weeks, how often have you been bothered by any of the following "
        "problems?",
        "zh-hans": PHQ9_INSTRUCTIONS_ZH,
    },
)

# --- PSQI: item ids, short labels and scoring only ---------------------------------------

_PSQI_DISTURBANCE_LABELS = {
    "psqi_5a": _("5a Sleep onset over 30 minutes"),
    "psqi_5b": _("5b Night or early waking"),
    "psqi_5c": _("5c Bathroom"),
    "psqi_5d": _("5d Breathing"),
    "psqi_5e": _("5e Cough or snore"),
    "psqi_5f": _("5f Too cold"),
    "psqi_5g": _("5g Too hot"),
    "psqi_5h": _("5h Bad dreams"),
    "psqi_5i": _("5i Pain"),
    "psqi_5j": _("5j Other reason"),
}

PSQI = Instrument(
    key="psqi",
    name=_("PSQI (sleep quality)"),
    items=(
        Item("psqi_1", _("1 Usual bed time"), "clock", help_text=_("24-hour clock, e.g. 22:30")),
        Item("psqi_2", _("2 Minutes to fall asleep"), "minutes"),
        Item(
            "psqi_3",
            _("3 Usual getting-up time"),
            "clock",
            help_text=_("24-hour clock, e.g. 06:30 — usually the next day, after midnight"),
        ),
        Item(
            "psqi_4",
            _("4 Hours of actual sleep per night"),
            "hours",
            help_text=_("Hours and minutes, e.g. 6 h 30 min"),
        ),
        *(
            Item(
                key,
                _PSQI_DISTURBANCE_LABELS[key],
                "choice",
                _PSQI_FREQUENCY,
                required=key != "psqi_5j",
            )
            for key in ("psqi_5a", *scoring.PSQI_DISTURBANCE_ITEMS)
        ),
        Item(
            "psqi_5j_text",
            _("5j Other reason, described"),
            "text",
            required=False,
            help_text=_("Required when 5j is rated above 0."),
        ),
        Item(
            "psqi_6",
            _("6 Subjective sleep quality"),
            "choice",
            _options(_("Very good"), _("Fairly good"), _("Fairly bad"), _("Very bad")),
        ),
        Item("psqi_7", _("7 Sleep medicine"), "choice", _PSQI_FREQUENCY),
        Item("psqi_8", _("8 Trouble staying awake"), "choice", _PSQI_FREQUENCY),
        Item(
            "psqi_9",
            _("9 Keeping up enthusiasm"),
            "choice",
            _options(
                _("No problem at all"),
                _("Only a very slight problem"),
                _("Somewhat of a problem"),
                _("A very big problem"),
            ),
        ),
    ),
    scorer=scoring.score_psqi,
    score_keys=(
        "c1",
        "c2",
        "c3",
        "c4",
        "c5",
        "c6",
        "c7",
        "global",
        "sleep_efficiency",
        "poor_sleeper",
    ),
    licensed=True,
)

# --- TICS: item ids, maximum points and scoring only; maxima from configuration ----------

_TICS_LABELS = {
    "tics_name": _("Full name"),
    "tics_date": _("Date orientation"),
    "tics_location": _("Location / address"),
    "tics_count_back": _("Counting backward 20 to 1"),
    "tics_immediate_recall": _("10-word immediate recall"),
    "tics_serial7": _("Serial sevens"),
    "tics_naming": _("Naming"),
    "tics_president_vp": _("President and vice-president"),
    "tics_repetition": _("Repetition"),
    "tics_finger_tap": _("Finger tapping"),
    "tics_opposites": _("Opposites"),
}


def tics_instrument(version: str = "tics41", items: Mapping[str, int] | None = None) -> Instrument:
    """TICS for a configured version: another version is configuration, not code."""
    maxima = dict(items) if items is not None else scoring.TICS_VERSIONS[version]

    def scorer(answers: Mapping[str, Any]) -> dict[str, Any]:
        return scoring.score_tics(answers, version, items=maxima)

    return Instrument(
        key="tics",
        name=_("TICS (telephone cognitive interview)"),
        items=tuple(
            Item(key, _TICS_LABELS.get(key, key), "points", maximum=maximum)
            for key, maximum in maxima.items()
        ),
        scorer=scorer,
        score_keys=("total", "version"),
        licensed=True,
    )


def instruments() -> dict[str, Instrument]:
    """Every instrument, in the order of instruments.md (TICS as configured)."""
    from django.conf import settings

    return {
        "sf_mpq": SF_MPQ,
        "gad7": GAD7,
        "phq9": PHQ9,
        "psqi": PSQI,
        "tics": tics_instrument(settings.TICS_VERSION, settings.TICS_ITEMS or None),
    }


def instrument(key: str) -> Instrument:
    return instruments()[key]


def all_item_keys() -> list[str]:
    """Every item key of every instrument, in instruments.md order (the export columns)."""
    return [key for inst in instruments().values() for key in inst.item_keys]


# What people read for the computed scores' keys (stored and exported as keys).
SCORE_LABELS = {
    "pri_sensory": _("PRI sensory"),
    "pri_affective": _("PRI affective"),
    "pri_total": _("PRI total"),
    "vas_mm": _("VAS (mm)"),
    "ppi": "PPI",
    "total": _("Total score"),
    "persistent_pain": _("Persistent pain (VAS ≥ 30 mm)"),
    "severity": _("Severity"),
    "prorated": _("Prorated (one item missing)"),
    "item9_alert": _("Item 9 alert"),
    "c1": _("C1 subjective sleep quality"),
    "c2": _("C2 sleep latency"),
    "c3": _("C3 sleep duration"),
    "c4": _("C4 habitual sleep efficiency"),
    "c5": _("C5 sleep disturbances"),
    "c6": _("C6 use of sleeping medication"),
    "c7": _("C7 daytime dysfunction"),
    "global": _("Global score"),
    "sleep_efficiency": _("Sleep efficiency (%)"),
    "poor_sleeper": _("Poor sleeper (global score > 5)"),
    "version": _("TICS version"),
}

# The severity bands of GAD-7 and PHQ-9 (scoring.GAD7_SEVERITY_BANDS, PHQ9_SEVERITY_BANDS).
SEVERITY_LABELS = {
    "none_minimal": _("None to minimal"),
    "minimal": _("Minimal"),
    "mild": _("Mild"),
    "moderate": _("Moderate"),
    "moderately_severe": _("Moderately severe"),
    "severe": _("Severe"),
}


def score_label(key: str) -> str:
    return str(SCORE_LABELS.get(key, key))


def score_value_label(key: str, value: Any) -> Any:
    """A score's value as people read it: severity bands by name, anything else as is."""
    if key == "severity" and value in SEVERITY_LABELS:
        return str(SEVERITY_LABELS[value])
    return value
