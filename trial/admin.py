"""Django admin for the data manager: reference data is editable, clinical records read-only.

Every clinical change goes through the services and their checks, so the admin
never adds, changes or deletes a screening, participant, baseline or audit line.
People, roles and second factors are not here: see ``people.admin``.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    AuditEvent,
    Baseline,
    ConsentFormVersion,
    Participant,
    Screening,
    Site,
)


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "study_id_prefix", "time_zone", "active"]
    search_fields = ["code", "name"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ConsentFormVersion)
class ConsentFormVersionAdmin(SimpleHistoryAdmin):
    list_display = ["version", "approved_on", "active"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyAdmin):
    list_display = ["screening_id", "site", "screening_date", "eligible", "consent_status"]
    list_filter = ["site", "eligible", "consent_status"]
    search_fields = ["screening_id"]


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ["study_id", "site", "consent_date", "status"]
    list_filter = ["site", "status"]
    search_fields = ["study_id"]


@admin.register(Baseline)
class BaselineAdmin(ReadOnlyAdmin):
    list_display = ["participant", "procedure_type", "procedure_date"]
    search_fields = ["participant__study_id"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "action", "model", "subject", "reason"]
    list_filter = ["action", "model"]
    search_fields = ["subject", "username"]
