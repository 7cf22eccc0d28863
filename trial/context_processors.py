"""Navigation: each role sees only the pages it may use."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, permission or any of several). Later apps add their pages here.
NAVIGATION = [
    ("participant_list", _("Participants"), "trial.view_participant"),
    ("screening_new", _("Screen a patient"), "trial.screen_patient"),
    ("screening_log", _("Screening log"), "trial.view_screening"),
    ("audit_trail", _("Audit trail"), "trial.view_audit_trail"),
    ("worklist", _("Worklist"), "followup.view_worklist"),
    ("call_list", _("Calls"), "followup.view_call_list"),
    ("alert_list", _("Safety alerts"), "questionnaires.view_safetyalert"),
    ("sae_list", _("Serious adverse events"), "followup.review_adverse_event"),
    ("codebook", _("Codebook"), "questionnaires.view_codebook"),
    ("list_index", _("Randomization lists"), "randomization.manage_lists"),
    ("dsmb_dashboard", _("DSMB dashboard"), "analysis.view_dashboard"),
    ("open_report", _("Open report"), "analysis.view_open_report"),
    ("exports", _("Exports"), "analysis.export_data"),
    ("people_list", _("People"), ("people.manage_people", "people.approve_unblinded_role")),
    ("list_fingerprints", _("List fingerprints"), None),
]


def _may(user, permission) -> bool:
    if permission is None:
        return True
    if isinstance(permission, tuple):
        return any(user.has_perm(name) for name in permission)
    return user.has_perm(permission)


def navigation(request):
    user = getattr(request, "user", None)
    idle = settings.SESSION_IDLE_MINUTES
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "session_idle_minutes": idle}
    items = [
        {"url": reverse(name), "label": label, "active": request.path.startswith(reverse(name))}
        for name, label, permission in NAVIGATION
        if _may(user, permission)
    ]
    if user.is_staff:
        items.append({"url": reverse("admin:index"), "label": _("Administration"), "active": False})
    return {"nav_items": items, "session_idle_minutes": idle}
