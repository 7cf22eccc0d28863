"""Template tags that put questionnaire status and safety alerts on other apps' pages."""

from django import template

from questionnaires.definitions import instruments
from questionnaires.models import InstrumentKey
from questionnaires.selectors import open_alerts_for_user, responses_of
from questionnaires.visits import trial_schedule, visit_label

register = template.Library()


@register.inclusion_tag("questionnaires/panel.html", takes_context=True)
def questionnaire_panel(context, participant, due=None):
    """One row per visit, one cell per instrument. ``due`` maps visit -> instruments due."""
    schedule = trial_schedule()
    # What the nurse enters at the baseline visit comes from the schedule; the
    # follow-up app passes what is due at the later visits.
    due = due or {schedule.baseline.code: schedule.baseline.instruments}
    done = responses_of(participant=participant)
    defined = instruments()
    rows = []
    for visit in schedule.visits:
        due_here = set(due.get(visit.code, ()))
        if not due_here and not any(v == visit.code for v, _ in done):
            continue
        cells = [(key, done.get((visit.code, key)), key in due_here) for key in defined]
        rows.append((visit.code, visit_label(visit.code), cells))
    perms = context.get("perms")
    return {
        "participant": participant,
        "instruments": [(key, InstrumentKey(key).label) for key in defined],
        "rows": rows,
        "can_enter": bool(perms and perms["questionnaires"]["enter_response"]),
    }


@register.inclusion_tag("questionnaires/alert_banner.html", takes_context=True)
def safety_alert_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("questionnaires.view_safetyalert"):
        return {"count": 0}
    alerts = list(open_alerts_for_user(user=user)[:10])
    return {"count": open_alerts_for_user(user=user).count(), "alerts": alerts}
