"""People administration: invitations, blinded roles by one person, unblinded by two."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import TEST_PASSWORD, make_user
from people import services
from people.models import RoleRequest
from trial.models import AuditEvent
from trial.versions import StaleEdit

pytestmark = pytest.mark.django_db
User = get_user_model()


def person_input(**overrides) -> services.PersonInput:
    values = {"first_name": "Hu", "last_name": "Jun", "email": "hu@example.org", "roles": []}
    values.update(overrides)
    return services.PersonInput(**values)


def same_as(person, **changes) -> services.PersonInput:
    """The person as they are, with ``changes``: what a form loaded now would post."""
    state = services.person_state(person)
    from trial.models import Site

    values = {
        "first_name": state["first_name"],
        "last_name": state["last_name"],
        "email": state["email"],
        "language": state["language"],
        "all_sites": state["all_sites"],
        "sites": list(Site.objects.filter(code__in=state["sites"])),
        "roles": [r for r in state["roles"] if r not in services.unblinded_role_names()],
    }
    values.update(changes)
    return services.PersonInput(**values)


def can_see_arms(user) -> bool:
    fresh = User.objects.get(pk=user.pk)
    return fresh.is_superuser or fresh.has_perm("randomization.view_arm")


@pytest.fixture
def second_statistician(site):
    return make_user("statistician2", "unblinded_statistician", all_sites=True)


class TestInvite:
    def test_invite_with_blinded_roles_sends_a_working_link(
        self, client, datamanager, site, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            person = services.person_invite(
                username="newnurse",
                data=person_input(roles=["research_nurse"], sites=[site], language="zh-hans"),
                by=datamanager,
            )
        assert not person.has_usable_password()
        assert set(person.groups.values_list("name", flat=True)) == {"research_nurse"}
        assert list(person.profile.sites.all()) == [site]
        assert not person.is_staff
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["hu@example.org"]
        link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
        path = link.split("8000", 1)[-1] if "8000" in link else link
        response = client.get(path, follow=True)
        assert response.status_code == 200
        new_password = "a-long-new-password-for-hu-7"
        set_page = response.redirect_chain[-1][0]
        done = client.post(set_page, {"new_password1": new_password, "new_password2": new_password})
        assert done.status_code == 302
        client.logout()
        login = client.post(reverse("login"), {"username": "newnurse", "password": new_password})
        assert login.status_code == 302 and login["Location"] == "/"
        assert AuditEvent.objects.filter(model="auth.User", object_id=str(person.pk)).exists()

    def test_data_manager_role_comes_with_admin_access(self, datamanager):
        person = services.person_invite(
            username="dm2", data=person_input(roles=["data_manager"]), by=datamanager
        )
        assert person.is_staff and not person.is_superuser

    @pytest.mark.parametrize("role", ["dsmb", "unblinded_statistician"])
    def test_unblinded_role_cannot_be_given_by_invitation(self, datamanager, role):
        with pytest.raises(ValidationError) as excinfo:
            services.person_invite(username="x1", data=person_input(roles=[role]), by=datamanager)
        assert "roles" in excinfo.value.error_dict
        assert not User.objects.filter(username="x1").exists()

    def test_only_managers_invite(self, nurse):
        with pytest.raises(PermissionDenied):
            services.person_invite(username="x2", data=person_input(), by=nurse)

    def test_username_taken_is_a_field_error(self, datamanager, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.person_invite(username="NURSE", data=person_input(), by=datamanager)
        assert excinfo.value.error_dict["username"][0].message == services.USERNAME_TAKEN


class TestUpdate:
    def test_blinded_roles_change_and_unblinded_ones_are_kept(self, datamanager, dsmb):
        version = services.person_version(dsmb)
        services.person_update(
            person=dsmb, data=same_as(dsmb, roles=["investigator"]), version=version, by=datamanager
        )
        assert set(dsmb.groups.values_list("name", flat=True)) == {"dsmb", "investigator"}

    def test_nobody_changes_their_own_roles_or_sites(self, datamanager, site):
        version = services.person_version(datamanager)
        with pytest.raises(PermissionDenied):
            services.person_update(
                person=datamanager,
                data=same_as(datamanager, roles=["data_manager", "investigator"]),
                version=version,
                by=datamanager,
            )
        with pytest.raises(PermissionDenied):
            services.person_update(
                person=datamanager,
                data=same_as(datamanager, all_sites=False, sites=[site]),
                version=version,
                by=datamanager,
            )
        assert set(datamanager.groups.values_list("name", flat=True)) == {"data_manager"}

    def test_one_may_change_ones_own_name(self, datamanager):
        version = services.person_version(datamanager)
        services.person_update(
            person=datamanager,
            data=same_as(datamanager, first_name="Min"),
            version=version,
            by=datamanager,
        )
        datamanager.refresh_from_db()
        assert datamanager.first_name == "Min"

    def test_saving_over_a_newer_version_is_refused_with_what_changed(self, datamanager, nurse):
        old_tab = services.person_version(nurse)
        first_save = same_as(nurse, last_name="Changed")
        older_tab_save = same_as(nurse, first_name="Other")
        services.person_update(person=nurse, data=first_save, version=old_tab, by=datamanager)
        with pytest.raises(StaleEdit) as excinfo:
            services.person_update(
                person=nurse, data=older_tab_save, version=old_tab, by=datamanager
            )
        assert [(c.field, c.then, c.now) for c in excinfo.value.changes] == [
            ("last_name", "Na", "Changed")
        ]
        nurse.refresh_from_db()
        assert (nurse.first_name, nurse.last_name) == ("Li", "Changed")

    def test_email_of_an_unblinded_person_needs_an_unblinded_actor(
        self, datamanager, dsmb, statistician
    ):
        data = same_as(dsmb, email="attacker@example.org")
        with pytest.raises(PermissionDenied) as excinfo:
            services.person_update(
                person=dsmb, data=data, version=services.person_version(dsmb), by=datamanager
            )
        assert str(excinfo.value) == str(services.PROTECTED_PERSON)
        dsmb.refresh_from_db()
        assert dsmb.email != "attacker@example.org"


class TestAccounts:
    def test_deactivation_needs_a_visible_reason_and_ends_sessions(
        self, client, datamanager, nurse
    ):
        client.force_login(nurse)
        assert client.get(reverse("participant_list")).status_code == 200
        for empty in ["", "   ", "\u200b", "\u200b\u200d\ufeff", "\t\n"]:
            with pytest.raises(ValidationError):
                services.person_deactivate(person=nurse, reason=empty, by=datamanager)
        services.person_deactivate(person=nurse, reason="Left the hospital", by=datamanager)
        nurse.refresh_from_db()
        assert not nurse.is_active
        response = client.get(reverse("participant_list"))
        assert response.status_code == 302 and reverse("login") in response["Location"]
        line = AuditEvent.objects.filter(model="auth.User", object_id=str(nurse.pk)).latest(
            "sequence"
        )
        assert line.reason == "Left the hospital" and line.changes["is_active"] == [True, False]

    def test_nobody_deactivates_themselves(self, datamanager):
        with pytest.raises(PermissionDenied):
            services.person_deactivate(person=datamanager, reason="x", by=datamanager)

    @pytest.mark.parametrize("action", ["reactivate", "password_link", "second_factor"])
    def test_takeover_paths_to_an_unblinded_account_need_an_unblinded_actor(
        self, datamanager, dsmb, statistician, action
    ):
        TOTPDevice.objects.create(user=dsmb, name="phone", confirmed=True)
        dsmb.email = "dsmb@example.org"
        dsmb.save()
        if action == "reactivate":
            services.person_deactivate(person=dsmb, reason="Away", by=datamanager)
            call = lambda by: services.person_reactivate(person=dsmb, reason="Back", by=by)  # noqa: E731
        elif action == "password_link":
            call = lambda by: services.password_link_send(person=dsmb, by=by)  # noqa: E731
        else:
            call = lambda by: services.second_factor_reset(person=dsmb, reason="Lost", by=by)  # noqa: E731
        with pytest.raises(PermissionDenied):
            call(datamanager)
        call(statistician)  # someone who holds an unblinded role may

    def test_second_factor_reset_removes_devices_and_is_audited(self, datamanager, investigator):
        TOTPDevice.objects.create(user=investigator, name="phone", confirmed=True, key="ab" * 20)
        assert services.second_factor_reset(person=investigator, reason="New phone", by=datamanager)
        assert not TOTPDevice.objects.filter(user=investigator).exists()
        line = AuditEvent.objects.filter(model="otp.Device").latest("sequence")
        assert line.reason == "New phone" and line.username == "datamanager"
        assert "ab" * 20 not in str(line.changes)


class TestTwoPersonRule:
    def test_request_then_approval_by_another_unblinded_person(
        self, datamanager, nurse, statistician, dsmb
    ):
        request = services.role_request_create(
            person=nurse, role="dsmb", reason="Joins the DSMB as its nurse member", by=datamanager
        )
        assert not can_see_arms(nurse)
        # Told to the DSMB and the statistician at once, never to the person first.
        recipients = {address for message in mail.outbox for address in message.to}
        assert {dsmb.email, statistician.email} <= recipients or not (
            dsmb.email and statistician.email
        )
        services.role_request_decide(
            request=request,
            approve=True,
            note="Agreed by the DSMB chair",
            password=TEST_PASSWORD,
            by=statistician,
        )
        request.refresh_from_db()
        assert request.state == RoleRequest.State.APPROVED and request.decided_by == statistician
        assert can_see_arms(nurse)
        summaries = list(
            AuditEvent.objects.filter(model__in=["people.RoleRequest", "auth.User"]).values_list(
                "summary", flat=True
            )
        )
        assert any("requested" in s for s in summaries) and any("approved" in s for s in summaries)
        assert any(s.startswith("Roles added") for s in summaries)

    def test_a_blinded_manager_cannot_approve(self, datamanager, nurse, statistician):
        request = services.role_request_create(
            person=nurse, role="dsmb", reason="r", by=statistician
        )
        datamanager.set_password(TEST_PASSWORD)
        with pytest.raises(PermissionDenied):
            services.role_request_decide(
                request=request, approve=True, note="ok", password=TEST_PASSWORD, by=datamanager
            )
        assert not can_see_arms(nurse)

    def test_the_requester_cannot_approve_their_own_request(self, nurse, statistician):
        request = services.role_request_create(
            person=nurse, role="dsmb", reason="r", by=statistician
        )
        with pytest.raises(PermissionDenied):
            services.role_request_decide(
                request=request, approve=True, note="ok", password=TEST_PASSWORD, by=statistician
            )
        assert not can_see_arms(nurse)

    def test_the_person_concerned_cannot_approve(self, datamanager, statistician, dsmb):
        request = services.role_request_create(
            person=statistician, role="dsmb", reason="r", by=datamanager
        )
        with pytest.raises(PermissionDenied):
            services.role_request_decide(
                request=request, approve=True, note="ok", password=TEST_PASSWORD, by=statistician
            )
        services.role_request_decide(
            request=request, approve=True, note="ok", password=TEST_PASSWORD, by=dsmb
        )

    def test_nobody_requests_a_role_for_themselves(self, statistician):
        with pytest.raises(PermissionDenied):
            services.role_request_create(
                person=statistician, role="dsmb", reason="r", by=statistician
            )

    def test_the_decision_needs_the_password_and_a_note(self, datamanager, nurse, statistician):
        request = services.role_request_create(
            person=nurse, role="dsmb", reason="r", by=datamanager
        )
        with pytest.raises(ValidationError) as excinfo:
            services.role_request_decide(
                request=request, approve=True, note="\u200b", password="wrong", by=statistician
            )
        assert set(excinfo.value.error_dict) == {"note", "password"}
        assert not can_see_arms(nurse)

    def test_decided_request_cannot_be_decided_again(self, datamanager, nurse, statistician, dsmb):
        request = services.role_request_create(
            person=nurse, role="dsmb", reason="r", by=datamanager
        )
        services.role_request_decide(
            request=request, approve=False, note="No", password=TEST_PASSWORD, by=statistician
        )
        with pytest.raises(ValidationError):
            services.role_request_decide(
                request=request, approve=True, note="Yes", password=TEST_PASSWORD, by=dsmb
            )
        assert not can_see_arms(nurse)

    def test_only_unblinded_roles_are_requested(self, datamanager, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.role_request_create(
                person=nurse, role="investigator", reason="r", by=datamanager
            )
        assert excinfo.value.error_dict["role"][0].message == services.NOT_AN_UNBLINDED_ROLE

    def test_a_role_added_later_that_sees_arms_is_unblinded(self, datamanager, nurse):
        from django.contrib.auth.models import Permission

        pharmacist = Group.objects.create(name="pharmacist")
        pharmacist.permissions.add(Permission.objects.get(codename="manage_lists"))
        assert "pharmacist" in services.unblinded_role_names()
        with pytest.raises(ValidationError):
            services.person_invite(
                username="ph", data=person_input(roles=["pharmacist"]), by=datamanager
            )
        version = services.person_version(nurse)
        with pytest.raises(ValidationError):
            services.person_update(
                person=nurse,
                data=person_input(email=nurse.email, roles=["research_nurse", "pharmacist"]),
                version=version,
                by=datamanager,
            )

    def test_database_refuses_a_decision_by_the_requester(self, datamanager, nurse, statistician):
        request = RoleRequest.objects.create(
            person=nurse, role="dsmb", reason="r", requested_by=statistician
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            RoleRequest.objects.filter(pk=request.pk).update(
                state="approved", decided_by=statistician
            )
        with pytest.raises(IntegrityError), transaction.atomic():
            RoleRequest.objects.create(person=nurse, role="x", reason="r", requested_by=nurse)

    def test_revoke_narrows_access_and_is_told(
        self, datamanager, dsmb, statistician, django_capture_on_commit_callbacks
    ):
        statistician.email = "stat@example.org"
        statistician.save()
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.role_revoke(person=dsmb, role="dsmb", reason="Term ended", by=datamanager)
        assert not can_see_arms(dsmb)
        assert "stat@example.org" in {a for m in mail.outbox for a in m.to}

    def test_withdrawn_request_cannot_be_approved(self, datamanager, nurse, statistician):
        request = services.role_request_create(
            person=nurse, role="dsmb", reason="r", by=datamanager
        )
        services.role_request_withdraw(request=request, by=datamanager)
        with pytest.raises(ValidationError):
            services.role_request_decide(
                request=request, approve=True, note="ok", password=TEST_PASSWORD, by=statistician
            )
        assert not can_see_arms(nurse)
