"""Sealed lists, allocation, dispensing and code-breaks through the services."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from randomization import lists, services, unblinded
from randomization.crypto import unseal
from randomization.models import Allocation, ArmAccess, CodeBreak, RandomizationList, Slot
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db


def spec(**overrides):
    values = {
        "name": "L",
        "template": "plan",
        "arms": ["MLT", "PLACEBO"],
        "ratio": [1, 1],
        "block_sizes": [4],
        "n_slots": 10,
        "seed": 45,
    }
    values.update(overrides)
    return services.ListSpec(**values)


class TestSealing:
    def test_hash_is_the_canonical_hash_of_the_generated_list(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        rows = lists.build_list(
            template="plan",
            seed=45,
            arms=["MLT", "PLACEBO"],
            ratio=[1, 1],
            block_sizes=[4],
            n_slots=10,
        )
        assert rlist.sha256 == lists.list_hash(
            template="plan",
            generator=lists.GENERATOR,
            seed=45,
            arms=["MLT", "PLACEBO"],
            ratio=[1, 1],
            block_sizes=[4],
            n_slots=10,
            rows=rows,
        )
        assert rlist.list_length == 12  # whole blocks: ceil(10 / 4) = 3 blocks
        stored = [unseal(s.arm_token)["arm"] for s in rlist.slots.order_by("sequence")]
        assert stored == [row["arm"] for row in rows]
        assert AuditEvent.objects.filter(summary__contains=rlist.sha256).exists()

    def test_seed_drawn_at_random_when_not_entered(self, statistician):
        first = services.list_create(spec=spec(seed=None), by=statistician)
        second = services.list_create(spec=spec(seed=None, stratum="other"), by=statistician)
        p1 = unblinded.list_parameters(rlist=first, user=statistician, reason="test")
        p2 = unblinded.list_parameters(rlist=second, user=statistician, reason="test")
        assert p1.seed_source == p2.seed_source == "random"
        assert 1 <= p1.seed <= 2**31 - 2
        assert p1.seed != p2.seed

    @pytest.mark.parametrize("seed", [0, -5, 2**31 - 1])
    def test_seed_out_of_range_refused(self, statistician, seed):
        with pytest.raises(ValidationError):
            services.list_create(spec=spec(seed=seed), by=statistician)
        assert RandomizationList.objects.count() == 0

    def test_bad_parameters_refused_whole(self, statistician):
        with pytest.raises(ValidationError):
            services.list_create(spec=spec(block_sizes=[3]), by=statistician)
        assert Slot.objects.count() == 0

    def test_two_to_one_ratio_and_other_arm_names(self, statistician):
        rlist = services.list_create(
            spec=spec(arms=["A", "B"], ratio=[2, 1], block_sizes=[6], n_slots=12),
            by=statistician,
        )
        arms = [c.arm for c in unblinded.list_contents(rlist=rlist, user=statistician, reason="t")]
        assert arms.count("A") == 8 and arms.count("B") == 4

    def test_only_the_statistician_manages_lists(self, nurse, investigator, dsmb, datamanager):
        for user in (nurse, investigator, dsmb, datamanager):
            with pytest.raises(PermissionDenied):
                services.list_create(spec=spec(), by=user)

    def test_database_dump_reveals_no_arm_seed_or_block(self, statistician):
        rlist = services.list_create(spec=spec(seed=123456789, block_sizes=[6]), by=statistician)
        with connection.cursor() as cursor:
            dump = []
            for table in (
                "randomization_slot",
                "randomization_randomizationlist",
                "randomization_historicalrandomizationlist",
                "trial_auditevent",
            ):
                cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
                dump.extend(str(row) for row in cursor.fetchall())
        text = "\n".join(dump)
        assert "123456789" not in text
        assert "PLACEBO" not in text.replace('"PLACEBO"]', "")  # only the arm names list
        tokens = list(rlist.slots.values_list("arm_token", flat=True))
        assert len(set(tokens)) == len(tokens)  # no two equal tokens, even for equal arms
        assert len({len(t) for t in tokens}) == 1  # and all the same length

    def test_activation_once_and_one_live_list_per_stratum(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        services.list_activate(rlist=rlist, by=statistician)
        with pytest.raises(ValidationError):
            services.list_activate(rlist=rlist, by=statistician)
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(spec=spec(seed=46), by=statistician)
        assert excinfo.value.messages == [str(services.STRATUM_HAS_LIST)]

    def test_identical_list_refused(self, statistician):
        services.list_create(spec=spec(), by=statistician)
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(spec=spec(stratum=""), by=statistician)
        assert str(services.IDENTICAL_LIST) in excinfo.value.messages

    def test_retired_unused_list_can_be_replaced(self, statistician):
        first = services.list_create(spec=spec(), by=statistician)
        services.list_delete(rlist=first, by=statistician)
        second = services.list_create(spec=spec(seed=46), by=statistician)
        assert second.slots.order_by("position").first().pack_code == "001"

    def test_extension_is_separately_sealed_and_continues_positions(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        services.list_activate(rlist=rlist, by=statistician)
        extension = services.list_extend(
            rlist=rlist, spec=spec(seed=99, n_slots=8), by=statistician
        )
        assert extension.sha256 != rlist.sha256
        assert extension.position_offset == 12
        positions = list(extension.slots.order_by("position").values_list("position", flat=True))
        assert positions == list(range(13, 21))
        assert extension.status == RandomizationList.Status.ACTIVE

    def test_used_list_cannot_be_retired(
        self, active_list, statistician, make_ready_participant, nurse
    ):
        services.allocation_assign(participant=make_ready_participant(), by=nurse)
        with pytest.raises(ValidationError):
            services.list_delete(rlist=active_list, by=statistician)

    def test_verify_matches_and_then_detects_tampering(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        assert services.list_verify(rlist=rlist, by=statistician).matches is True
        first, second = rlist.slots.order_by("sequence")[:2]
        arms = [unseal(s.arm_token)["arm"] for s in (first, second)]
        # Swap two slots whose arms differ: someone edited the stored list.
        pair = [s for s in rlist.slots.order_by("sequence")]
        a = pair[0]
        b = next(s for s in pair if unseal(s.arm_token)["arm"] != unseal(a.arm_token)["arm"])
        a.arm_token, b.arm_token = b.arm_token, a.arm_token
        Slot.objects.bulk_update([a, b], ["arm_token"])
        result = services.list_verify(rlist=rlist, by=statistician)
        assert result.matches is False
        assert any(f"Sequence {a.sequence}" in d for d in result.differences)
        assert any(f"Sequence {b.sequence}" in d for d in result.differences)
        assert arms  # the comparison named the arms, for the statistician only

    def test_random_pack_codes_have_a_valid_check_digit(self, statistician):
        rlist = services.list_create(spec=spec(pack_code_style="random"), by=statistician)
        codes = list(rlist.slots.values_list("pack_code", flat=True))
        assert len(set(codes)) == len(codes) == 12
        assert all(services.luhn_valid(code) and len(code) == 8 for code in codes)
        assert not services.luhn_valid(codes[0][:-1] + str((int(codes[0][-1]) + 1) % 10))

    def test_position_pack_codes(self, active_list):
        assert list(
            active_list.slots.order_by("position").values_list("pack_code", flat=True)[:3]
        ) == ["001", "002", "003"]

    def test_stratified_lists_each_have_their_own_seed(self, statistician):
        created = services.list_create_stratified(
            spec=spec(seed=None), strata=["changsha", "wuhan"], by=statistician
        )
        seeds = {
            unblinded.list_parameters(rlist=r, user=statistician, reason="t").seed for r in created
        }
        assert len(seeds) == 2
        assert {r.stratum for r in created} == {"changsha", "wuhan"}
        assert created[0].slots.first().pack_code.startswith("CHANGSHA-")


class TestAllocation:
    def test_next_unused_slot_in_order(self, active_list, make_ready_participant, nurse):
        allocations = [
            services.allocation_assign(participant=make_ready_participant(), by=nurse)
            for _ in range(5)
        ]
        assert [a.slot.position for a in allocations] == [1, 2, 3, 4, 5]
        assert [a.pack_code for a in allocations] == ["001", "002", "003", "004", "005"]
        assert all(a.randomized_on == timezone.localdate() for a in allocations)

    def test_a_participant_is_randomized_once(self, active_list, make_ready_participant, nurse):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        with pytest.raises(ValidationError) as excinfo:
            services.allocation_assign(participant=participant, by=nurse)
        assert str(services.ALREADY_RANDOMIZED) in excinfo.value.messages
        assert Allocation.objects.count() == 1

    def test_baseline_required(self, active_list, make_participant, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.allocation_assign(participant=make_participant(), by=nurse)
        assert str(services.NO_BASELINE) in excinfo.value.messages

    def test_eligibility_must_be_reconfirmed(self, active_list, make_ready_participant, nurse):
        with pytest.raises(ValidationError):
            services.allocation_assign(
                participant=make_ready_participant(), by=nurse, eligibility_reconfirmed=False
            )
        assert Allocation.objects.count() == 0

    def test_no_active_list(self, make_ready_participant, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.allocation_assign(participant=make_ready_participant(), by=nurse)
        assert excinfo.value.messages == [str(services.NO_ACTIVE_LIST)]

    def test_only_the_nurse_randomizes(self, active_list, make_ready_participant, role_users):
        participant = make_ready_participant()
        for role, user in role_users.items():
            if role == "research_nurse":
                continue
            with pytest.raises(PermissionDenied):
                services.allocation_assign(participant=participant, by=user)

    def test_exhausted_list_gives_clear_message_and_notifies(
        self, statistician, make_ready_participant, nurse, django_capture_on_commit_callbacks
    ):
        statistician.email = "stats@example.org"
        statistician.save()
        rlist = services.list_create(spec=spec(n_slots=2, block_sizes=[2]), by=statistician)
        services.list_activate(rlist=rlist, by=statistician)
        services.allocation_assign(participant=make_ready_participant(), by=nurse)
        services.allocation_assign(participant=make_ready_participant(), by=nurse)
        third = make_ready_participant()
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(ValidationError) as excinfo,
        ):
            services.allocation_assign(participant=third, by=nurse)
        assert excinfo.value.messages == [str(services.LIST_EXHAUSTED)]
        assert Allocation.objects.count() == 2
        assert not Allocation.objects.filter(participant=third).exists()
        assert [m.to for m in mail.outbox] == [["stats@example.org"]]
        assert "PLACEBO" not in mail.outbox[0].body and "MLT" not in mail.outbox[0].body.replace(
            "MLT trial", ""
        )

    def test_extension_is_used_after_the_base_list(
        self, statistician, make_ready_participant, nurse
    ):
        rlist = services.list_create(spec=spec(n_slots=2, block_sizes=[2]), by=statistician)
        services.list_activate(rlist=rlist, by=statistician)
        services.list_extend(
            rlist=rlist, spec=spec(n_slots=2, block_sizes=[2], seed=7), by=statistician
        )
        positions = [
            services.allocation_assign(participant=make_ready_participant(), by=nurse).slot.position
            for _ in range(4)
        ]
        assert positions == [1, 2, 3, 4]

    def test_allocation_is_audited_without_the_arm(
        self, active_list, make_ready_participant, nurse
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        event = AuditEvent.objects.get(model="randomization.Allocation", action="create")
        assert event.subject == participant.study_id
        text = str(event.changes) + event.summary
        assert "MLT" not in text.replace(participant.study_id, "") and "PLACEBO" not in text

    def test_dispensing(self, active_list, make_ready_participant, nurse):
        allocation = services.allocation_assign(participant=make_ready_participant(), by=nurse)
        with pytest.raises(ValidationError):
            services.allocation_dispense(
                allocation=allocation,
                dispensed_on=timezone.localdate() + timedelta(days=1),
                by=nurse,
            )
        services.allocation_dispense(
            allocation=allocation, dispensed_on=timezone.localdate(), by=nurse
        )
        allocation.refresh_from_db()
        assert allocation.dispensed_by == nurse
        with pytest.raises(ValidationError) as excinfo:
            services.allocation_dispense(
                allocation=allocation, dispensed_on=timezone.localdate(), by=nurse
            )
        assert excinfo.value.messages == [str(services.ALREADY_DISPENSED)]


class TestArmAccess:
    def test_blinded_roles_cannot_read_an_arm(
        self, active_list, make_ready_participant, role_users
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=role_users["research_nurse"])
        for role in ("research_nurse", "blinded_assessor", "investigator", "data_manager"):
            with pytest.raises(PermissionDenied):
                unblinded.participant_arm(
                    participant=participant, user=role_users[role], reason="x"
                )
        assert ArmAccess.objects.count() == 0

    def test_every_read_is_recorded(self, active_list, make_ready_participant, nurse, dsmb):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        arm = unblinded.participant_arm(participant=participant, user=dsmb, reason="SAE review")
        assert arm in {"MLT", "PLACEBO"}
        access = ArmAccess.objects.get()
        assert (access.user, access.participant, access.reason) == (dsmb, participant, "SAE review")
        event = AuditEvent.objects.get(
            model="randomization.ArmAccess", subject=participant.study_id
        )
        assert event.user == dsmb
        assert event.reason == ""  # free text could name an arm; it stays in ArmAccess


class TestCodeBreak:
    def test_code_break(
        self,
        active_list,
        make_ready_participant,
        nurse,
        investigator,
        dsmb,
        statistician,
        django_capture_on_commit_callbacks,
    ):
        dsmb.email, statistician.email = "dsmb@example.org", "stats@example.org"
        dsmb.save()
        statistician.save()
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        with django_capture_on_commit_callbacks(execute=True):
            broken = services.code_break_request(
                participant=participant,
                reason="Anaphylaxis",
                password="correct-horse-battery-staple-42",
                by=investigator,
            )
        arm = unblinded.code_break_arm(code_break=broken, user=investigator)
        assert arm in {"MLT", "PLACEBO"}
        assert len(mail.outbox) == 1
        assert set(mail.outbox[0].to) == {"dsmb@example.org", "stats@example.org"}
        assert arm not in mail.outbox[0].body
        participant.refresh_from_db()
        assert participant.status == "on_study"
        assert AuditEvent.objects.filter(
            model="randomization.CodeBreak", subject=participant.study_id
        ).exists()
        assert (
            ArmAccess.objects.filter(purpose="emergency code-break", user=investigator).count() == 1
        )

    def test_wrong_password_and_missing_reason_refused(
        self, active_list, make_ready_participant, nurse, investigator
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        with pytest.raises(ValidationError) as excinfo:
            services.code_break_request(
                participant=participant, reason=" ", password="nope", by=investigator
            )
        assert set(excinfo.value.message_dict) == {"reason", "password"}
        assert CodeBreak.objects.count() == 0

    def test_only_the_investigator_who_broke_sees_the_arm(
        self, active_list, make_ready_participant, nurse, investigator, site
    ):
        from conftest import make_user

        other = make_user("investigator2", "investigator", sites=[site])
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        broken = services.code_break_request(
            participant=participant,
            reason="SAE",
            password="correct-horse-battery-staple-42",
            by=investigator,
        )
        with pytest.raises(PermissionDenied):
            unblinded.code_break_arm(code_break=broken, user=other)
        with pytest.raises(PermissionDenied):
            services.code_break_request(participant=participant, reason="x", password="y", by=nurse)

    def test_cannot_break_unrandomized(self, make_ready_participant, investigator):
        with pytest.raises(ValidationError) as excinfo:
            services.code_break_request(
                participant=make_ready_participant(),
                reason="x",
                password="correct-horse-battery-staple-42",
                by=investigator,
            )
        assert excinfo.value.messages == [str(services.NOT_RANDOMIZED)]
