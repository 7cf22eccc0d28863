"""Randomization pages: the statistician's lists, the nurse's Randomize, code-breaks, blinding."""

import hashlib
import re
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from conftest import TEST_PASSWORD
from randomization import forms, services, unblinded
from randomization.models import Allocation, CodeBreak, RandomizationList

pytestmark = pytest.mark.django_db

BLINDED_ROLES = ["research_nurse", "blinded_assessor", "investigator", "data_manager"]

STATISTICIAN_GET_PAGES = [
    "list_index",
    "list_new",
    "list_detail",
    "list_csv",
    "list_sas",
    "list_labels",
    "list_envelopes",
]
STATISTICIAN_POST_PAGES = ["list_verify", "list_activate", "list_retire", "list_extend"]


def page_url(name, rlist):
    return reverse(name) if name in {"list_index", "list_new"} else reverse(name, args=[rlist.pk])


@pytest.mark.parametrize("role", [*BLINDED_ROLES, "dsmb"])
@pytest.mark.parametrize("page", STATISTICIAN_GET_PAGES)
def test_list_pages_forbidden_to_everyone_but_the_statistician(
    client, role_users, active_list, role, page
):
    client.force_login(role_users[role])
    response = client.get(page_url(page, active_list))
    assert response.status_code == 403
    assert b"PLACEBO" not in response.content


@pytest.mark.parametrize("role", [*BLINDED_ROLES, "dsmb"])
@pytest.mark.parametrize("page", STATISTICIAN_POST_PAGES)
def test_list_actions_forbidden_to_everyone_but_the_statistician(
    client, role_users, active_list, role, page
):
    client.force_login(role_users[role])
    assert client.post(page_url(page, active_list), {"n_slots": 4}).status_code == 403
    assert RandomizationList.objects.count() == 1


@pytest.mark.parametrize("page", STATISTICIAN_GET_PAGES)
def test_statistician_pages_work(client, statistician, active_list, page):
    client.force_login(statistician)
    response = client.get(page_url(page, active_list))
    assert response.status_code == 200
    if page == "list_detail":
        body = response.content.decode()
        assert "27371" in body and "PLACEBO" in body and active_list.sha256 in body
    if page == "list_csv":
        lines = response.content.decode().splitlines()
        assert lines[0] == "position,sequence,block,block_size,arm,pack_code"
        assert len(lines) == 41
        assert "unblinded-list-" in response["Content-Disposition"]
    if page == "list_sas":
        assert "proc plan seed=27371" in response.content.decode().lower()
    if page in {"list_labels", "list_envelopes"}:
        assert response.content.startswith(b"%PDF")


def test_labels_carry_no_arm_and_envelopes_do(rf, statistician, active_list):
    from django.template.loader import render_to_string

    packs = list(active_list.slots.values_list("pack_code", flat=True))
    labels = render_to_string(
        "randomization/pdf_labels.html", {"rlist": active_list, "packs": packs}
    )
    assert "PLACEBO" not in labels and "001" in labels
    rows = unblinded.list_contents(rlist=active_list, user=statistician, reason="t")
    envelopes = render_to_string(
        "randomization/pdf_envelopes.html", {"rlist": active_list, "rows": rows}
    )
    assert envelopes.count("PLACEBO") == 20 and envelopes.count(">MLT<") == 20


def test_printing_labels_is_recorded_by_the_service(client, statistician, nurse, active_list):
    from django.core.exceptions import PermissionDenied

    from trial.models import AuditEvent

    client.force_login(statistician)
    assert client.get(reverse("list_labels", args=[active_list.pk])).content.startswith(b"%PDF")
    printed = AuditEvent.objects.filter(summary="Pack labels printed", user=statistician)
    assert printed.get().object_id == str(active_list.pk)
    with pytest.raises(PermissionDenied):
        services.list_labels_record(rlist=active_list, by=nurse)
    assert printed.count() == AuditEvent.objects.filter(summary="Pack labels printed").count()


def test_list_actions_show_the_refusal_or_the_success_on_the_list_page(
    client, statistician, active_list
):
    client.force_login(statistician)
    for name, message in [
        ("list_activate", services.LIST_NOT_SEALED),
        ("list_retire", services.LIST_IN_USE),
    ]:
        response = client.post(reverse(name, args=[active_list.pk]), follow=True)
        assert response.redirect_chain[-1][0] == reverse("list_detail", args=[active_list.pk])
        assert [str(m) for m in response.context["messages"]] == [str(message)]
    active_list.refresh_from_db()
    assert active_list.status == "active"


def test_statistician_creates_verifies_and_activates(client, statistician):
    client.force_login(statistician)
    response = client.post(
        reverse("list_new"),
        {
            "name": "Main",
            "template": "random_blocks",
            "arms": "MLT, PLACEBO",
            "ratio": "1, 1",
            "block_sizes": "2, 4, 6",
            "n_slots": "120",
            "pack_code_style": "position",
        },
    )
    rlist = RandomizationList.objects.get()
    assert response["Location"] == reverse("list_detail", args=[rlist.pk])
    assert rlist.list_length >= 120
    response = client.post(reverse("list_verify", args=[rlist.pk]))
    assert response.context["result"].matches is True
    client.post(reverse("list_activate", args=[rlist.pk]))
    rlist.refresh_from_db()
    assert rlist.status == "active"


@pytest.mark.parametrize(
    ("field", "value"),
    [("arms", "MLT"), ("ratio", "1, x"), ("block_sizes", "3"), ("seed", "0"), ("n_slots", "0")],
)
def test_bad_list_input_is_refused_beside_the_field(client, statistician, field, value):
    client.force_login(statistician)
    data = {
        "name": "M",
        "template": "plan",
        "arms": "MLT, PLACEBO",
        "ratio": "1, 1",
        "block_sizes": "4",
        "n_slots": "12",
        "pack_code_style": "position",
        field: value,
    }
    response = client.post(reverse("list_new"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors  # next to the field or, for domain rules, at the top
    assert RandomizationList.objects.count() == 0


def test_fingerprints_for_all_staff_without_parameters(client, role_users, active_list):
    salt = unblinded.list_parameters(
        rlist=active_list, user=role_users["unblinded_statistician"], reason="test"
    ).salt
    for user in role_users.values():
        client.force_login(user)
        body = client.get(reverse("list_fingerprints")).content.decode()
        assert active_list.sha256 in body
        assert "27371" not in body and "plan" not in body.lower().replace("explan", "")
        assert "block" not in body.lower()
        assert salt not in body and salt.upper() not in body


@pytest.mark.parametrize("role", [*BLINDED_ROLES, "dsmb"])
def test_the_salt_is_not_shown_to_anyone_but_the_statistician(
    client, role_users, active_list, role
):
    salt = unblinded.list_parameters(
        rlist=active_list, user=role_users["unblinded_statistician"], reason="test"
    ).salt
    client.force_login(role_users[role])
    for url in ("/", reverse("list_fingerprints"), reverse("list_detail", args=[active_list.pk])):
        assert salt not in client.get(url).content.decode()
    response = client.post(reverse("list_verify", args=[active_list.pk]))
    assert response.status_code == 403 and salt not in response.content.decode()


def test_list_detail_and_verify_show_the_salt_to_the_statistician(
    client, statistician, active_list
):
    salt = unblinded.list_parameters(rlist=active_list, user=statistician, reason="test").salt
    client.force_login(statistician)
    body = client.get(reverse("list_detail", args=[active_list.pk])).content.decode()
    assert f'data-testid="salt">{salt}<' in body
    assert "SHA-256 of a secret salt followed by the canonical list" in body
    response = client.post(reverse("list_verify", args=[active_list.pk]))
    assert response.context["result"].matches is True
    assert f'data-testid="salt">{salt}<' in response.content.decode()


def test_list_new_recommends_random_blocks_and_random_pack_codes(client, statistician):
    client.force_login(statistician)
    response = client.get(reverse("list_new"))
    body = response.content.decode()
    assert 'data-testid="list-recommendation"' in body
    assert "Use random block sizes and random pack codes." in body
    assert "breaking the code for one participant narrows down" in body
    form = response.context["form"]
    assert form["template"].value() == "random_blocks"
    assert form["pack_code_style"].value() == "random"
    assert form["block_sizes"].value() == "2, 4, 6"
    assert re.search(r'<option value="random_blocks"[^>]*selected', body)
    assert re.search(r'<option value="random"[^>]*selected', body)
    assert "Random block sizes (recommended)" in body

    # Accepting the page's defaults seals a list with random blocks and random codes.
    client.post(
        reverse("list_new"),
        {
            "name": form["name"].value(),
            "template": form["template"].value(),
            "arms": form["arms"].value(),
            "ratio": form["ratio"].value(),
            "block_sizes": form["block_sizes"].value(),
            "n_slots": "30",
            "pack_code_style": form["pack_code_style"].value(),
        },
    )
    rlist = RandomizationList.objects.get()
    assert rlist.pack_code_style == "random"
    parameters = unblinded.list_parameters(rlist=rlist, user=statistician, reason="test")
    assert (parameters.template, parameters.block_sizes) == ("random_blocks", [2, 4, 6])
    assert all(
        services.luhn_valid(code) for code in rlist.slots.values_list("pack_code", flat=True)
    )


def test_list_new_still_allows_fixed_blocks_and_numbered_packs(client, statistician):
    client.force_login(statistician)
    data = {
        "name": "Fixed",
        "template": "plan",
        "arms": "MLT, PLACEBO",
        "ratio": "1, 1",
        "block_sizes": "2, 4, 6",
        "n_slots": "12",
        "pack_code_style": "position",
    }
    response = client.post(reverse("list_new"), data)
    assert response.context["form"].errors == {"block_sizes": [str(forms.FIXED_SIZE_TAKES_ONE)]}
    response = client.post(reverse("list_new"), {**data, "block_sizes": "4"})
    assert response.status_code == 302
    rlist = RandomizationList.objects.get()
    assert rlist.slots.order_by("position").first().pack_code == "001"


class TestNurseRandomizes:
    def test_randomize_shows_pack_never_arm(
        self, client, nurse, active_list, make_ready_participant
    ):
        participant = make_ready_participant()
        client.force_login(nurse)
        url = reverse("randomize", args=[participant.study_id])
        assert client.get(url).status_code == 200
        response = client.post(url, {})
        assert response.status_code == 200
        assert "eligibility_reconfirmed" in response.context["form"].errors
        assert Allocation.objects.count() == 0
        response = client.post(url, {"eligibility_reconfirmed": "on"}, follow=True)
        body = response.content.decode()
        assert "Dispense pack 001" in body
        assert "MLT</" not in body and "PLACEBO" not in body and "Placebo" not in body
        response = client.post(
            reverse("dispense", args=[participant.study_id]),
            {"dispensed_on": Allocation.objects.get().randomized_on.isoformat()},
        )
        assert response.status_code == 302
        assert Allocation.objects.get().dispensed_by == nurse

    def test_randomize_page_explains_blockers(self, client, nurse, active_list, make_participant):
        participant = make_participant()
        client.force_login(nurse)
        body = client.get(reverse("randomize", args=[participant.study_id])).content.decode()
        assert str(services.NO_BASELINE) in body
        client.post(
            reverse("randomize", args=[participant.study_id]), {"eligibility_reconfirmed": "on"}
        )
        assert Allocation.objects.count() == 0

    @pytest.mark.parametrize(
        "role",
        ["blinded_assessor", "investigator", "data_manager", "dsmb", "unblinded_statistician"],
    )
    def test_only_nurse_randomizes(
        self, client, role_users, active_list, make_ready_participant, role
    ):
        participant = make_ready_participant()
        client.force_login(role_users[role])
        url = reverse("randomize", args=[participant.study_id])
        assert client.post(url, {"eligibility_reconfirmed": "on"}).status_code == 403
        assert Allocation.objects.count() == 0


class TestCodeBreakPages:
    def test_investigator_breaks_code_with_password(
        self, client, investigator, nurse, active_list, make_ready_participant
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        client.force_login(investigator)
        url = reverse("code_break", args=[participant.study_id])
        response = client.post(url, {"reason": "Severe reaction", "password": "wrong"})
        assert response.status_code == 200
        assert "password" in response.context["form"].errors
        assert CodeBreak.objects.count() == 0
        response = client.post(url, {"reason": "Severe reaction", "password": TEST_PASSWORD})
        broken = CodeBreak.objects.get()
        assert response["Location"] == reverse("code_break_result", args=[broken.pk])
        result = client.get(response["Location"])
        arm = unblinded.code_break_arm(code_break=broken, user=investigator)
        assert f'data-testid="arm">{arm}<' in result.content.decode()
        assert result["Cache-Control"] == "no-store"

        # Blinded staff see that the code was broken, and when, but never the arm.
        client.force_login(nurse)
        body = client.get(
            reverse("participant_detail", args=[participant.study_id])
        ).content.decode()
        assert "code broken on" in body
        assert arm not in body.replace("MLT trial", "").replace("MLT-", "")

    @pytest.mark.parametrize(
        "role",
        ["research_nurse", "blinded_assessor", "data_manager", "dsmb", "unblinded_statistician"],
    )
    def test_code_break_page_only_for_investigators(
        self, client, role_users, active_list, make_ready_participant, role
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=role_users["research_nurse"])
        client.force_login(role_users[role])
        url = reverse("code_break", args=[participant.study_id])
        assert client.get(url).status_code == 403
        assert client.post(url, {"reason": "x", "password": TEST_PASSWORD}).status_code == 403


def _normalise(body: str, participant, allocation) -> str:
    """Blank out what legitimately differs between two participants: their ids.

    Times need no blanking: the test runs with the clock frozen, so both
    participants are screened, consented and randomized in the same minute
    (pages show times to the minute, in the reader's format, e.g. 25 Nov 2026 14:05).
    """
    for value in (
        participant.study_id,
        participant.screening.screening_id,
        participant.screening.hospital_number,
        allocation.pack_code,
    ):
        body = body.replace(value, "«id»")
    body = body.replace(f"/screening/{participant.screening.pk}/", "/screening/«pk»/")
    body = re.sub(r"/followup/visits/\d+/", "/followup/visits/«pk»/", body)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


# 14:05 in Changsha: a minute away from any boundary, whatever the test's own speed.
FROZEN_AT = datetime(2026, 11, 25, 6, 5, 20, tzinfo=UTC)


@pytest.mark.parametrize("role", BLINDED_ROLES)
def test_blinded_pages_identical_for_participants_in_different_arms(
    client, role_users, statistician, active_list, make_ready_participant, role, time_machine
):
    time_machine.move_to(FROZEN_AT, tick=False)
    nurse = role_users["research_nurse"]
    first = make_ready_participant(initials="AB")
    second = make_ready_participant(initials="AB")
    a1 = services.allocation_assign(participant=first, by=nurse)
    a2 = services.allocation_assign(participant=second, by=nurse)
    arms = [
        unblinded.participant_arm(participant=p, user=statistician, reason="test precondition")
        for p in (first, second)
    ]
    # The fixture's seed 27371 puts slots 1 and 2 in different arms; without that
    # this test would compare two participants in the same arm and prove nothing.
    assert arms == ["PLACEBO", "MLT"]
    assert a1.randomized_at == a2.randomized_at == FROZEN_AT
    client.force_login(role_users[role])
    for name in ("participant_detail", "randomize", "code_break"):
        pages = []
        for participant, allocation in ((first, a1), (second, a2)):
            response = client.get(reverse(name, args=[participant.study_id]))
            pages.append(
                (
                    response.status_code,
                    _normalise(response.content.decode(), participant, allocation),
                )
            )
        if pages[0] != pages[1]:
            import difflib

            diff = difflib.unified_diff(
                pages[0][1].splitlines(), pages[1][1].splitlines(), lineterm=""
            )
            pytest.fail(f"{role} {name} differs:\n" + "\n".join(diff))


def test_management_command_create_verify_export(tmp_path, statistician, nurse, capsys):
    call_command(
        "randomization_list",
        "create",
        "--user",
        "statistician",
        "--slots",
        "8",
        "--seed",
        "45",
        "--activate",
    )
    rlist = RandomizationList.objects.get()
    assert rlist.status == "active"
    call_command("randomization_list", "verify", "--user", "statistician", "--list", str(rlist.pk))
    assert "matches" in capsys.readouterr().out
    out = tmp_path / "list.csv"
    call_command(
        "randomization_list",
        "export",
        "--user",
        "statistician",
        "--list",
        str(rlist.pk),
        "--output",
        str(out),
    )
    assert len(out.read_text().splitlines()) == 9
    call_command(
        "randomization_list", "sas-program", "--user", "statistician", "--list", str(rlist.pk)
    )
    assert "seed=45" in capsys.readouterr().out
    from trial.models import AuditEvent

    assert AuditEvent.objects.filter(summary__contains="run by OS user").count() == 4
    with pytest.raises(CommandError):
        call_command("randomization_list", "verify", "--user", "nurse", "--list", str(rlist.pk))


def test_management_command_reveals_salt_and_canonical_form(tmp_path, statistician, capsys):
    rlist = services.list_create(
        spec=services.ListSpec(
            name="Main",
            template="random_blocks",
            arms=["MLT", "Plácebo"],
            ratio=[1, 1],
            block_sizes=[2, 4],
            n_slots=8,
        ),
        by=statistician,
    )
    capsys.readouterr()
    canonical_file = tmp_path / "canonical.json"
    call_command(
        "randomization_list",
        "reveal",
        "--user",
        "statistician",
        "--list",
        str(rlist.pk),
        "--canonical-output",
        str(canonical_file),
    )
    lines = capsys.readouterr().out.splitlines()
    assert "scheme: sha256-salted" in lines
    assert f"fingerprint: {rlist.sha256}" in lines
    salt_hex = next(line for line in lines if line.startswith("salt (hex): ")).split(": ")[1]
    heading = next(i for i, line in enumerate(lines) if line.startswith("canonical form ("))
    canonical = lines[heading + 1].encode("utf-8")
    assert canonical == canonical_file.read_bytes()
    assert hashlib.sha256(bytes.fromhex(salt_hex) + canonical).hexdigest() == rlist.sha256
    assert f"({len(canonical)} bytes of UTF-8" in lines[heading]
    assert "Plácebo" in canonical.decode()
    assert lines[-1] == "OK: the salt and canonical form give the fingerprint"
    from randomization.models import ArmAccess
    from trial.models import AuditEvent

    assert ArmAccess.objects.filter(reason="reveal commitment", user=statistician).count() == 2
    assert AuditEvent.objects.filter(summary__contains="reveal run by OS user").count() == 1
    with pytest.raises(CommandError):
        call_command("randomization_list", "reveal", "--user", "nurse", "--list", str(rlist.pk))
