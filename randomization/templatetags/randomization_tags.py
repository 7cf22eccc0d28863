"""Template tags that let other apps' pages show blinded randomization facts."""

from django import template

from randomization.selectors import blinded_allocation

register = template.Library()


@register.inclusion_tag("randomization/participant_panel.html", takes_context=True)
def randomization_panel(context, participant):
    """Pack code, dates and code-break date of one participant: never the arm."""
    return {
        "participant": participant,
        "allocation": blinded_allocation(participant=participant),
        "perms": context.get("perms"),
    }
