"""The system check that no role, and no ordinary account, can hand out roles."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from conftest import make_user
from people.checks import check_no_role_escalation, escalation_problems

pytestmark = pytest.mark.django_db


def test_the_trials_roles_pass():
    assert escalation_problems() == []
    call_command("check", "--database", "default")


@pytest.mark.parametrize(
    "codename",
    ["change_user", "add_user", "change_group", "change_permission", "change_totpdevice"],
)
def test_a_blinded_role_that_could_grant_roles_fails_the_check(codename):
    Group.objects.get(name="data_manager").permissions.add(
        Permission.objects.get(codename=codename)
    )
    errors = check_no_role_escalation(databases=["default"])
    assert [error.id for error in errors] == ["people.E001"]
    assert "data_manager" in errors[0].msg and codename in errors[0].msg
    with pytest.raises(SystemCheckError):
        call_command("check", "--database", "default")


def test_an_account_holding_it_directly_fails_the_check(site):
    user = make_user("sneaky", "research_nurse", sites=[site])
    user.user_permissions.add(Permission.objects.get(codename="change_user"))
    assert any("sneaky" in problem for problem in escalation_problems())


def test_a_superuser_may_hold_it(site):
    user = make_user("root", None, is_superuser=True)
    user.user_permissions.add(Permission.objects.get(codename="change_user"))
    assert escalation_problems() == []


def test_a_blinded_role_may_not_approve_unblinded_roles():
    Group.objects.get(name="investigator").permissions.add(
        Permission.objects.get(codename="approve_unblinded_role")
    )
    assert any("investigator" in problem for problem in escalation_problems())


def test_the_check_reads_the_database_only_when_asked():
    assert check_no_role_escalation(databases=None) == []
