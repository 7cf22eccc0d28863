"""Tests for the pure SAS generator layer (randomization/sas.py). No Django needed."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from randomization.sas import (
    _MT19937,
    MAX_SEED,
    RANUNI_MODULUS,
    Ranuni,
    SeedError,
    StreamInit,
    _init_genrand,
    proc_plan,
)

seeds = st.integers(min_value=1, max_value=MAX_SEED)


# --------------------------------------------------------------------------- seeds

BAD_SEEDS = [
    pytest.param(0, "clock", id="zero"),
    pytest.param(-1, "clock", id="negative"),
    pytest.param(2**31 - 1, "outside", id="modulus"),
    pytest.param(2**40, "outside", id="huge"),
    pytest.param(2.5, "whole number", id="float"),
    pytest.param(45.0, "whole number", id="whole-float"),
    pytest.param(True, "yes/no", id="true"),
    pytest.param(False, "yes/no", id="false"),
    pytest.param("45", "whole number", id="string"),
    pytest.param(None, "whole number", id="none"),
]


@pytest.mark.parametrize(("seed", "fragment"), BAD_SEEDS)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(Ranuni, id="ranuni"),
        pytest.param(StreamInit, id="streaminit"),
        pytest.param(lambda seed: StreamInit(seed, method="mthybrid"), id="mthybrid"),
        pytest.param(proc_plan, id="proc_plan"),
    ],
)
def test_bad_seeds_are_refused(make, seed, fragment):
    with pytest.raises(SeedError, match=fragment) as excinfo:
        make(seed)
    assert isinstance(excinfo.value, ValueError)
    assert "1 to 2147483646" in str(excinfo.value)


def test_zero_seed_message_explains_the_clock():
    with pytest.raises(SeedError) as excinfo:
        Ranuni(0)
    assert str(excinfo.value).startswith(
        "Seed must be a whole number from 1 to 2147483646; SAS would use the clock for 0 or a "
        "negative seed, which can never be reproduced"
    )


@pytest.mark.parametrize("seed", [1, 2, 45, 2**31 - 2])
def test_edge_seeds_are_accepted(seed):
    assert Ranuni(seed).seed == seed
    assert StreamInit(seed).seed == seed


# --------------------------------------------------------------------------- RANUNI


def test_ranuni_published_vector_seed_45():
    r = Ranuni(45)
    states, uniforms = [], []
    for _ in range(3):
        uniforms.append(r.uniform())
        states.append(r.seed)
    assert states == [694315054, 1404437564, 2130505156]
    assert [round(u, 5) for u in uniforms] == [0.32332, 0.65399, 0.99209]


@pytest.mark.parametrize(
    ("seed", "expected_state"),
    [
        (1, 397204094),
        (45, 694315054),
        (694315054, 1404437564),
        (2**31 - 2, 2**31 - 1 - 397204094),  # -1 * a mod p
    ],
)
def test_ranuni_one_step(seed, expected_state):
    r = Ranuni(seed)
    assert r.next_state() == expected_state
    assert r.seed == expected_state


def test_ranuni_state_is_an_int_and_u_is_state_over_modulus():
    r = Ranuni(45)
    u = r.uniform()
    assert type(r.seed) is int
    assert u == r.seed / RANUNI_MODULUS


@given(seed=seeds, k=st.integers(min_value=1, max_value=100_000))
def test_next_index_matches_floor_of_float_product(seed, k):
    # SAS computes floor(u * k) in doubles; the integer form must agree.
    in_floats = Ranuni(seed)
    in_integers = Ranuni(seed)
    for _ in range(5):
        assert in_integers.next_index(k) == math.floor(in_floats.uniform() * k)


@given(seed=seeds)
def test_ranuni_stays_in_open_unit_interval(seed):
    r = Ranuni(seed)
    for _ in range(20):
        assert 0.0 < r.uniform() < 1.0
        assert 1 <= r.seed <= MAX_SEED


@pytest.mark.parametrize("k", [0, -3, True, 2.0])
def test_next_index_refuses_bad_k(k):
    with pytest.raises(ValueError, match="at least 1"):
        Ranuni(45).next_index(k)


@given(seed=seeds, m=st.integers(min_value=1, max_value=30))
def test_permutation_is_a_permutation_and_uses_m_draws(seed, m):
    r = Ranuni(seed)
    assert sorted(r.permutation(m)) == list(range(1, m + 1))
    reference = Ranuni(seed)
    for _ in range(m):
        reference.next_state()
    assert r.seed == reference.seed


# --------------------------------------------------------------------------- STREAMINIT


def _independent_1998_state(seed: int) -> list[int]:
    state = [seed]
    for _ in range(623):
        state.append(state[-1] * 69069 % 2**32)
    return state


def _independent_2002_state(seed: int) -> list[int]:
    state = [seed]
    for i in range(1, 624):
        previous = state[-1]
        state.append((1812433253 * (previous ^ (previous >> 30)) + i) % 2**32)
    return state


def _python_mt(state: list[int]) -> random.Random:
    # CPython's Random is the reference MT19937 core; index 624 forces a twist
    # before the first output, as after seeding.
    generator = random.Random()
    generator.setstate((3, (*state, 624), None))
    return generator


def test_mt19937_core_published_reference_output():
    # init_genrand(5489) is the reference (and std::mt19937 default) seed.
    assert _MT19937(_init_genrand(5489)).next_uint32() == 3499211612
    assert _python_mt(_independent_2002_state(5489)).getrandbits(32) == 3499211612


@pytest.mark.parametrize("seed", [1, 45, 4357, 5489, 8191, 123456789, MAX_SEED])
def test_streaminit_mt1998_matches_independent_mt(seed):
    ours = StreamInit(seed, method="mt1998")
    reference = _python_mt(_independent_1998_state(seed))
    # 1500 outputs cross two twists of the 624-word state.
    for _ in range(1500):
        assert ours.next_uint32() == reference.getrandbits(32)


def test_streaminit_uniform_is_output_over_two_to_the_32():
    ours = StreamInit(45)
    reference = _python_mt(_independent_1998_state(45))
    for _ in range(50):
        u = ours.uniform()
        assert u == reference.getrandbits(32) / 2**32
        assert 0.0 <= u < 1.0


def test_streaminit_default_method_is_mt1998():
    default, explicit = StreamInit(8192), StreamInit(8192, method="mt1998")
    assert [default.next_uint32() for _ in range(10)] == [explicit.next_uint32() for _ in range(10)]


@pytest.mark.parametrize(
    ("seed", "uses_2002"),
    [
        (8191, False),
        (8192, True),
        (8193, False),
        (16384, True),
        (4096, False),
        (8192 * 262143, True),  # the largest multiple of 8192 below 2^31 - 1
        (1, False),
    ],
)
def test_mthybrid_uses_init_genrand_only_for_multiples_of_8192(seed, uses_2002):
    ours = StreamInit(seed, method="mthybrid")
    state = _independent_2002_state(seed) if uses_2002 else _independent_1998_state(seed)
    reference = _python_mt(state)
    for _ in range(700):
        assert ours.next_uint32() == reference.getrandbits(32)


def test_mthybrid_and_mt1998_differ_only_at_multiples_of_8192():
    def first(seed: int, method: str) -> list[int]:
        stream = StreamInit(seed, method=method)
        return [stream.next_uint32() for _ in range(5)]

    assert first(8191, "mthybrid") == first(8191, "mt1998")
    assert first(8192, "mthybrid") != first(8192, "mt1998")


@pytest.mark.parametrize("method", ["MT1998", "mt2002", "", None])
def test_streaminit_unknown_method(method):
    with pytest.raises(ValueError, match="Unknown STREAMINIT method"):
        StreamInit(45, method=method)


# --------------------------------------------------------------------------- PROC PLAN


def test_proc_plan_manual_vector_seed_27371():
    # SAS/STAT manual, PROC PLAN getting started: factors unit=12 with seed=27371.
    cells = proc_plan(27371, [(12, "random")])
    assert cells == [(8,), (5,), (1,), (4,), (6,), (2,), (12,), (7,), (3,), (9,), (10,), (11,)]
    assert proc_plan(27371) == cells


def test_proc_plan_manual_split_plot_seed_37277():
    # SAS/STAT manual, Example "A Split-Plot Design": factors Block=3 ordered a=4 b=2.
    printed = {
        1: [(4, [2, 1]), (3, [2, 1]), (1, [2, 1]), (2, [2, 1])],
        2: [(4, [1, 2]), (3, [1, 2]), (1, [2, 1]), (2, [1, 2])],
        3: [(4, [2, 1]), (2, [2, 1]), (3, [2, 1]), (1, [2, 1])],
    }
    expected = [(block, a, b) for block, plots in printed.items() for a, bs in plots for b in bs]
    assert proc_plan(37277, [(3, "ordered"), (4, "random"), (2, "random")]) == expected


def test_proc_plan_manual_hierarchical_seed_17431():
    # SAS/STAT manual, Example "A Hierarchical Design": the first 15 printed rows.
    expected = [
        (1, 3, 2), (1, 3, 3), (1, 3, 1), (1, 1, 3), (1, 1, 1), (1, 1, 2), (1, 2, 2), (1, 2, 3),
        (1, 2, 1), (1, 4, 3), (1, 4, 2), (1, 4, 1), (2, 4, 1), (2, 4, 3), (2, 4, 2),
    ]  # fmt: skip
    cells = proc_plan(17431, [(3, "random"), (4, "random"), (3, "random")])
    assert len(cells) == 36
    assert cells[:15] == expected


def test_proc_plan_manual_incomplete_block_seed_33373():
    # SAS/STAT manual, Example "An Incomplete Block Design": factors Block=13 Plot=8
    # (its cyclic treatment draws no random numbers, so the factors alone match).
    printed = [
        (10, [7, 4, 8, 1, 2, 3, 5, 6]),
        (8, [1, 2, 4, 3, 8, 6, 5, 7]),
        (9, [2, 5, 4, 7, 3, 1, 8, 6]),
        (6, [4, 2, 6, 8, 3, 7, 1, 5]),
        (7, [4, 7, 6, 3, 1, 2, 8, 5]),
        (4, [4, 8, 1, 5, 3, 6, 7, 2]),
        (2, [6, 2, 3, 8, 7, 5, 1, 4]),
        (3, [6, 2, 3, 1, 7, 4, 5, 8]),
        (1, [1, 2, 7, 8, 5, 6, 3, 4]),
        (5, [5, 7, 6, 8, 4, 3, 1, 2]),
        (12, [5, 8, 1, 4, 7, 3, 6, 2]),
        (13, [3, 5, 1, 8, 4, 2, 6, 7]),
        (11, [4, 1, 5, 2, 3, 8, 6, 7]),
    ]
    expected = [(block, plot) for block, plots in printed for plot in plots]
    assert proc_plan(33373, [(13, "random"), (8, "random")]) == expected


@pytest.mark.parametrize("seed", [1, 45, 27371, 99991, MAX_SEED])
def test_ordered_factor_draws_nothing(seed):
    cells = proc_plan(seed, [(3, "ordered"), (4, "random")])
    assert len(cells) == 12
    assert [block for block, _ in cells] == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    first_block = [trt for block, trt in cells if block == 1]
    assert first_block == [level for (level,) in proc_plan(seed, [(4, "random")])]
    # Every block is the next fresh permutation from one continuous stream.
    stream = Ranuni(seed)
    for block in (1, 2, 3):
        assert [trt for b, trt in cells if b == block] == stream.permutation(4)


@pytest.mark.parametrize("seed", [1, 45, MAX_SEED])
def test_all_ordered_plan_is_the_plain_odometer(seed):
    cells = proc_plan(seed, [(2, "ordered"), (3, "ordered")])
    assert cells == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


@pytest.mark.parametrize("seed", [45, 27371, 123456])
def test_treatment_draw_comes_right_after_innermost_factor_at_each_cell(seed):
    cells = proc_plan(seed, [(4, "random")], [(4, "random")])
    stream = Ranuni(seed)
    unit, treatment = [1, 2, 3, 4], [1, 2, 3, 4]
    expected = []
    for i in range(4):
        for permutation in (unit, treatment):
            j = i + stream.next_index(4 - i)
            permutation[i], permutation[j] = permutation[j], permutation[i]
        expected.append((unit[i], treatment[i]))
    assert cells == expected


@pytest.mark.parametrize("seed", [45, 27371])
def test_treatment_is_fresh_each_time_the_innermost_loop_starts(seed):
    # Ordered factors draw nothing, so the treatment permutations are consecutive.
    cells = proc_plan(seed, [(2, "ordered"), (3, "ordered")], [(3, "random"), (3, "ordered")])
    stream = Ranuni(seed)
    expected = []
    for outer in (1, 2):
        permutation = stream.permutation(3)
        expected += [(outer, inner, permutation[inner - 1], inner) for inner in (1, 2, 3)]
    assert cells == expected


def test_treatment_with_more_levels_than_innermost_factor():
    cells = proc_plan(45, [(2, "ordered"), (3, "ordered")], [(10, "random")])
    assert len(cells) == 6
    for outer in (1, 2):
        levels = [cell[2] for cell in cells if cell[0] == outer]
        assert len(set(levels)) == 3
        assert all(1 <= level <= 10 for level in levels)


@pytest.mark.parametrize(
    ("factors", "treatments", "fragment"),
    [
        ([], [], "at least one factor"),
        ([(0, "random")], [], "at least 1"),
        ([(-2, "ordered")], [], "at least 1"),
        ([(True, "random")], [], "at least 1"),
        ([(2.0, "random")], [], "at least 1"),
        ([(4, "cyclic")], [], "'random' or 'ordered'"),
        ([(4, "RANDOM")], [], "'random' or 'ordered'"),
        ([(4,)], [], "pair"),
        ([4], [], "pair"),
        ([(4, "random")], [(3, "random")], "at least as many"),
        ([(4, "random")], [(4, "shuffled")], "Treatment 1"),
    ],
)
def test_proc_plan_refuses_bad_factors(factors, treatments, fragment):
    with pytest.raises(ValueError, match=fragment):
        proc_plan(45, factors, treatments)


@settings(max_examples=60)
@given(
    seed=seeds,
    factors=st.lists(
        st.tuples(st.integers(1, 5), st.sampled_from(["random", "ordered"])),
        min_size=1,
        max_size=3,
    ),
)
def test_proc_plan_is_a_full_factorial_in_odometer_order(seed, factors):
    cells = proc_plan(seed, factors)
    assert len(cells) == math.prod(m for m, _ in factors)
    assert cells == proc_plan(seed, factors)
    # Every combination appears exactly once, whatever the order.
    assert len(set(cells)) == len(cells)
    # Outermost factor changes slowest: each of its levels forms one contiguous run.
    outer = [cell[0] for cell in cells]
    runs = [level for index, level in enumerate(outer) if index == 0 or outer[index - 1] != level]
    assert len(runs) == factors[0][0]
    if factors[0][1] == "ordered":
        assert runs == list(range(1, factors[0][0] + 1))


@pytest.mark.parametrize("m", [0, -2, True, 2.0, "3"])
def test_permutation_refuses_bad_m_and_says_so(m):
    with pytest.raises(ValueError) as error:
        Ranuni(45).permutation(m)
    assert str(error.value) == f"m must be a whole number of at least 1; got {m!r}."


@pytest.mark.parametrize("words", [0, 623, 625])
def test_mt19937_core_needs_exactly_624_words(words):
    with pytest.raises(ValueError) as error:
        _MT19937([1] * words)
    assert str(error.value) == f"MT19937 state must have 624 words; got {words}."


def test_seed_of_another_type_is_named_with_its_type():
    with pytest.raises(SeedError) as error:
        Ranuni(2.5)
    assert str(error.value) == (
        f"Seed must be a whole number from 1 to {MAX_SEED}; got 2.5 (float)."
    )


def test_unknown_streaminit_method_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        StreamInit(45, "mt2002")
    assert (
        str(error.value) == "Unknown STREAMINIT method 'mt2002'; use one of 'mt1998', 'mthybrid'."
    )


@pytest.mark.parametrize("method", ["mt1998", "mthybrid"])
def test_streaminit_records_its_method(method):
    stream = StreamInit(45, method)
    assert stream.method == method
    assert repr(stream) == f"StreamInit(seed=45, method={method!r})"


@pytest.mark.parametrize(
    ("factors", "treatments", "message"),
    [
        (
            [(12, "random"), (0, "ordered")],
            [],
            "Factor 2: the number of levels must be a whole number of at least 1; got 0.",
        ),
        (
            [(4, "random")],
            [(4, "sorted")],
            "Treatment 1: the kind must be 'random' or 'ordered'; got 'sorted'.",
        ),
        ([], [], "PROC PLAN needs at least one factor."),
        (
            [(2, "ordered"), (4, "random")],
            [(4, "random"), (3, "random")],
            "Treatment 2 has 3 levels but must have at least as many as the innermost factor (4).",
        ),
    ],
)
def test_proc_plan_refusals_name_the_factor_or_treatment(factors, treatments, message):
    with pytest.raises(ValueError) as error:
        proc_plan(27371, factors, treatments)
    assert str(error.value) == message
