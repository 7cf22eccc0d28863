"""Demo step for analysis: one computed DSMB analysis and one open report to look at."""

from __future__ import annotations

import random

from django.contrib.auth import get_user_model

from . import services
from .models import AnalysisRun


def seed_analysis(*, today, rng: random.Random) -> str:
    if AnalysisRun.objects.exists():
        return "analysis runs already requested"
    User = get_user_model()
    dsmb = User.objects.get(username="dsmb")
    investigator = User.objects.get(username="investigator")
    services.analysis_request(kind="closed", population="completers", by=dsmb)
    services.analysis_request(kind="open", population="completers", by=investigator)
    return "DSMB analysis and open report requested (computed when the demo is saved)"
