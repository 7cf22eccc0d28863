"""Tests for the pure list layer (randomization/lists.py). No Django needed."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from randomization.lists import (
    CANONICAL_SCHEMA,
    COMMITMENT_SALTED,
    COMMITMENT_SCHEMES,
    COMMITMENT_UNSALTED,
    GENERATOR,
    SALT_BYTES,
    TEMPLATES,
    ListError,
    block_pattern,
    build_list,
    canonical_form,
    commitment,
    commitment_matches,
    compare_lists,
    list_hash,
    salted_commitment,
    sas_program,
)
from randomization.sas import MAX_SEED, Ranuni, proc_plan

TWO_ARMS = ["MLT", "PLACEBO"]

# (arms, ratio, fixed block size, sizes for random_blocks)
DESIGNS = [
    pytest.param(TWO_ARMS, [1, 1], 4, [2, 4, 6], id="1:1"),
    pytest.param(TWO_ARMS, [2, 1], 6, [3, 6, 9], id="2:1"),
    pytest.param(["A", "B", "C"], [1, 1, 2], 8, [4, 8], id="A:B:C=1:1:2"),
    pytest.param(["Arm one", "Bras d'à côté"], [1, 3], 4, [4, 8, 12], id="odd-names"),
]


def _params(template, arms, ratio, block, sizes, *, seed=20240601, n_slots=40):
    return {
        "template": template,
        "seed": seed,
        "arms": arms,
        "ratio": ratio,
        "block_sizes": sizes if template == "random_blocks" else [block],
        "n_slots": n_slots,
    }


def _blocks(rows):
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["block"], []).append(row)
    return grouped


def _assert_well_formed(rows, arms, ratio, n_slots, allowed_sizes):
    assert [row["sequence"] for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) >= n_slots
    blocks = _blocks(rows)
    assert list(blocks) == list(range(1, len(blocks) + 1))
    # Blocks are contiguous runs in sequence order.
    assert [row["block"] for row in rows] == sorted(row["block"] for row in rows)
    for block_rows in blocks.values():
        size = block_rows[0]["block_size"]
        assert size in allowed_sizes
        assert all(row["block_size"] == size for row in block_rows)
        assert len(block_rows) == size  # every block is complete
        counts = Counter(row["arm"] for row in block_rows)
        copies = size // sum(ratio)
        assert counts == {arm: part * copies for arm, part in zip(arms, ratio, strict=True)}
    # Whole blocks only: dropping the last block would leave fewer than n_slots.
    assert len(rows) - rows[-1]["block_size"] < n_slots


# --------------------------------------------------------------------------- patterns


@pytest.mark.parametrize(
    ("arms", "ratio", "size", "expected"),
    [
        (TWO_ARMS, [1, 1], 4, ["MLT", "MLT", "PLACEBO", "PLACEBO"]),
        (TWO_ARMS, [1, 1], 2, ["MLT", "PLACEBO"]),
        (TWO_ARMS, [2, 1], 6, ["MLT"] * 4 + ["PLACEBO"] * 2),
        (["A", "B", "C"], [1, 1, 2], 4, ["A", "B", "C", "C"]),
        (["B", "A"], [1, 1], 2, ["B", "A"]),  # given order, not sorted
    ],
)
def test_block_pattern(arms, ratio, size, expected):
    assert block_pattern(arms=arms, ratio=ratio, block_size=size) == expected


# --------------------------------------------------------------------------- balance and shape


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize(("arms", "ratio", "block", "sizes"), DESIGNS)
@pytest.mark.parametrize("n_slots", [1, 7, 40, 101])
def test_every_block_is_complete_and_balanced(template, arms, ratio, block, sizes, n_slots):
    params = _params(template, arms, ratio, block, sizes, n_slots=n_slots)
    rows = build_list(**params)
    _assert_well_formed(rows, arms, ratio, n_slots, set(params["block_sizes"]))
    assert all(set(row) == {"sequence", "block", "block_size", "arm"} for row in rows)


@pytest.mark.parametrize("template", ["plan", "datastep"])
@pytest.mark.parametrize(
    ("n_slots", "block", "n_blocks"),
    [(1, 4, 1), (4, 4, 1), (5, 4, 2), (40, 4, 10), (41, 6, 7), (250, 2, 125)],
)
def test_fixed_size_list_has_ceil_n_over_b_blocks(template, n_slots, block, n_blocks):
    rows = build_list(**_params(template, TWO_ARMS, [1, 1], block, [], n_slots=n_slots))
    assert n_blocks == math.ceil(n_slots / block)
    assert len(rows) == n_blocks * block
    assert rows[-1]["block"] == n_blocks


@pytest.mark.parametrize("seed", [1, 45, 27371, 777777, MAX_SEED])
def test_random_blocks_uses_only_given_sizes_and_ends_on_a_whole_block(seed):
    rows = build_list(
        **_params("random_blocks", TWO_ARMS, [1, 1], 0, [2, 4, 6], seed=seed, n_slots=300)
    )
    sizes = [block_rows[0]["block_size"] for block_rows in _blocks(rows).values()]
    assert set(sizes) <= {2, 4, 6}
    # With ~75 blocks every size turns up; the sizes really are drawn.
    assert set(sizes) == {2, 4, 6}
    assert sum(sizes) == len(rows) >= 300
    assert sum(sizes[:-1]) < 300


@pytest.mark.parametrize("template", TEMPLATES)
def test_same_inputs_give_equal_lists(template):
    params = _params(template, TWO_ARMS, [1, 1], 4, [2, 4, 6])
    assert build_list(**params) == build_list(**params)


@pytest.mark.parametrize("template", TEMPLATES)
def test_different_seeds_give_different_lists(template):
    lists = [
        [
            row["arm"]
            for row in build_list(**_params(template, TWO_ARMS, [1, 1], 4, [2, 4, 6], seed=seed))
        ]
        for seed in (1, 2, 45, 27371, 20240601)
    ]
    assert len({tuple(arms) for arms in lists}) == len(lists)


# --------------------------------------------------------------------------- the SAS rules


@pytest.mark.parametrize("seed", [45, 27371, 20240601])
def test_plan_first_block_is_pattern_permuted_by_proc_plan(seed):
    rows = build_list(**_params("plan", TWO_ARMS, [1, 1], 4, [], seed=seed, n_slots=12))
    pattern = ["MLT", "MLT", "PLACEBO", "PLACEBO"]
    permutation = [level for (level,) in proc_plan(seed, [(4, "random")])]
    assert [row["arm"] for row in rows[:4]] == [pattern[level - 1] for level in permutation]


def test_plan_matches_the_manual_vector_for_one_block_of_twelve():
    # proc plan seed=27371 gives 8 5 1 4 6 2 12 7 3 9 10 11 (SAS/STAT manual).
    rows = build_list(
        template="plan", seed=27371, arms=["A", "B"], ratio=[1, 1], block_sizes=[12], n_slots=12
    )
    expected = ["B", "A", "A", "A", "A", "A", "B", "B", "A", "B", "B", "B"]
    assert [row["arm"] for row in rows] == expected


@pytest.mark.parametrize("seed", [45, 20240601])
def test_plan_is_one_stream_with_a_fresh_permutation_per_block(seed):
    rows = build_list(**_params("plan", TWO_ARMS, [2, 1], 6, [], seed=seed, n_slots=30))
    pattern = ["MLT"] * 4 + ["PLACEBO"] * 2
    stream = Ranuni(seed)
    expected = [pattern[level - 1] for _ in range(5) for level in stream.permutation(6)]
    assert [row["arm"] for row in rows] == expected


@pytest.mark.parametrize(("arms", "ratio", "block", "sizes"), DESIGNS)
@pytest.mark.parametrize("seed", [45, 20240601])
def test_datastep_is_a_stable_sort_of_ranuni_by_block(arms, ratio, block, sizes, seed):
    rows = build_list(**_params("datastep", arms, ratio, block, sizes, seed=seed, n_slots=30))
    pattern = block_pattern(arms=arms, ratio=ratio, block_size=block)
    n_blocks = math.ceil(30 / block)
    # Independent reading: float u as SAS stores it, one stream in row order.
    stream = Ranuni(seed)
    unsorted = [(b, stream.uniform(), arm) for b in range(1, n_blocks + 1) for arm in pattern]
    expected = sorted(unsorted, key=lambda row: (row[0], row[1]))
    assert [(row["block"], row["arm"]) for row in rows] == [(b, arm) for b, _u, arm in expected]


@pytest.mark.parametrize(("arms", "ratio", "block", "sizes"), DESIGNS)
@pytest.mark.parametrize("seed", [45, 20240601])
def test_random_blocks_follows_the_data_step_in_floats(arms, ratio, block, sizes, seed):
    rows = build_list(**_params("random_blocks", arms, ratio, block, sizes, seed=seed, n_slots=50))
    # Independent reading of the SAS program: floor(u * k) in doubles, 1-based arrays.
    stream = Ranuni(seed)
    expected = []
    block_number = 0
    while len(expected) < 50:
        block_number += 1
        size = sizes[math.floor(stream.uniform() * len(sizes))]
        perm = list(range(1, size + 1))
        for i in range(1, size + 1):
            j = i + math.floor(stream.uniform() * (size - i + 1))
            perm[i - 1], perm[j - 1] = perm[j - 1], perm[i - 1]
        pattern = block_pattern(arms=arms, ratio=ratio, block_size=size)
        expected += [(block_number, size, pattern[level - 1]) for level in perm]
    assert [(row["block"], row["block_size"], row["arm"]) for row in rows] == expected


def test_random_blocks_single_size_uses_one_draw_per_block_for_the_size():
    rows = build_list(
        template="random_blocks", seed=45, arms=TWO_ARMS, ratio=[1, 1], block_sizes=[4], n_slots=8
    )
    stream = Ranuni(45)
    expected = []
    for _ in range(2):
        stream.next_state()  # the size draw still happens, as in the SAS program
        expected += stream.permutation(4)
    pattern = ["MLT", "MLT", "PLACEBO", "PLACEBO"]
    assert [row["arm"] for row in rows] == [pattern[level - 1] for level in expected]


# --------------------------------------------------------------------------- validation

VALID = {
    "template": "plan",
    "seed": 45,
    "arms": TWO_ARMS,
    "ratio": [1, 1],
    "block_sizes": [4],
    "n_slots": 40,
}


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"template": "minimisation"}, "Unknown list template"),
        ({"template": None}, "Unknown list template"),
        ({"seed": 0}, "clock"),
        ({"seed": -5}, "clock"),
        ({"seed": 2**31 - 1}, "outside"),
        ({"seed": 2.5}, "whole number"),
        ({"seed": True}, "yes/no"),
        ({"seed": "45"}, "whole number"),
        ({"arms": []}, "at least one arm"),
        ({"arms": "MLT"}, "must be a list"),
        ({"arms": ["MLT", ""]}, "non-empty"),
        ({"arms": ["MLT", "   "]}, "non-empty"),
        ({"arms": ["MLT", 2]}, "non-empty"),
        ({"arms": ["MLT", "MLT"]}, "named once"),
        ({"arms": ["MLT ", "PLACEBO"]}, "spaces"),
        ({"arms": ["MLT", "PLA\nCEBO"]}, "control characters"),
        ({"ratio": [1]}, "one ratio number per arm"),
        ({"ratio": [1, 1, 1]}, "one ratio number per arm"),
        ({"ratio": [1, 0]}, "at least 1"),
        ({"ratio": [1, -1]}, "at least 1"),
        ({"ratio": [1, 1.5]}, "whole number"),
        ({"ratio": [True, 1]}, "whole number"),
        ({"block_sizes": []}, "at least one block size"),
        ({"block_sizes": 4}, "must be a list"),
        ({"block_sizes": [2, 4]}, "one fixed block size"),
        ({"block_sizes": [5]}, "not a multiple of the ratio total 2"),
        ({"block_sizes": [0]}, "at least 1"),
        ({"block_sizes": [4.0]}, "whole number"),
        ({"template": "datastep", "block_sizes": [2, 4]}, "one fixed block size"),
        ({"template": "random_blocks", "block_sizes": [2, 4, 4]}, "each block size once"),
        ({"template": "random_blocks", "block_sizes": [2, 3]}, "not a multiple"),
        ({"ratio": [2, 1], "block_sizes": [4]}, "not a multiple of the ratio total 3"),
        ({"n_slots": 0}, "at least 1"),
        ({"n_slots": -1}, "at least 1"),
        ({"n_slots": 2.0}, "whole number"),
        ({"n_slots": True}, "whole number"),
    ],
)
@pytest.mark.parametrize("function", [build_list, sas_program])
def test_invalid_parameters_raise_list_error(function, changes, fragment):
    with pytest.raises(ListError, match=fragment) as excinfo:
        function(**{**VALID, **changes})
    assert isinstance(excinfo.value, ValueError)


def test_tuples_are_accepted_like_lists():
    as_tuples = {**VALID, "arms": tuple(TWO_ARMS), "ratio": (1, 1), "block_sizes": (4,)}
    assert build_list(**as_tuples) == build_list(**VALID)


def test_one_arm_is_allowed():
    rows = build_list(**{**VALID, "arms": ["OPEN"], "ratio": [1], "block_sizes": [3]})
    assert {row["arm"] for row in rows} == {"OPEN"}


# --------------------------------------------------------------------------- SAS program


def _program(template, **changes):
    sizes = [2, 4, 6] if template == "random_blocks" else [4]
    return sas_program(**{**VALID, "template": template, "block_sizes": sizes, **changes})


@pytest.mark.parametrize("template", TEMPLATES)
def test_program_header_records_every_parameter(template):
    program = _program(template, seed=20240601, n_slots=37)
    header = program.split("*/", 1)[0]
    assert f"Template:    {template}" in header
    assert "Seed:        20240601" in header
    assert "'MLT' 'PLACEBO'" in header
    assert "Ratio:       1:1" in header
    assert ("2 4 6" if template == "random_blocks" else "Block sizes: 4") in header
    assert "37 requested" in header
    assert program.endswith("run;\n")


def test_plan_program():
    program = _program("plan", seed=20240601, n_slots=37)
    assert "proc plan seed=20240601;" in program
    assert "factors block=10 ordered trt=4 random;" in program
    assert "output out=list trt cvals=('MLT' 'MLT' 'PLACEBO' 'PLACEBO');" in program
    assert "proc print data=list noobs;" in program


def test_plan_program_two_to_one():
    program = _program("plan", ratio=[2, 1], block_sizes=[6], n_slots=12)
    assert "factors block=2 ordered trt=6 random;" in program
    assert "cvals=('MLT' 'MLT' 'MLT' 'MLT' 'PLACEBO' 'PLACEBO')" in program


def test_datastep_program():
    program = _program("datastep", seed=20240601, ratio=[2, 1], block_sizes=[6], n_slots=37)
    assert "u = ranuni(20240601);" in program
    assert "do block = 1 to 7;" in program
    assert "array arms[2] $7 _temporary_ ('MLT' 'PLACEBO');" in program
    assert "array copies[2] _temporary_ (4 2);" in program
    assert "proc sort data=list;\n   by block u;\nrun;" in program
    assert "stable" in program
    # The sort must come after the rows are written, and numbering after the sort.
    assert program.index("u = ranuni") < program.index("proc sort") < program.index("_n_")


def test_random_blocks_program():
    program = _program("random_blocks", seed=20240601, n_slots=37)
    assert "seed = 20240601;" in program
    assert "array sizes[3] _temporary_ (2 4 6);" in program
    assert "array perm[6] _temporary_;" in program
    assert "do while (sequence < 37);" in program
    assert program.count("call ranuni(seed, u);") == 2
    assert "block_size = sizes[floor(u * dim(sizes)) + 1];" in program
    assert "j = i + floor(u * (block_size - i + 1));" in program
    assert "ranuni(20240601)" not in program  # CALL form only: one stream in SEED


def test_program_quotes_arm_names_for_sas():
    program = _program("plan", arms=["Bras d'à côté", "*/ sneaky"], ratio=[1, 1])
    assert "'Bras d''à côté'" in program
    header = program.split("*/\n", 1)[0]
    assert "*/" not in header  # an arm name cannot close the header comment early


def test_program_length_counts_utf8_bytes():
    program = _program("datastep", arms=["Bras d'à côté", "B"], ratio=[1, 1])
    assert "length arm $16;" in program  # 13 characters, 16 bytes in UTF-8


# --------------------------------------------------------------------------- sealing


def _sealed(template="plan", **changes):
    params = {**VALID, "template": template, **changes}
    rows = build_list(**params)
    return {**params, "generator": GENERATOR, "rows": rows}


def test_canonical_form_is_compact_sorted_utf8_json():
    sealed = _sealed(arms=["MLT", "Plácebo"], n_slots=4)
    raw = canonical_form(**sealed)
    assert isinstance(raw, bytes)
    document = json.loads(raw.decode("utf-8"))
    assert raw == json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "Plácebo".encode() in raw
    assert b" " not in raw and b"\n" not in raw
    assert document["schema"] == CANONICAL_SCHEMA
    assert document["template"] == "plan"
    assert document["generator"] == GENERATOR
    assert document["seed"] == 45
    assert document["arms"] == ["MLT", "Plácebo"]
    assert document["ratio"] == [1, 1]
    assert document["block_sizes"] == [4]
    assert document["n_slots"] == 4
    assert document["rows"] == sealed["rows"]


def test_hash_is_sha256_of_canonical_form_and_stable():
    sealed = _sealed()
    digest = list_hash(**sealed)
    assert digest == hashlib.sha256(canonical_form(**sealed)).hexdigest()
    assert len(digest) == 64 and digest == digest.lower()
    assert list_hash(**_sealed()) == digest  # regenerated from the parameters


def test_hash_is_pinned_for_a_known_list():
    # Changing this value means every sealed list would fail verification.
    sealed = {
        "template": "plan",
        "generator": "sas_ranuni",
        "seed": 45,
        "arms": ["MLT", "PLACEBO"],
        "ratio": [1, 1],
        "block_sizes": [4],
        "n_slots": 4,
        "rows": [
            {"sequence": 1, "block": 1, "block_size": 4, "arm": "MLT"},
            {"sequence": 2, "block": 1, "block_size": 4, "arm": "PLACEBO"},
            {"sequence": 3, "block": 1, "block_size": 4, "arm": "PLACEBO"},
            {"sequence": 4, "block": 1, "block_size": 4, "arm": "MLT"},
        ],
    }
    assert canonical_form(**sealed).startswith(
        b'{"arms":["MLT","PLACEBO"],"block_sizes":[4],"generator":"sas_ranuni","n_slots":4,'
        b'"ratio":[1,1],"rows":[{"arm":"MLT","block":1,"block_size":4,"sequence":1},'
    )
    assert list_hash(**sealed) == (
        "ef6a08e157b7a99b37c55107577832eaba05f334528a0343ce43de338df113fc"
    )
    # The pinned rows are the real list for these parameters.
    assert build_list(**{key: sealed[key] for key in VALID}) == sealed["rows"]


def test_hash_changes_when_one_arm_changes():
    sealed = _sealed()
    tampered = [dict(row) for row in sealed["rows"]]
    tampered[2]["arm"] = "PLACEBO" if tampered[2]["arm"] == "MLT" else "MLT"
    assert list_hash(**sealed) != list_hash(**{**sealed, "rows": tampered})


@pytest.mark.parametrize(
    "changes",
    [{"seed": 46}, {"generator": "other"}, {"n_slots": 39}, {"template": "datastep"}],
)
def test_hash_changes_with_any_recorded_parameter(changes):
    sealed = _sealed()
    assert list_hash(**sealed) != list_hash(**{**sealed, **changes})


def test_hash_ignores_row_key_order_and_extra_row_keys():
    sealed = _sealed()
    reordered = [dict(reversed(list(row.items()))) | {"pack_code": "X"} for row in sealed["rows"]]
    assert list_hash(**sealed) == list_hash(**{**sealed, "rows": reordered})


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([{"sequence": 1, "block": 1, "block_size": 4}], "lacks arm"),
        ([{"sequence": "1", "block": 1, "block_size": 4, "arm": "MLT"}], "whole number"),
        ([{"sequence": 1, "block": 1, "block_size": 4, "arm": 1}], "arm must be text"),
        (["MLT"], "mapping"),
    ],
)
def test_canonical_form_refuses_malformed_rows(rows, fragment):
    with pytest.raises(ListError, match=fragment):
        canonical_form(**{**_sealed(), "rows": rows})


def test_canonical_form_refuses_empty_generator():
    with pytest.raises(ListError, match="generator"):
        canonical_form(**{**_sealed(), "generator": ""})


# --------------------------------------------------------------------------- commitment

SALT = bytes(range(SALT_BYTES))


def test_salted_commitment_is_sha256_of_salt_then_canonical_form():
    canonical = canonical_form(**_sealed())
    digest = salted_commitment(salt=SALT, canonical=canonical)
    assert digest == hashlib.sha256(SALT + canonical).hexdigest()
    assert digest != hashlib.sha256(canonical + SALT).hexdigest()  # salt first
    assert digest != list_hash(**_sealed())
    assert len(digest) == 64 and digest == digest.lower()


def test_salted_commitment_is_pinned():
    # 32 zero bytes then "abc", as `{ head -c 32 /dev/zero; printf abc; } | sha256sum`
    # prints it: changing this value means no sealed list would verify.
    assert salted_commitment(salt=bytes(32), canonical=b"abc") == (
        "365aa7d8f7f9402c4b9434502b4cc89ddb09fe50d7cd95b493b834c62d5a5370"
    )


def test_unsalted_commitment_is_the_plain_list_hash():
    sealed = _sealed()
    assert commitment(scheme=COMMITMENT_UNSALTED, canonical=canonical_form(**sealed)) == list_hash(
        **sealed
    )
    assert COMMITMENT_SCHEMES == ("sha256-unsalted", "sha256-salted")


def test_a_different_salt_gives_a_different_commitment():
    canonical = canonical_form(**_sealed())
    other = bytes([SALT[0] ^ 1]) + SALT[1:]
    assert salted_commitment(salt=SALT, canonical=canonical) != salted_commitment(
        salt=other, canonical=canonical
    )


@pytest.mark.parametrize(
    ("scheme", "salt", "fragment"),
    [
        pytest.param(COMMITMENT_SALTED, b"", "32 bytes", id="salted-without-salt"),
        pytest.param(COMMITMENT_SALTED, bytes(31), "32 bytes", id="salt-31-bytes"),
        pytest.param(COMMITMENT_SALTED, bytes(33), "32 bytes", id="salt-33-bytes"),
        pytest.param(COMMITMENT_SALTED, "00" * 32, "32 bytes", id="salt-as-hex-text"),
        pytest.param(COMMITMENT_UNSALTED, SALT, "takes no salt", id="unsalted-with-salt"),
        pytest.param("sha256", b"", "Unknown commitment scheme", id="unknown-scheme"),
        pytest.param("", b"", "Unknown commitment scheme", id="empty-scheme"),
    ],
)
def test_commitment_refuses_mistakes(scheme, salt, fragment):
    with pytest.raises(ListError, match=fragment):
        commitment(scheme=scheme, canonical=b"{}", salt=salt)


@pytest.mark.parametrize("canonical", [b"", "{}", None])
def test_commitment_needs_canonical_bytes(canonical):
    for scheme, salt in ((COMMITMENT_SALTED, SALT), (COMMITMENT_UNSALTED, b"")):
        with pytest.raises(ListError, match="non-empty bytes"):
            commitment(scheme=scheme, canonical=canonical, salt=salt)


def test_commitment_matches():
    canonical = canonical_form(**_sealed())
    fingerprint = salted_commitment(salt=SALT, canonical=canonical)
    assert commitment_matches(
        scheme=COMMITMENT_SALTED, fingerprint=fingerprint, canonical=canonical, salt=SALT
    )
    changed = canonical.replace(b'"seed":45', b'"seed":46')
    assert changed != canonical
    for scheme, salt, fp, body in [
        (COMMITMENT_SALTED, SALT, fingerprint, changed),  # another list
        (COMMITMENT_SALTED, bytes(32), fingerprint, canonical),  # another salt
        (COMMITMENT_UNSALTED, b"", fingerprint, canonical),  # another scheme
        (COMMITMENT_SALTED, SALT, fingerprint.upper(), canonical),  # stored lowercase
        (COMMITMENT_SALTED, SALT, fingerprint[:-1], canonical),
        (COMMITMENT_SALTED, SALT, "é" * 64, canonical),
        (COMMITMENT_SALTED, SALT, None, canonical),
    ]:
        assert not commitment_matches(scheme=scheme, fingerprint=fp, canonical=body, salt=salt)
    assert commitment_matches(
        scheme=COMMITMENT_UNSALTED, fingerprint=list_hash(**_sealed()), canonical=canonical
    )


# --------------------------------------------------------------------------- verification


def test_compare_identical_lists_is_empty():
    rows = build_list(**VALID)
    assert compare_lists(rows, build_list(**VALID)) == []


def test_compare_reports_the_differing_sequence():
    expected = build_list(**VALID)
    actual = [dict(row) for row in expected]
    actual[6]["arm"] = "PLACEBO" if actual[6]["arm"] == "MLT" else "MLT"
    problems = compare_lists(expected, actual)
    assert len(problems) == 1
    assert problems[0].startswith("Sequence 7 differs: arm ")
    assert repr(expected[6]["arm"]) in problems[0] and repr(actual[6]["arm"]) in problems[0]


def test_compare_reports_missing_extra_and_duplicate_rows():
    expected = build_list(**{**VALID, "n_slots": 8})
    actual = [dict(row) for row in expected[:6]]  # 7 and 8 missing
    actual.append({"sequence": 3, "block": 1, "block_size": 4, "arm": expected[2]["arm"]})
    actual.append({"sequence": 9, "block": 3, "block_size": 4, "arm": "MLT"})
    actual.append({"block": 3, "block_size": 4, "arm": "MLT"})
    problems = compare_lists(expected, actual)
    assert problems == [
        "Row 9 of the actual list has no sequence number.",
        "Sequence 3 appears 2 times in the actual list.",
        "Sequence 7 is in the expected list but missing from the actual list.",
        "Sequence 8 is in the expected list but missing from the actual list.",
        "Sequence 9 is in the actual list but not in the expected list.",
    ]


def test_compare_reports_block_differences():
    expected = build_list(**VALID)
    actual = [dict(row) for row in expected]
    actual[0]["block"] = 2
    actual[0]["block_size"] = 6
    (problem,) = compare_lists(expected, actual)
    assert (
        problem == "Sequence 1 differs: block 1 expected, 2 found; block_size 4 expected, 6 found."
    )


def test_regenerated_list_verifies_against_its_hash():
    sealed = _sealed("random_blocks", block_sizes=[2, 4, 6])
    regenerated = build_list(**{key: sealed[key] for key in VALID})
    assert compare_lists(sealed["rows"], regenerated) == []
    assert list_hash(**{**sealed, "rows": regenerated}) == list_hash(**sealed)


# --------------------------------------------------------------------------- properties


@st.composite
def list_parameters(draw):
    template = draw(st.sampled_from(TEMPLATES))
    n_arms = draw(st.integers(1, 4))
    arms = draw(
        st.lists(
            st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
            min_size=n_arms,
            max_size=n_arms,
            unique=True,
        )
    )
    ratio = draw(st.lists(st.integers(1, 3), min_size=n_arms, max_size=n_arms))
    multiples = draw(
        st.lists(
            st.integers(1, 3),
            min_size=1,
            max_size=1 if template != "random_blocks" else 3,
            unique=True,
        )
    )
    return {
        "template": template,
        "seed": draw(st.integers(1, MAX_SEED)),
        "arms": arms,
        "ratio": ratio,
        "block_sizes": [multiple * sum(ratio) for multiple in multiples],
        "n_slots": draw(st.integers(1, 60)),
    }


@settings(max_examples=200, deadline=None)
@given(params=list_parameters())
def test_property_blocks_balanced_and_sequences_consecutive(params):
    rows = build_list(**params)
    _assert_well_formed(
        rows, params["arms"], params["ratio"], params["n_slots"], set(params["block_sizes"])
    )
    if params["template"] != "random_blocks":
        size = params["block_sizes"][0]
        assert len(rows) == math.ceil(params["n_slots"] / size) * size
    assert compare_lists(rows, build_list(**params)) == []
    assert sas_program(**params).count("'") % 2 == 0
