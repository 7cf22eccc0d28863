"""The follow-up panel of the participant page (nurse, investigator, data manager)."""

from django import template

from followup.models import ContactDetails
from followup.selectors import adverse_events_of, visits_of

register = template.Library()


@register.inclusion_tag("followup/panel.html", takes_context=True)
def followup_panel(context, participant):
    user = context["request"].user
    show_events = user.has_perm("followup.view_adverseevent")
    return {
        "participant": participant,
        "visits": list(visits_of(participant=participant)),
        "contact": ContactDetails.objects.filter(participant=participant).first(),
        "events": list(adverse_events_of(participant=participant)) if show_events else [],
        "show_events": show_events,
        "status_events": list(participant.status_events.all()),
        "can_record": user.has_perm("followup.record_visit"),
        "can_record_ae": user.has_perm("followup.record_adverse_event"),
        "can_change_status": user.has_perm("followup.change_study_status")
        or user.has_perm("followup.decide_exclusion"),
    }
