"""The Django admin's people pages are for superusers only.

Django documents that changing users amounts to superuser: from the user page
anyone can tick "superuser", add a role or a permission to themselves. So the
user, role (group) and second-factor device pages answer only to superusers,
whatever permissions a role holds (and the system check refuses roles that hold
them); everyone else manages people on the People pages, which keep the
two-person rule. What superusers change here is audited all the same
(``people.signals``).
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from trial.models import UserProfile


class SuperusersOnly:
    """Every permission of the page is the superuser flag."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # people and roles are deactivated, never deleted: the trail names them


class UserProfileInline(SuperusersOnly, admin.StackedInline):
    model = UserProfile
    can_delete = False
    filter_horizontal = ["sites"]


User = get_user_model()
for model in (User, Group, TOTPDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class TrialUserAdmin(SuperusersOnly, UserAdmin):
    inlines = [UserProfileInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff", "is_superuser"]


@admin.register(Group)
class TrialGroupAdmin(SuperusersOnly, GroupAdmin):
    pass


@admin.register(TOTPDevice)
class TrialTOTPDeviceAdmin(SuperusersOnly, TOTPDeviceAdmin):
    pass
