"""The trial's roles as Django groups, and the permissions each one holds.

This mapping is the one place that says who may do what; ``roles_sync`` makes
the groups match it and runs after every ``migrate`` (and as
``manage.py sync_roles``), so it is idempotent.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.translation import gettext_lazy as _

RESEARCH_NURSE = "research_nurse"
BLINDED_ASSESSOR = "blinded_assessor"
INVESTIGATOR = "investigator"
UNBLINDED_STATISTICIAN = "unblinded_statistician"
DSMB = "dsmb"
DATA_MANAGER = "data_manager"

ROLE_LABELS = {
    RESEARCH_NURSE: _("Research nurse"),
    BLINDED_ASSESSOR: _("Blinded assessor"),
    INVESTIGATOR: _("Investigator"),
    UNBLINDED_STATISTICIAN: _("Unblinded statistician"),
    DSMB: _("DSMB member"),
    DATA_MANAGER: _("Data manager"),
}


def role_label(name: str) -> str:
    """A role's name for people (a role added later without a label shows its name)."""
    return str(ROLE_LABELS.get(name, name))


# Roles that may learn allocations. Everyone else is blinded.
UNBLINDED_ROLES = frozenset({UNBLINDED_STATISTICIAN, DSMB})

# What makes a role unblinded is what it may do, not its name: a group holding
# any of these permissions sees arms (or the seed that makes them), so it is
# granted only by two people (people.services) and its holders confirm a second
# factor at log-in (trial.middleware). Code-breaks ask for one at the break.
UNBLINDING_PERMISSIONS = frozenset({"randomization.view_arm", "randomization.manage_lists"})
SECOND_FACTOR_PERMISSIONS = UNBLINDING_PERMISSIONS

# Permissions that amount to superuser (Django documents it for change_user):
# with them anyone can give anyone, themselves included, any role. No role holds
# them; people are managed on the people pages (people.manage_people), which
# enforce the two-person rule, and the Django admin's user, group and device
# pages are for superusers only. A system check fails if a group holds one.
ESCALATION_PERMISSIONS = frozenset(
    {
        f"{app}.{action}_{model}"
        for app, model in (
            ("auth", "user"),
            ("auth", "group"),
            ("auth", "permission"),
            ("otp_totp", "totpdevice"),
        )
        for action in ("add", "change", "delete", "view")
        if not (app == "auth" and model in {"group", "permission"} and action == "view")
    }
    | {"trial.add_userprofile", "trial.change_userprofile", "trial.delete_userprofile"}
)

# Roles whose holders use the Django admin (reference data: sites, consent forms).
STAFF_ROLES = frozenset({DATA_MANAGER})

ROLE_PERMISSIONS: dict[str, list[str]] = {
    RESEARCH_NURSE: [
        "trial.view_participant",
        "trial.view_screening",
        "trial.view_baseline",
        "trial.screen_patient",
        "trial.consent_participant",
        "trial.edit_baseline",
        "randomization.randomize_participant",
        "questionnaires.enter_response",
        "questionnaires.view_response",
        "questionnaires.view_safetyalert",
        "followup.view_worklist",
        "followup.record_visit",
        "followup.record_adverse_event",
        "followup.view_adverseevent",
        "followup.change_study_status",
        "followup.view_adherence",
    ],
    # The assessor works from the call list and call pages only: no participant
    # page, so nothing that could hint at the arm (adverse events, adherence,
    # code-breaks) is ever in reach.
    BLINDED_ASSESSOR: [
        "questionnaires.enter_response",
        "questionnaires.view_response",
        "followup.view_call_list",
        "followup.conduct_interview",
    ],
    INVESTIGATOR: [
        "trial.override_duplicate_screening",
        "trial.view_participant",
        "trial.view_screening",
        "trial.view_baseline",
        "randomization.break_code",
        "questionnaires.view_response",
        "questionnaires.view_safetyalert",
        "questionnaires.acknowledge_alert",
        "followup.view_worklist",
        "followup.record_adverse_event",
        "followup.view_adverseevent",
        "followup.review_adverse_event",
        "followup.change_study_status",
        "followup.decide_exclusion",
        "followup.view_adherence",
        "analysis.view_open_report",
    ],
    UNBLINDED_STATISTICIAN: [
        "people.approve_unblinded_role",
        "trial.view_participant",
        "randomization.manage_lists",
        "randomization.view_arm",
        "followup.view_adherence",
        "analysis.view_dashboard",
        "analysis.view_open_report",
        "analysis.export_data",
    ],
    DSMB: [
        "people.approve_unblinded_role",
        "randomization.view_arm",
        "followup.view_adherence",
        "analysis.view_dashboard",
        "analysis.view_open_report",
    ],
    DATA_MANAGER: [
        "trial.view_participant",
        "trial.view_screening",
        "trial.view_baseline",
        "trial.view_audit_trail",
        "trial.view_auditevent",
        "questionnaires.view_response",
        "questionnaires.view_safetyalert",
        "questionnaires.view_codebook",
        "questionnaires.rescore_responses",
        "followup.view_adverseevent",
        "analysis.view_open_report",
        "analysis.export_data",
        "trial.view_site",
        "trial.add_site",
        "trial.change_site",
        "trial.view_consentformversion",
        "trial.add_consentformversion",
        "trial.change_consentformversion",
        "people.manage_people",
    ],
}


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_sync() -> list[str]:
    """Create the role groups and set their permissions exactly; return the group names."""
    for role, dotted_permissions in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(p) for p in dotted_permissions])
    return list(ROLE_PERMISSIONS)


def user_roles(user) -> list[str]:
    """The role names of a user (cached on the user object for the request)."""
    cached = getattr(user, "_trial_roles", None)
    if cached is None:
        cached = sorted(user.groups.values_list("name", flat=True)) if user.is_authenticated else []
        user._trial_roles = cached
    return cached
