"""No blinded person can obtain view_arm, superuser or an unblinded role, for anyone.

Every form the site offers that touches people, roles, permissions or second
factors — the People pages and the Django admin's user, group and device pages
— is posted by each blinded role (and by a blinded role added later that may
manage people), with the values an attacker would choose: themselves or a
colleague made superuser, put in the DSMB group, given view_arm directly, a
blinded role given view_arm, a second factor planted on a DSMB account, a DSMB
account's e-mail redirected, a pending request approved. Afterwards nobody may
see arms who could not before.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import get_resolver, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import TEST_PASSWORD, make_user
from people.models import RoleRequest

pytestmark = pytest.mark.django_db
User = get_user_model()

BLINDED = ["nurse", "assessor", "investigator", "datamanager", "monitor"]


@pytest.fixture
def people(role_users, site):
    # A blinded role added later, which may manage people and use the admin.
    monitor_role = Group.objects.create(name="monitor")
    monitor_role.permissions.add(
        Permission.objects.get(codename="manage_people"),
        Permission.objects.get(codename="view_participant"),
    )
    monitor = make_user("monitor", "monitor", sites=[site], is_staff=True)
    colleague = make_user("colleague", "research_nurse", sites=[site])
    away = make_user("away", "unblinded_statistician", all_sites=True, is_active=False)
    for user in (*role_users.values(), colleague):
        user.email = f"{user.username}@example.org"
        user.save()
    TOTPDevice.objects.create(user=role_users["dsmb"], name="dsmb phone", confirmed=True)
    return {
        **{u.username: u for u in role_users.values()},
        "monitor": monitor,
        "colleague": colleague,
        "away": away,
    }


def who_sees_arms() -> dict[str, tuple]:
    """Everyone's access to arms, read fresh from the database."""
    view_arm = Permission.objects.get(codename="view_arm")
    unblinded_groups = set(
        Group.objects.filter(permissions__codename__in=["view_arm", "manage_lists"]).values_list(
            "name", flat=True
        )
    )
    state = {}
    for user in User.objects.order_by("username"):
        fresh = User.objects.get(pk=user.pk)
        state[user.username] = (
            fresh.is_superuser,
            fresh.is_active,
            sorted(set(fresh.groups.values_list("name", flat=True)) & unblinded_groups),
            fresh.user_permissions.filter(pk=view_arm.pk).exists(),
            fresh.email,
            sorted(TOTPDevice.objects.filter(user=fresh).values_list("name", flat=True)),
        )
    state["<unblinded roles>"] = tuple(sorted(unblinded_groups))
    return state


def admin_user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [
            Group.objects.get(name="dsmb").pk,
            Group.objects.get(name="unblinded_statistician").pk,
        ],
        "user_permissions": [Permission.objects.get(codename="view_arm").pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "0",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-all_sites": "on",
    }
    data.update(changes)
    return data


def attacks(attacker, people) -> list[tuple[str, str, dict]]:
    dsmb_group = Group.objects.get(name="dsmb")
    view_arm = Permission.objects.get(codename="view_arm")
    manage_lists = Permission.objects.get(codename="manage_lists")
    own_role = attacker.groups.first()
    pending = RoleRequest.objects.create(
        person=attacker, role="dsmb", reason="planted", requested_by=people["statistician"]
    )
    for_colleague = RoleRequest.objects.create(
        person=people["colleague"], role="dsmb", reason="planted", requested_by=people["dsmb"]
    )
    unblinded_roles = ["dsmb", "unblinded_statistician"]
    person_form = {
        "first_name": "X",
        "last_name": "Y",
        "roles": ["research_nurse", *unblinded_roles],
        "all_sites": "on",
        "version": "",
    }
    return [
        # --- the Django admin: users, roles, devices ------------------------------------------
        ("post", reverse("admin:auth_user_change", args=[attacker.pk]), admin_user_form(attacker)),
        (
            "post",
            reverse("admin:auth_user_change", args=[people["colleague"].pk]),
            admin_user_form(people["colleague"]),
        ),
        (
            "post",
            reverse("admin:auth_user_add"),
            {
                "username": "sleeper",
                "password1": "pw-sleeper-12345678",
                "password2": "pw-sleeper-12345678",
                "usable_password": "true",
            },
        ),
        (
            "post",
            reverse("admin:auth_user_password_change", args=[people["dsmb"].pk]),
            {"password1": "taken-over-123456", "password2": "taken-over-123456"},
        ),
        (
            "post",
            reverse("admin:auth_group_add"),
            {"name": "shadow", "permissions": [view_arm.pk, manage_lists.pk]},
        ),
        (
            "post",
            reverse("admin:auth_group_change", args=[own_role.pk]),
            {"name": own_role.name, "permissions": [view_arm.pk]},
        ),
        (
            "post",
            reverse("admin:auth_group_change", args=[dsmb_group.pk]),
            {"name": "dsmb", "permissions": [view_arm.pk], "users": [attacker.pk]},
        ),
        (
            "post",
            reverse("admin:otp_totp_totpdevice_add"),
            {
                "user": people["dsmb"].pk,
                "name": "planted",
                "key": "31" * 20,
                "step": 30,
                "t0": 0,
                "digits": 6,
                "tolerance": 1,
                "drift": 0,
                "confirmed": "on",
            },
        ),
        # --- the People pages ------------------------------------------------------------------
        (
            "post",
            reverse("person_invite"),
            {**person_form, "username": "plant", "email": "plant@example.org"},
        ),
        (
            "post",
            reverse("person_detail", args=[attacker.pk]),
            {**person_form, "email": attacker.email},
        ),
        (
            "post",
            reverse("person_detail", args=[people["colleague"].pk]),
            {**person_form, "email": people["colleague"].email},
        ),
        (
            "post",
            reverse("person_detail", args=[people["dsmb"].pk]),
            {**person_form, "roles": unblinded_roles, "email": attacker.email},
        ),
        (
            "post",
            reverse("person_role_request", args=[attacker.pk]),
            {"request-role": "dsmb", "request-reason": "I would like to see"},
        ),
        (
            "post",
            reverse("role_request_detail", args=[pending.pk]),
            {"decision": "approve", "note": "fine", "password": TEST_PASSWORD},
        ),
        (
            "post",
            reverse("role_request_detail", args=[for_colleague.pk]),
            {"decision": "approve", "note": "fine", "password": TEST_PASSWORD},
        ),
        (
            "post",
            reverse("person_second_factor_reset", args=[people["dsmb"].pk]),
            {"second_factor-reason": "lost phone"},
        ),
        ("post", reverse("person_password_link", args=[people["dsmb"].pk]), {}),
        (
            "post",
            reverse("person_reactivate", args=[people["away"].pk]),
            {"reactivate-reason": "back"},
        ),
        (
            "post",
            reverse("person_role_revoke", args=[people["dsmb"].pk, "dsmb"]),
            {"revoke-reason": "x"},
        ),
        (
            "post",
            reverse("person_deactivate", args=[people["statistician"].pk]),
            {"deactivate-reason": "x"},
        ),
        ("post", reverse("profile"), {"language": "en"}),
    ]


@pytest.mark.parametrize("username", BLINDED)
def test_no_blinded_person_can_unblind_anyone(client, people, username):
    attacker = people[username]
    before = who_sees_arms()
    client.force_login(attacker)
    statuses = []
    for _method, url, data in attacks(attacker, people):
        response = client.post(url, data)
        statuses.append((url, response.status_code))
        assert response.status_code < 500, (url, response.status_code)
    after = who_sees_arms()
    assert after.pop("<unblinded roles>") == before.pop("<unblinded roles>")
    # Deactivating someone or removing a role only narrows access; nothing may widen it.
    for name, (superuser, active, roles, direct, email, devices) in after.items():
        was = before.get(name)
        if was is None:  # an account the attack created (an invitation)
            assert not superuser and not roles and not direct, name
            continue
        assert superuser <= was[0], name
        assert set(roles) <= set(was[2]) and direct <= was[3], name
        assert not (active and not was[1] and roles), name  # nobody unblinded reactivated
        assert email == was[4], name
        assert set(devices) <= set(was[5]), name
    assert not Group.objects.filter(name="shadow").exists()
    assert not User.objects.filter(username="sleeper").exists()
    assert User.objects.get(username="dsmb").check_password(TEST_PASSWORD)
    assert RoleRequest.objects.filter(state="approved").count() == 0


def test_every_people_page_that_writes_is_attacked():
    """The list above covers each writing URL of the People pages (a page added
    later must be added to it)."""
    from people import urls

    writing = {p.name for p in urls.urlpatterns} - {"people_list"}
    attacked = {
        "person_invite",
        "person_detail",
        "person_role_request",
        "role_request_detail",
        "person_second_factor_reset",
        "person_password_link",
        "person_reactivate",
        "person_role_revoke",
        "person_deactivate",
    }
    assert writing - attacked == {"role_request_withdraw"}  # withdrawing only narrows
    assert get_resolver().reverse_dict  # the project's URLs load


def test_an_unblinded_person_alone_cannot_give_an_unblinded_role(client, people):
    statistician = people["statistician"]
    client.force_login(statistician)
    client.post(
        reverse("person_role_request", args=[people["colleague"].pk]),
        {"request-role": "dsmb", "request-reason": "help"},
    )
    request = RoleRequest.objects.get(person=people["colleague"])
    response = client.post(
        reverse("role_request_detail", args=[request.pk]),
        {"decision": "approve", "note": "mine", "password": TEST_PASSWORD},
    )
    assert response.status_code == 403
    assert not User.objects.get(pk=people["colleague"].pk).has_perm("randomization.view_arm")
    client.force_login(people["dsmb"])
    response = client.post(
        reverse("role_request_detail", args=[request.pk]),
        {"decision": "approve", "note": "agreed", "password": TEST_PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=people["colleague"].pk).has_perm("randomization.view_arm")
