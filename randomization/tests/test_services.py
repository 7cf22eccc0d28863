"""Sealed lists, allocation, dispensing and code-breaks through the services."""

import base64
import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from conftest import TEST_PASSWORD, TEST_RANDOMIZATION_KEY, make_user
from randomization import lists, services, unblinded
from randomization.crypto import new_key, seal, unseal
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


PUBLIC = {"template": "plan", "arms": ["MLT", "PLACEBO"], "ratio": [1, 1], "block_sizes": [4]}


def canonical_of(*, seed, n_slots=10, **public):
    """The canonical form of the list ``spec(seed=seed)`` gives (the pure builder's)."""
    parameters = {**PUBLIC, **public, "seed": seed, "n_slots": n_slots}
    rows = lists.build_list(**parameters)
    return lists.canonical_form(**parameters, generator=lists.GENERATOR, rows=rows)


def as_sealed_before_salting(rlist, statistician):
    """Rewrite a list as the services stored one before fingerprints were salted:
    the plain SHA-256 as its fingerprint, parameters with no salt, no identity digest."""
    parameters = unblinded.list_parameters(rlist=rlist, user=statistician, reason="test")
    rows = [
        {"sequence": c.sequence, "block": c.block, "block_size": c.block_size, "arm": c.arm}
        for c in unblinded.list_contents(rlist=rlist, user=statistician, reason="test")
    ]
    plain = lists.list_hash(
        template=parameters.template,
        generator=parameters.generator,
        seed=parameters.seed,
        arms=rlist.arms,
        ratio=rlist.ratio,
        block_sizes=parameters.block_sizes,
        n_slots=rlist.n_slots,
        rows=rows,
    )
    RandomizationList.objects.filter(pk=rlist.pk).update(
        parameters_token=seal(
            {
                "template": parameters.template,
                "generator": parameters.generator,
                "seed": parameters.seed,
                "seed_source": parameters.seed_source,
                "block_sizes": parameters.block_sizes,
            }
        ),
        sha256=plain,
        commitment_scheme="sha256-unsalted",
        identity_digest="",
    )
    rlist.refresh_from_db()
    return rlist


def brute_force_seed(fingerprint, *, seeds, n_slots=10):
    """What anyone who sees a fingerprint can try: hash the list of every candidate
    seed (the template, arms, ratio and block size are easy guesses)."""
    for seed in seeds:
        if (
            lists.commitment(
                scheme="sha256-unsalted", canonical=canonical_of(seed=seed, n_slots=n_slots)
            )
            == fingerprint
        ):
            return seed
    return None


class TestSealing:
    def test_fingerprint_is_the_salted_commitment_of_the_generated_list(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        parameters = unblinded.list_parameters(rlist=rlist, user=statistician, reason="t")
        salt = bytes.fromhex(parameters.salt)
        assert len(salt) == 32
        canonical = canonical_of(seed=45)
        assert rlist.commitment_scheme == "sha256-salted"
        assert rlist.sha256 == hashlib.sha256(salt + canonical).hexdigest()
        assert rlist.sha256 == lists.salted_commitment(salt=salt, canonical=canonical)
        assert rlist.list_length == 12  # whole blocks: ceil(10 / 4) = 3 blocks
        rows = lists.build_list(**PUBLIC, seed=45, n_slots=10)
        stored = [unseal(s.arm_token)["arm"] for s in rlist.slots.order_by("sequence")]
        assert stored == [row["arm"] for row in rows]
        assert AuditEvent.objects.filter(summary__contains=rlist.sha256).exists()

    def test_every_list_has_its_own_salt(self, statistician):
        first = services.list_create(spec=spec(), by=statistician)
        second = services.list_create(spec=spec(stratum="other", seed=46), by=statistician)
        salts = {
            unblinded.list_parameters(rlist=r, user=statistician, reason="t").salt
            for r in (first, second)
        }
        assert len(salts) == 2

    def test_parameters_tokens_all_have_one_length(self, statistician):
        short = services.list_create(spec=spec(), by=statistician)
        long = services.list_create(
            spec=spec(
                stratum="other",
                template="random_blocks",
                block_sizes=[2, 4, 6, 8, 10, 12, 14, 16],
                seed=2147483646,
            ),
            by=statistician,
        )
        assert len(short.parameters_token) == len(long.parameters_token)

    def test_unsalted_brute_force_finds_an_old_lists_seed_but_not_a_salted_ones(self, statistician):
        seeds = range(1, 400)
        salted = services.list_create(spec=spec(seed=317), by=statistician)
        old = as_sealed_before_salting(
            services.list_create(spec=spec(seed=271, stratum="old"), by=statistician),
            statistician,
        )
        # The old fingerprint gives its seed away, and with it every arm.
        assert brute_force_seed(old.sha256, seeds=seeds) == 271
        # The salted one does not: not even the right seed's plain hash matches it.
        assert brute_force_seed(salted.sha256, seeds=seeds) is None
        assert salted.sha256 != hashlib.sha256(canonical_of(seed=317)).hexdigest()

    def test_list_sealed_before_salting_still_verifies(self, statistician):
        old = as_sealed_before_salting(
            services.list_create(spec=spec(), by=statistician), statistician
        )
        result = services.list_verify(rlist=old, by=statistician)
        assert result.matches is True
        assert result.scheme == "sha256-unsalted" and result.salt == ""
        assert result.recomputed_hash == hashlib.sha256(canonical_of(seed=45)).hexdigest()

    def test_verification_uses_the_lists_own_scheme(self, statistician):
        salted = services.list_create(spec=spec(), by=statistician)
        assert services.list_verify(rlist=salted, by=statistician).matches is True
        # Claiming the plain scheme for a salted list does not verify, and vice versa.
        RandomizationList.objects.filter(pk=salted.pk).update(commitment_scheme="sha256-unsalted")
        salted.refresh_from_db()
        result = services.list_verify(rlist=salted, by=statistician)
        assert result.matches is False
        assert "takes no salt" in result.differences[0]
        old = as_sealed_before_salting(
            services.list_create(spec=spec(seed=46, stratum="old"), by=statistician),
            statistician,
        )
        RandomizationList.objects.filter(pk=old.pk).update(
            commitment_scheme="sha256-salted", identity_digest="0" * 64
        )
        old.refresh_from_db()
        result = services.list_verify(rlist=old, by=statistician)
        assert result.matches is False
        assert "salt must be 32 bytes" in result.differences[0]

    def test_the_database_refuses_a_salted_list_without_identity_digest(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        with pytest.raises(IntegrityError), transaction.atomic():
            RandomizationList.objects.filter(pk=rlist.pk).update(identity_digest="")
        with pytest.raises(IntegrityError), transaction.atomic():
            RandomizationList.objects.filter(pk=rlist.pk).update(commitment_scheme="sha256")

    def test_a_changed_fingerprint_fails_verification(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        forged = hashlib.sha256(canonical_of(seed=45)).hexdigest()
        RandomizationList.objects.filter(pk=rlist.pk).update(sha256=forged)
        rlist.refresh_from_db()
        result = services.list_verify(rlist=rlist, by=statistician)
        assert result.matches is False
        assert result.differences == [
            f"The stored fingerprint {forged} does not match the regenerated "
            f"{result.recomputed_hash}."
        ]

    def test_reveal_gives_exactly_the_bytes_whose_sha256_is_the_fingerprint(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        opening = services.list_reveal(rlist=rlist, by=statistician)
        assert opening.scheme == "sha256-salted"
        assert len(opening.salt) == 32
        assert opening.canonical == canonical_of(seed=45)
        assert hashlib.sha256(opening.salt + opening.canonical).hexdigest() == rlist.sha256
        assert opening.matches is True
        assert ArmAccess.objects.filter(
            purpose="list contents", reason="reveal commitment"
        ).exists()
        assert AuditEvent.objects.filter(
            summary="List commitment revealed (salt and canonical form)"
        ).exists()

    def test_reveal_of_a_list_sealed_before_salting(self, statistician):
        old = as_sealed_before_salting(
            services.list_create(spec=spec(), by=statistician), statistician
        )
        opening = services.list_reveal(rlist=old, by=statistician)
        assert (opening.scheme, opening.salt) == ("sha256-unsalted", b"")
        assert hashlib.sha256(opening.canonical).hexdigest() == old.sha256
        assert opening.matches is True

    def test_reveal_shows_a_stored_list_that_no_longer_matches(self, statistician):
        rlist = services.list_create(spec=spec(), by=statistician)
        slots = list(rlist.slots.order_by("sequence"))
        other = next(
            s for s in slots if unseal(s.arm_token)["arm"] != unseal(slots[0].arm_token)["arm"]
        )
        slots[0].arm_token, other.arm_token = other.arm_token, slots[0].arm_token
        Slot.objects.bulk_update([slots[0], other], ["arm_token"])
        assert services.list_reveal(rlist=rlist, by=statistician).matches is False

    def test_only_the_statistician_reveals(self, role_users):
        rlist = services.list_create(spec=spec(), by=role_users["unblinded_statistician"])
        for role, user in role_users.items():
            if role == "unblinded_statistician":
                continue
            with pytest.raises(PermissionDenied) as excinfo:
                services.list_reveal(rlist=rlist, by=user)
            assert str(excinfo.value) == str(services.NOT_ALLOWED)

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
        rlist = services.list_create(spec=spec(), by=make_user("stat2", "unblinded_statistician"))
        for user in (nurse, investigator, dsmb, datamanager):
            for call in (
                lambda user: services.list_create(spec=spec(seed=46, stratum="x"), by=user),
                lambda user: services.list_create_stratified(spec=spec(), strata=["x"], by=user),
                lambda user: services.list_activate(rlist=rlist, by=user),
                lambda user: services.list_extend(rlist=rlist, spec=spec(seed=47), by=user),
                lambda user: services.list_delete(rlist=rlist, by=user),
                lambda user: services.list_verify(rlist=rlist, by=user),
            ):
                with pytest.raises(PermissionDenied) as excinfo:
                    call(user)
                assert str(excinfo.value) == str(services.NOT_ALLOWED)
        assert RandomizationList.objects.count() == 1

    def test_database_dump_reveals_no_arm_seed_salt_or_block(self, statistician):
        rlist = services.list_create(spec=spec(seed=123456789, block_sizes=[6]), by=statistician)
        services.list_activate(rlist=rlist, by=statistician)
        services.list_verify(rlist=rlist, by=statistician)
        parameters = unblinded.list_parameters(rlist=rlist, user=statistician, reason="test")
        salt = bytes.fromhex(parameters.salt)
        canonical = canonical_of(seed=123456789, block_sizes=[6])
        with connection.cursor() as cursor:
            dump = []
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
                dump.extend(str(row) for row in cursor.fetchall())
        text = "\n".join(dump)
        assert "randomization_randomizationlist" in connection.introspection.table_names()
        assert rlist.sha256 in text  # the dump really holds the lists
        assert "123456789" not in text
        for encoded in (
            salt.hex(),
            salt.hex().upper(),
            base64.b64encode(salt).decode(),
            base64.urlsafe_b64encode(salt).decode().rstrip("="),
            repr(salt),
        ):
            assert encoded not in text
        # Nor the plain hash a seed search could be checked against.
        assert hashlib.sha256(canonical).hexdigest() not in text
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
        first = services.list_create(spec=spec(), by=statistician)
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(spec=spec(stratum=""), by=statistician)
        assert str(services.IDENTICAL_LIST) in excinfo.value.messages
        # Found by a keyed digest, not by a hash anyone could recompute.
        assert first.identity_digest
        assert first.identity_digest != hashlib.sha256(canonical_of(seed=45)).hexdigest()
        # Retired or not: an identical list is the same list.
        services.list_delete(rlist=first, by=statistician)
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(spec=spec(), by=statistician)
        assert excinfo.value.messages == [str(services.IDENTICAL_LIST)]

    def test_a_different_list_is_not_identical(self, statistician):
        services.list_create(spec=spec(), by=statistician)
        for number, changes in enumerate(
            ({"seed": 46}, {"n_slots": 14}, {"arms": ["MLT", "PLACEBO2"]})
        ):
            created = services.list_create(
                spec=spec(stratum=f"s{number}", **changes), by=statistician
            )
            assert created.commitment_scheme == "sha256-salted"

    def test_identical_to_a_list_sealed_before_salting_refused(self, statistician):
        as_sealed_before_salting(services.list_create(spec=spec(), by=statistician), statistician)
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(spec=spec(stratum="other"), by=statistician)
        assert excinfo.value.messages == [str(services.IDENTICAL_LIST)]

    def test_identical_list_found_after_a_key_rotation(self, statistician, settings):
        services.list_create(spec=spec(), by=statistician)
        settings.RANDOMIZATION_KEYS = [new_key(), TEST_RANDOMIZATION_KEY]
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(spec=spec(stratum="other"), by=statistician)
        assert excinfo.value.messages == [str(services.IDENTICAL_LIST)]

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

    def test_parameters_too_long_to_seal_are_refused_whole(self, statistician):
        with pytest.raises(ValidationError) as excinfo:
            services.list_create(
                spec=spec(template="random_blocks", block_sizes=list(range(2, 400, 2))),
                by=statistician,
            )
        assert excinfo.value.messages == [str(services.PARAMETERS_TOO_LONG)]
        assert RandomizationList.objects.count() == Slot.objects.count() == 0

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


# Published Luhn vectors (ISO/IEC 7812-1, the Wikipedia worked example, a card test
# number) and the edges each step of the algorithm decides: which digits are doubled
# (from the right, the first one next to the check digit), doubled digits above 9 minus
# 9, and the final "% 10" that makes the check digit of a multiple of 10 a 0.
LUHN_CHECK_DIGITS = [
    pytest.param("7992739871", "3", id="wikipedia-79927398713"),
    pytest.param("453914880343646", "7", id="card-4539148803436467"),
    pytest.param("0", "0", id="zero-total-needs-final-mod"),
    pytest.param("0000000", "0", id="all-zeros"),
    pytest.param("1", "8", id="rightmost-body-digit-doubled"),
    pytest.param("10", "9", id="second-from-right-not-doubled"),
    pytest.param("5", "9", id="doubled-5-is-10-minus-9"),
    pytest.param("9", "1", id="doubled-9-is-18-minus-9"),
    pytest.param("4", "2", id="doubled-4-is-8-no-minus-9"),
    pytest.param("55", "4", id="doubled-and-plain"),
    pytest.param("91", "9", id="two-digits"),
    pytest.param("1234567", "4", id="seven-digit-pack-body"),
]


@pytest.mark.parametrize(("body", "digit"), LUHN_CHECK_DIGITS)
def test_luhn_check_digit(body, digit):
    assert services._luhn_check_digit(body) == digit
    assert services.luhn_valid(body + digit)
    for wrong in set("0123456789") - {digit}:
        assert not services.luhn_valid(body + wrong)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        pytest.param("79927398713", True, id="wikipedia-valid"),
        pytest.param("79927398710", False, id="wikipedia-invalid"),
        pytest.param("4539148803436467", True, id="card-valid"),
        pytest.param("4539 1488 0343 6467", False, id="card-with-spaces-not-a-pack-code"),
        pytest.param("4539148803436468", False, id="card-last-digit-changed"),
        pytest.param("4539148803436476", False, id="card-adjacent-swap"),
        pytest.param("00", True, id="zero-with-check-digit"),
        pytest.param("0", False, id="check-digit-alone"),
        pytest.param("", False, id="empty"),
        pytest.param("018", True, id="leading-zero-kept"),
        pytest.param("18", True, id="one-doubled"),
        pytest.param("19", False, id="one-not-doubled"),
        pytest.param("59", True, id="minus-nine"),
        pytest.param("50", False, id="without-minus-nine"),
        pytest.param("0\u0660", False, id="arabic-indic-check-digit"),
        pytest.param("\u06600", False, id="arabic-indic-body"),
        pytest.param("\u00b20", False, id="superscript-body"),
        pytest.param("\uff10\uff10", False, id="fullwidth-zeros"),
        pytest.param("1\u00b2", False, id="superscript-two"),
        pytest.param("-18", False, id="sign"),
        pytest.param("18 ", False, id="trailing-space"),
    ],
)
def test_luhn_valid(code, valid):
    assert services.luhn_valid(code) is valid


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
            with pytest.raises(PermissionDenied) as excinfo:
                services.allocation_assign(participant=participant, by=user)
            assert str(excinfo.value) == str(services.MAY_NOT_RANDOMIZE)
        assert Allocation.objects.count() == 0

    def test_a_nurse_randomizes_only_at_her_sites(
        self, active_list, make_ready_participant, other_site
    ):
        participant = make_ready_participant()
        elsewhere = make_user("nurse-wuhan", "research_nurse", sites=[other_site])
        with pytest.raises(PermissionDenied) as excinfo:
            services.allocation_assign(participant=participant, by=elsewhere)
        assert str(excinfo.value) == str(services.NOT_YOUR_SITE)
        assert Allocation.objects.count() == 0
        both = make_user("nurse-both", "research_nurse", sites=[other_site, participant.site])
        assert services.allocation_assign(participant=participant, by=both).pack_code == "001"

    def test_a_sealed_site_list_does_not_stop_randomization(
        self, active_list, statistician, make_ready_participant, nurse, site
    ):
        services.list_create(spec=spec(stratum=site.code, seed=99), by=statistician)
        participant = make_ready_participant()
        assert services.stratum_of(participant) == ""
        allocation = services.allocation_assign(participant=participant, by=nurse)
        assert allocation.slot.randomization_list == active_list
        assert allocation.pack_code == "001"

    def test_a_retired_site_list_does_not_stop_randomization(
        self, active_list, statistician, make_ready_participant, nurse, site
    ):
        own = services.list_create(spec=spec(stratum=site.code, seed=99), by=statistician)
        services.list_delete(rlist=own, by=statistician)
        allocation = services.allocation_assign(participant=make_ready_participant(), by=nurse)
        assert allocation.slot.randomization_list == active_list

    def test_an_active_site_list_is_used_before_the_unstratified_one(
        self, active_list, statistician, make_ready_participant, nurse, site
    ):
        own = services.list_create(spec=spec(stratum=site.code, seed=99), by=statistician)
        services.list_activate(rlist=own, by=statistician)
        allocation = services.allocation_assign(participant=make_ready_participant(), by=nurse)
        assert allocation.slot.randomization_list == own
        assert allocation.pack_code == f"{site.code.upper()}-001"

    def test_locks_participant_then_the_stratums_active_lists_then_reads_the_slot(
        self, statistician, active_list, make_ready_participant, nurse, site, monkeypatch
    ):
        """The list lock is what keeps two nurses off one slot (the race itself runs on
        PostgreSQL in test_concurrency.py); here: it is taken, on the right rows, in
        the global lock order, and the stratum is decided after the participant lock."""
        own = services.list_create(spec=spec(stratum=site.code, seed=99), by=statistician)
        services.list_activate(rlist=own, by=statistician)
        extension = services.list_extend(rlist=own, spec=spec(seed=98), by=statistician)
        participant = make_ready_participant()
        events = []

        def spy(name, real):
            def wrapper(*args, **kwargs):
                if name in ("lock_one", "lock_rows"):
                    result = real(*args, **kwargs)
                    rows = result if isinstance(result, list) else [result]
                    events.append((name, type(rows[0]).__name__, {row.pk for row in rows}))
                    return result
                events.append((name,))
                return real(*args, **kwargs)

            return wrapper

        for name in ("lock_one", "lock_rows", "stratum_of", "_next_slot"):
            monkeypatch.setattr(services, name, spy(name, getattr(services, name)))
        services.allocation_assign(participant=participant, by=nurse)
        assert events == [
            ("lock_one", "Participant", {participant.pk}),
            ("stratum_of",),
            ("lock_rows", "RandomizationList", {own.pk, extension.pk}),
            ("_next_slot",),
        ]

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

    def test_dispensing_only_on_or_after_the_randomization_date(
        self, active_list, make_ready_participant, nurse
    ):
        allocation = services.allocation_assign(participant=make_ready_participant(), by=nurse)
        today = timezone.localdate()
        Allocation.objects.filter(pk=allocation.pk).update(randomized_on=today - timedelta(days=3))
        with pytest.raises(ValidationError) as excinfo:
            services.allocation_dispense(
                allocation=allocation, dispensed_on=today - timedelta(days=4), by=nurse
            )
        assert excinfo.value.message_dict == {
            "dispensed_on": [str(services.DISPENSED_BEFORE_RANDOMIZATION)]
        }
        # The check is on the stored row, not on a stale copy the caller holds.
        allocation.randomized_on = today - timedelta(days=30)
        with pytest.raises(ValidationError):
            services.allocation_dispense(
                allocation=allocation, dispensed_on=today - timedelta(days=4), by=nurse
            )
        assert Allocation.objects.get().dispensed_on is None
        services.allocation_dispense(
            allocation=allocation, dispensed_on=today - timedelta(days=3), by=nurse
        )
        assert Allocation.objects.get().dispensed_on == today - timedelta(days=3)

    def test_dispensing_only_by_a_nurse_at_the_participants_site(
        self, active_list, make_ready_participant, nurse, role_users, other_site
    ):
        allocation = services.allocation_assign(participant=make_ready_participant(), by=nurse)
        for role, user in role_users.items():
            if role == "research_nurse":
                continue
            with pytest.raises(PermissionDenied) as excinfo:
                services.allocation_dispense(
                    allocation=allocation, dispensed_on=timezone.localdate(), by=user
                )
            assert str(excinfo.value) == str(services.MAY_NOT_RANDOMIZE)
        elsewhere = make_user("nurse-wuhan", "research_nurse", sites=[other_site])
        with pytest.raises(PermissionDenied) as excinfo:
            services.allocation_dispense(
                allocation=allocation, dispensed_on=timezone.localdate(), by=elsewhere
            )
        assert str(excinfo.value) == str(services.NOT_YOUR_SITE)
        assert Allocation.objects.get().dispensed_on is None

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

    def test_only_an_investigator_at_the_participants_site_breaks_the_code(
        self, active_list, make_ready_participant, nurse, role_users, other_site
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        for role, user in role_users.items():
            if role == "investigator":
                continue
            with pytest.raises(PermissionDenied) as excinfo:
                services.code_break_request(
                    participant=participant, reason="SAE", password=TEST_PASSWORD, by=user
                )
            assert str(excinfo.value) == str(services.MAY_NOT_BREAK_CODE)
        elsewhere = make_user("investigator-wuhan", "investigator", sites=[other_site])
        with pytest.raises(PermissionDenied) as excinfo:
            services.code_break_request(
                participant=participant, reason="SAE", password=TEST_PASSWORD, by=elsewhere
            )
        assert str(excinfo.value) == str(services.NOT_YOUR_SITE)
        assert CodeBreak.objects.count() == 0
        assert not ArmAccess.objects.exists()

    @pytest.mark.parametrize("reason", ["", "   ", "\u200b\u200d", "\n\t"])
    def test_a_reason_in_words_is_required(
        self, active_list, make_ready_participant, nurse, investigator, reason
    ):
        participant = make_ready_participant()
        services.allocation_assign(participant=participant, by=nurse)
        with pytest.raises(ValidationError) as excinfo:
            services.code_break_request(
                participant=participant, reason=reason, password=TEST_PASSWORD, by=investigator
            )
        assert excinfo.value.message_dict == {"reason": [str(services.CODE_BREAK_REASON_REQUIRED)]}
        assert CodeBreak.objects.count() == 0

    def test_cannot_break_unrandomized(self, make_ready_participant, investigator):
        with pytest.raises(ValidationError) as excinfo:
            services.code_break_request(
                participant=make_ready_participant(),
                reason="x",
                password="correct-horse-battery-staple-42",
                by=investigator,
            )
        assert excinfo.value.messages == [str(services.NOT_RANDOMIZED)]
