"""The trial's visits as the rest of the site sees them: read once from configuration.

``FOLLOWUP_SCHEDULE`` (JSON, the shape ``questionnaires.schedule.schedule_from_config``
reads; empty: the protocol's baseline, m1, m3, m6) is the one declaration of which
visits there are, their windows and what each collects. The models' choices, the
forms, the follow-up windows, the exports and the DSMB analysis all take the visits
from here, so another schedule (a 12-month visit, say) is configuration, not code.
"""

from __future__ import annotations

import json
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from .schedule import DEFAULT_SCHEDULE, Schedule, schedule_from_config

# The protocol schedule's labels, so that the catalogue translates them (a
# configured schedule's own labels are shown as configured unless translated).
PROTOCOL_LABELS = (
    gettext_noop("Baseline"),
    gettext_noop("1 month"),
    gettext_noop("3 months"),
    gettext_noop("6 months"),
)


@lru_cache(maxsize=8)
def _schedule_for(config_json: str) -> Schedule:
    config = json.loads(config_json)
    return schedule_from_config(config) if config else DEFAULT_SCHEDULE


def trial_schedule() -> Schedule:
    """The configured schedule (validated; a ScheduleError names what is wrong)."""
    return _schedule_for(json.dumps(settings.FOLLOWUP_SCHEDULE or {}, sort_keys=True))


def visit_codes() -> tuple[str, ...]:
    return trial_schedule().codes


def baseline_code() -> str:
    return trial_schedule().baseline.code


def follow_up_codes() -> tuple[str, ...]:
    return tuple(visit.code for visit in trial_schedule().follow_up)


def visit_label(code: str) -> str:
    """A visit's name in the reader's language (its code if the schedule has none)."""
    schedule = trial_schedule()
    return gettext(schedule.visit(code).label) if code in schedule else code


def visit_choices() -> list[tuple[str, str]]:
    """Choices for a visit field (a callable, so migrations do not copy the schedule)."""
    return [(visit.code, gettext(visit.label)) for visit in trial_schedule().visits]
