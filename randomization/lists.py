"""Pure domain layer: SAS-equivalent block randomization lists.

No Django, no database, no settings. Builds the three list templates of
randomization.md ("plan", "datastep", "random_blocks") from the bit-exact SAS
generators in :mod:`randomization.sas`, prints the SAS program that regenerates
the same list, gives the list a canonical form, and commits to it for sealing and
later verification: SHA-256 over a secret random salt followed by the canonical
form (lists sealed before salting used the plain SHA-256, still checkable here).

Everything returned here (rows, the SAS program, comparison messages) is
unblinded information: callers must only show it to unblinded users.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from randomization.sas import Ranuni, SeedError, proc_plan, validate_seed

__all__ = [
    "CANONICAL_SCHEMA",
    "COMMITMENT_SALTED",
    "COMMITMENT_SCHEMES",
    "COMMITMENT_UNSALTED",
    "GENERATOR",
    "ROW_KEYS",
    "SALT_BYTES",
    "TEMPLATES",
    "ListError",
    "block_pattern",
    "build_list",
    "canonical_form",
    "commitment",
    "commitment_matches",
    "compare_lists",
    "list_hash",
    "salted_commitment",
    "sas_program",
]

TEMPLATES: tuple[str, ...] = ("plan", "datastep", "random_blocks")
# All three templates draw from the RANUNI stream started at the seed.
GENERATOR = "sas_ranuni"
# Recorded inside the canonical form so that a future change of layout can never
# produce the same bytes, and so hashes say which layout they were made from.
CANONICAL_SCHEMA = "randomization-list/1"
ROW_KEYS: tuple[str, ...] = ("sequence", "block", "block_size", "arm")

# How a list's public fingerprint was made. The plain hash of a list with a 31-bit
# seed is matched by hashing every candidate seed, which gives away every arm; a
# 256-bit secret salt in front of the canonical form makes that search hopeless
# until the salt is revealed. Lists sealed before salting keep the plain form.
COMMITMENT_UNSALTED = "sha256-unsalted"
COMMITMENT_SALTED = "sha256-salted"
COMMITMENT_SCHEMES: tuple[str, ...] = (COMMITMENT_UNSALTED, COMMITMENT_SALTED)
SALT_BYTES = 32

Row = dict[str, int | str]


class ListError(ValueError):
    """Parameters or rows that cannot make (or describe) a randomization list."""


@dataclass(frozen=True)
class _ListSpec:
    template: str
    seed: int
    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    block_sizes: tuple[int, ...]
    n_slots: int

    @property
    def ratio_sum(self) -> int:
        return sum(self.ratio)


def _is_whole(value: object) -> TypeGuard[int]:
    # bool is an int subclass; True must not pass as 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _as_sequence(name: str, value: object) -> tuple[object, ...]:
    # A bare string is a Sequence too, but "MLT" is not a list of arms.
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ListError(f"{name} must be a list; got {value!r}.")
    return tuple(value)


def _validate(
    *,
    template: object,
    seed: object,
    arms: object,
    ratio: object,
    block_sizes: object,
    n_slots: object,
) -> _ListSpec:
    if not isinstance(template, str) or template not in TEMPLATES:
        raise ListError(
            f"Unknown list template {template!r}; use one of "
            + ", ".join(repr(t) for t in TEMPLATES)
            + "."
        )
    try:
        checked_seed = validate_seed(seed)
    except SeedError as exc:
        raise ListError(str(exc)) from exc

    arm_list: list[str] = []
    for arm in _as_sequence("Arms", arms):
        if not isinstance(arm, str) or not arm.strip():
            raise ListError(f"Each arm must be a non-empty name; got {arm!r}.")
        if arm != arm.strip():
            # SAS drops trailing blanks from character values, so "MLT " and "MLT"
            # would print the same in the regenerated list.
            raise ListError(f"Arm name {arm!r} must not start or end with spaces.")
        if any(not ch.isprintable() for ch in arm):
            raise ListError(f"Arm name {arm!r} must not contain control characters.")
        arm_list.append(arm)
    if not arm_list:
        raise ListError("Give at least one arm.")
    duplicates = sorted(arm for arm, count in Counter(arm_list).items() if count > 1)
    if duplicates:
        raise ListError(f"Each arm must be named once; repeated: {', '.join(duplicates)}.")

    given_ratio = _as_sequence("Ratio", ratio)
    if len(given_ratio) != len(arm_list):
        raise ListError(
            f"Give one ratio number per arm: {len(arm_list)} arms but {len(given_ratio)} "
            "ratio numbers."
        )
    ratio_list: list[int] = []
    for part in given_ratio:
        if not _is_whole(part) or part < 1:
            raise ListError(
                f"Each ratio number must be a whole number of at least 1; got {part!r}."
            )
        ratio_list.append(part)
    ratio_sum = sum(ratio_list)

    given_sizes = _as_sequence("Block sizes", block_sizes)
    if not given_sizes:
        raise ListError("Give at least one block size.")
    if template in ("plan", "datastep") and len(given_sizes) != 1:
        raise ListError(
            f"The {template!r} template uses one fixed block size; got {len(given_sizes)} "
            "sizes. Use the 'random_blocks' template for several sizes."
        )
    size_list: list[int] = []
    for size in given_sizes:
        if not _is_whole(size) or size < 1:
            raise ListError(f"Each block size must be a whole number of at least 1; got {size!r}.")
        size_list.append(size)
        if size % ratio_sum:
            raise ListError(
                f"Block size {size} is not a multiple of the ratio total {ratio_sum}, "
                "so a block could not hold the arms in the given ratio."
            )
    if len(set(size_list)) != len(size_list):
        raise ListError("Give each block size once.")

    if not _is_whole(n_slots) or n_slots < 1:
        raise ListError(
            f"The number of slots must be a whole number of at least 1; got {n_slots!r}."
        )

    return _ListSpec(
        template=template,
        seed=checked_seed,
        arms=tuple(arm_list),
        ratio=tuple(ratio_list),
        block_sizes=tuple(size_list),
        n_slots=n_slots,
    )


def _pattern(spec: _ListSpec, size: int) -> list[str]:
    copies = size // spec.ratio_sum
    return [
        arm for arm, part in zip(spec.arms, spec.ratio, strict=True) for _ in range(part * copies)
    ]


def block_pattern(*, arms: Sequence[str], ratio: Sequence[int], block_size: int) -> list[str]:
    """The unrandomized block: arms in the given order, each ratio * size / sum(ratio) times.

    ``block_pattern(arms=["MLT", "PLACEBO"], ratio=[1, 1], block_size=4)`` is
    ``["MLT", "MLT", "PLACEBO", "PLACEBO"]`` (the CVALS of the PLAN program).
    """
    spec = _validate(
        template="random_blocks",
        seed=1,
        arms=arms,
        ratio=ratio,
        block_sizes=[block_size],
        n_slots=1,
    )
    return _pattern(spec, block_size)


# --------------------------------------------------------------------------- building


def _rows(blocks: list[tuple[int, list[str]]]) -> list[Row]:
    rows: list[Row] = []
    for block_number, (size, arms_in_order) in enumerate(blocks, start=1):
        for arm in arms_in_order:
            rows.append(
                {"sequence": len(rows) + 1, "block": block_number, "block_size": size, "arm": arm}
            )
    return rows


def _build_plan(spec: _ListSpec) -> list[Row]:
    size = spec.block_sizes[0]
    n_blocks = math.ceil(spec.n_slots / size)
    pattern = _pattern(spec, size)
    cells = proc_plan(spec.seed, [(n_blocks, "ordered"), (size, "random")])
    blocks: list[tuple[int, list[str]]] = [(size, []) for _ in range(n_blocks)]
    for block, trt in cells:
        blocks[block - 1][1].append(pattern[trt - 1])
    return _rows(blocks)


def _build_datastep(spec: _ListSpec) -> list[Row]:
    size = spec.block_sizes[0]
    n_blocks = math.ceil(spec.n_slots / size)
    pattern = _pattern(spec, size)
    stream = Ranuni(spec.seed)
    blocks: list[tuple[int, list[str]]] = []
    for _block in range(n_blocks):
        # Sorting by the integer state orders rows exactly as sorting by u does.
        keyed = [(stream.next_state(), arm) for arm in pattern]
        # sorted() is stable, like PROC SORT's default EQUALS option. Ties cannot
        # actually happen: RANUNI never repeats a state within its period.
        keyed = sorted(keyed, key=lambda pair: pair[0])
        blocks.append((size, [arm for _state, arm in keyed]))
    return _rows(blocks)


def _build_random_blocks(spec: _ListSpec) -> list[Row]:
    stream = Ranuni(spec.seed)
    blocks: list[tuple[int, list[str]]] = []
    total = 0
    while total < spec.n_slots:
        size = spec.block_sizes[stream.next_index(len(spec.block_sizes))]
        pattern = _pattern(spec, size)
        permutation = stream.permutation(size)
        blocks.append((size, [pattern[level - 1] for level in permutation]))
        total += size
    return _rows(blocks)


_BUILDERS = {
    "plan": _build_plan,
    "datastep": _build_datastep,
    "random_blocks": _build_random_blocks,
}


def build_list(
    *,
    template: str,
    seed: int,
    arms: Sequence[str],
    ratio: Sequence[int],
    block_sizes: Sequence[int],
    n_slots: int,
) -> list[Row]:
    """Build a randomization list exactly as the template's SAS program would.

    Returns rows ``{"sequence": 1.., "block": 1.., "block_size": int, "arm": str}``.
    Lists are whole blocks, so they can be longer than ``n_slots``.

    - ``"plan"``: ``proc plan seed=S; factors block=NB ordered trt=B random;``
      with NB = ceil(n_slots / B); position i of block b gets
      ``pattern[perm_b[i] - 1]``.
    - ``"datastep"``: one row per slot in pattern order, ``u = ranuni(S)`` in row
      order from one stream, then a stable sort by (block, u).
    - ``"random_blocks"``: one RANUNI stream; per block, draw u and take
      ``sizes[floor(u * len(sizes))]``, then permute the block as in "plan"; stop
      once the list holds at least n_slots rows.

    Raises :class:`ListError` for any invalid parameter.
    """
    spec = _validate(
        template=template,
        seed=seed,
        arms=arms,
        ratio=ratio,
        block_sizes=block_sizes,
        n_slots=n_slots,
    )
    return _BUILDERS[spec.template](spec)


# --------------------------------------------------------------------------- SAS program


def _sas_string(text: str) -> str:
    # Single quotes stop SAS from resolving & and % as macro references.
    return "'" + text.replace("'", "''") + "'"


def _sas_comment(text: str) -> str:
    # "*/" inside an arm name would end the comment early.
    return text.replace("*/", "* /")


def _arm_length(spec: _ListSpec) -> int:
    # SAS lengths count bytes; a UTF-8 session stores non-ASCII letters in several.
    return max(len(arm.encode("utf-8")) for arm in spec.arms)


def _header(spec: _ListSpec, description: str) -> list[str]:
    arms = " ".join(_sas_string(arm) for arm in spec.arms)
    ratio = ":".join(str(part) for part in spec.ratio)
    sizes = " ".join(str(size) for size in spec.block_sizes)
    lines = [
        "/* Randomization list, SAS-equivalent",
        f"   Template:    {spec.template} ({description})",
        f"   Generator:   RANUNI ({GENERATOR})",
        f"   Seed:        {spec.seed}",
        f"   Arms:        {arms}",
        f"   Ratio:       {ratio}",
        f"   Block sizes: {sizes}",
        f"   Slots:       {spec.n_slots} requested; the list is whole blocks, so it can be longer",
        "   Running this program in SAS prints the same list, row for row.",
        "   The seed and the block sizes are unblinded information.",
    ]
    commented = [_sas_comment(line) for line in lines]
    commented[-1] += " */"
    return commented


def _print_step() -> list[str]:
    return [
        "proc print data=list noobs;",
        "   var sequence block block_size arm;",
        "run;",
    ]


def _program_plan(spec: _ListSpec) -> list[str]:
    size = spec.block_sizes[0]
    n_blocks = math.ceil(spec.n_slots / size)
    cvals = " ".join(_sas_string(arm) for arm in _pattern(spec, size))
    return [
        *_header(spec, "PROC PLAN, fixed block size"),
        "",
        f"/* {n_blocks} blocks of {size}: each block is a fresh random permutation of",
        "   the positions 1..B, and CVALS= maps position k to the k-th arm of the",
        "   unrandomized block (the arms in order, repeated by ratio). */",
        f"proc plan seed={spec.seed};",
        f"   factors block={n_blocks} ordered trt={size} random;",
        f"   output out=list trt cvals=({cvals});",
        "run;",
        "quit;",
        "",
        "/* Number the rows in plan order; this step draws no random numbers. */",
        "data list;",
        "   set list;",
        "   sequence = _n_;",
        f"   block_size = {size};",
        "   rename trt = arm;",
        "run;",
        "",
        *_print_step(),
    ]


def _program_datastep(spec: _ListSpec) -> list[str]:
    size = spec.block_sizes[0]
    n_blocks = math.ceil(spec.n_slots / size)
    copies = size // spec.ratio_sum
    length = _arm_length(spec)
    n_arms = len(spec.arms)
    arms = " ".join(_sas_string(arm) for arm in spec.arms)
    counts = " ".join(str(part * copies) for part in spec.ratio)
    return [
        *_header(spec, "DATA step with RANUNI, then a stable sort"),
        "",
        "/* One row per slot, the arms in pattern order inside each block. The",
        "   RANUNI function keeps one stream per DATA step, seeded by its first call,",
        "   so the u values are drawn in row order from a single stream. */",
        "data list;",
        f"   length arm ${length};",
        f"   array arms[{n_arms}] ${length} _temporary_ ({arms});",
        f"   array copies[{n_arms}] _temporary_ ({counts});",
        f"   block_size = {size};",
        f"   do block = 1 to {n_blocks};",
        "      do a = 1 to dim(arms);",
        "         do copy = 1 to copies[a];",
        "            arm = arms[a];",
        f"            u = ranuni({spec.seed});",
        "            output;",
        "         end;",
        "      end;",
        "   end;",
        "   keep block block_size arm u;",
        "run;",
        "",
        "/* PROC SORT is stable by default (the EQUALS option), so rows with equal",
        "   keys keep their order; RANUNI does not repeat a value within a list anyway. */",
        "proc sort data=list;",
        "   by block u;",
        "run;",
        "",
        "data list;",
        "   set list;",
        "   sequence = _n_;",
        "   drop u;",
        "run;",
        "",
        *_print_step(),
    ]


def _program_random_blocks(spec: _ListSpec) -> list[str]:
    length = _arm_length(spec)
    n_arms = len(spec.arms)
    n_sizes = len(spec.block_sizes)
    arms = " ".join(_sas_string(arm) for arm in spec.arms)
    ratio = " ".join(str(part) for part in spec.ratio)
    sizes = " ".join(str(size) for size in spec.block_sizes)
    largest = max(spec.block_sizes)
    return [
        *_header(spec, "random block sizes, CALL RANUNI"),
        "",
        "/* CALL RANUNI updates the variable SEED, which is the stream: the block size",
        "   and the permutation of every block are drawn from it in turn. Each block",
        "   is the unrandomized pattern (the arms in order, repeated by ratio) put in",
        "   the order of a forward Fisher-Yates permutation, as PROC PLAN makes one. */",
        "data list;",
        f"   length arm ${length};",
        f"   array sizes[{n_sizes}] _temporary_ ({sizes});",
        f"   array arms[{n_arms}] ${length} _temporary_ ({arms});",
        f"   array ratio[{n_arms}] _temporary_ ({ratio});",
        f"   array perm[{largest}] _temporary_;",
        f"   seed = {spec.seed};",
        "   sequence = 0;",
        "   block = 0;",
        f"   do while (sequence < {spec.n_slots});",
        "      block = block + 1;",
        "      call ranuni(seed, u);",
        "      block_size = sizes[floor(u * dim(sizes)) + 1];",
        f"      copies = block_size / {spec.ratio_sum};",
        "      do i = 1 to block_size;",
        "         perm[i] = i;",
        "      end;",
        "      do i = 1 to block_size;",
        "         call ranuni(seed, u);",
        "         j = i + floor(u * (block_size - i + 1));",
        "         swap = perm[i];",
        "         perm[i] = perm[j];",
        "         perm[j] = swap;",
        "      end;",
        "      do i = 1 to block_size;",
        "         /* Pattern position perm[i] belongs to arm a when it falls in the",
        "            run of ratio[a] * copies positions that arm a fills. */",
        "         a = 1;",
        "         limit = ratio[1] * copies;",
        "         do while (perm[i] > limit);",
        "            a = a + 1;",
        "            limit = limit + ratio[a] * copies;",
        "         end;",
        "         arm = arms[a];",
        "         sequence = sequence + 1;",
        "         output;",
        "      end;",
        "   end;",
        "   keep sequence block block_size arm;",
        "run;",
        "",
        *_print_step(),
    ]


_PROGRAMS = {
    "plan": _program_plan,
    "datastep": _program_datastep,
    "random_blocks": _program_random_blocks,
}


def sas_program(
    *,
    template: str,
    seed: int,
    arms: Sequence[str],
    ratio: Sequence[int],
    block_sizes: Sequence[int],
    n_slots: int,
) -> str:
    """Return the SAS program that regenerates :func:`build_list`'s list for these inputs.

    The program ends by printing ``sequence block block_size arm``, which should
    match the stored rows exactly. Raises :class:`ListError` for invalid inputs.
    """
    spec = _validate(
        template=template,
        seed=seed,
        arms=arms,
        ratio=ratio,
        block_sizes=block_sizes,
        n_slots=n_slots,
    )
    return "\n".join(_PROGRAMS[spec.template](spec)) + "\n"


# --------------------------------------------------------------------------- sealing


def _canonical_rows(rows: object) -> list[Row]:
    row_list = _as_sequence("Rows", rows)
    canonical: list[Row] = []
    for index, row in enumerate(row_list, start=1):
        if not isinstance(row, Mapping):
            raise ListError(f"Row {index} must be a mapping; got {row!r}.")
        missing = [key for key in ROW_KEYS if key not in row]
        if missing:
            raise ListError(f"Row {index} lacks {', '.join(missing)}.")
        for key in ("sequence", "block", "block_size"):
            if not _is_whole(row[key]):
                raise ListError(f"Row {index}: {key} must be a whole number; got {row[key]!r}.")
        if not isinstance(row["arm"], str):
            raise ListError(f"Row {index}: arm must be text; got {row['arm']!r}.")
        # Only the list's own columns are sealed; anything a caller adds later (pack
        # codes, allocation state) must not change the hash of the list.
        canonical.append({key: row[key] for key in ROW_KEYS})
    return canonical


def canonical_form(
    *,
    template: str,
    generator: str,
    seed: int,
    arms: Sequence[str],
    ratio: Sequence[int],
    block_sizes: Sequence[int],
    n_slots: int,
    rows: Sequence[Mapping[str, object]],
) -> bytes:
    """The list's canonical bytes: JSON with sorted keys, no spaces, UTF-8.

    Holds the schema tag, template, generator, seed, parameters and every row
    (only the keys sequence, block, block_size, arm). Same inputs always give
    the same bytes.
    """
    spec = _validate(
        template=template,
        seed=seed,
        arms=arms,
        ratio=ratio,
        block_sizes=block_sizes,
        n_slots=n_slots,
    )
    if not isinstance(generator, str) or not generator:
        raise ListError(f"The generator must be a non-empty name; got {generator!r}.")
    document = {
        "schema": CANONICAL_SCHEMA,
        "template": spec.template,
        "generator": generator,
        "seed": spec.seed,
        "arms": list(spec.arms),
        "ratio": list(spec.ratio),
        "block_sizes": list(spec.block_sizes),
        "n_slots": spec.n_slots,
        "rows": _canonical_rows(rows),
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def list_hash(
    *,
    template: str,
    generator: str,
    seed: int,
    arms: Sequence[str],
    ratio: Sequence[int],
    block_sizes: Sequence[int],
    n_slots: int,
    rows: Sequence[Mapping[str, object]],
) -> str:
    """SHA-256 (lowercase hex) of :func:`canonical_form`."""
    return hashlib.sha256(
        canonical_form(
            template=template,
            generator=generator,
            seed=seed,
            arms=arms,
            ratio=ratio,
            block_sizes=block_sizes,
            n_slots=n_slots,
            rows=rows,
        )
    ).hexdigest()


def salted_commitment(*, salt: bytes, canonical: bytes) -> str:
    """SHA-256 (lowercase hex) of ``salt`` followed by ``canonical``: a list's public
    fingerprint. Anyone given the salt and the canonical bytes can recompute it."""
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise ListError(f"The salt must be {SALT_BYTES} bytes.")
    if not isinstance(canonical, bytes) or not canonical:
        raise ListError("The canonical form must be non-empty bytes.")
    return hashlib.sha256(salt + canonical).hexdigest()


def commitment(*, scheme: str, canonical: bytes, salt: bytes = b"") -> str:
    """The fingerprint of ``canonical`` in ``scheme`` (one of ``COMMITMENT_SCHEMES``).

    The unsalted scheme takes no salt (it gives :func:`list_hash`'s digest); the
    salted one needs the list's own ``SALT_BYTES``-byte salt.
    """
    if scheme == COMMITMENT_SALTED:
        return salted_commitment(salt=salt, canonical=canonical)
    if scheme == COMMITMENT_UNSALTED:
        if salt:
            raise ListError("The unsalted scheme takes no salt.")
        if not isinstance(canonical, bytes) or not canonical:
            raise ListError("The canonical form must be non-empty bytes.")
        return hashlib.sha256(canonical).hexdigest()
    raise ListError(
        f"Unknown commitment scheme {scheme!r}; use one of "
        + ", ".join(repr(known) for known in COMMITMENT_SCHEMES)
        + "."
    )


def commitment_matches(
    *, scheme: str, fingerprint: str, canonical: bytes, salt: bytes = b""
) -> bool:
    """Whether ``fingerprint`` commits to ``canonical`` (with ``salt``) in ``scheme``.

    Raises :class:`ListError` for an unknown scheme or a salt of the wrong length:
    those are mistakes, not a mismatch.
    """
    expected = commitment(scheme=scheme, canonical=canonical, salt=salt)
    return isinstance(fingerprint, str) and hmac.compare_digest(
        expected.encode(), fingerprint.encode()
    )


# --------------------------------------------------------------------------- verification


def _index_by_sequence(
    rows: Sequence[Mapping[str, object]], label: str, problems: list[str]
) -> dict[int, Mapping[str, object]]:
    indexed: dict[int, Mapping[str, object]] = {}
    counts: Counter[int] = Counter()
    for position, row in enumerate(rows, start=1):
        sequence = row.get("sequence") if isinstance(row, Mapping) else None
        if not _is_whole(sequence):
            problems.append(f"Row {position} of the {label} list has no sequence number.")
            continue
        counts[sequence] += 1
        indexed.setdefault(sequence, row)
    for sequence, count in sorted(counts.items()):
        if count > 1:
            problems.append(f"Sequence {sequence} appears {count} times in the {label} list.")
    return indexed


def compare_lists(
    expected_rows: Sequence[Mapping[str, object]],
    actual_rows: Sequence[Mapping[str, object]],
) -> list[str]:
    """Describe every sequence at which two lists differ; an empty list when identical.

    Rows are matched by ``sequence`` and compared on block, block_size and arm
    (and any other key either row has). Messages name arms, so they are
    unblinded information.
    """
    problems: list[str] = []
    expected = _index_by_sequence(expected_rows, "expected", problems)
    actual = _index_by_sequence(actual_rows, "actual", problems)
    for sequence in sorted(expected.keys() | actual.keys()):
        if sequence not in actual:
            problems.append(
                f"Sequence {sequence} is in the expected list but missing from the actual list."
            )
            continue
        if sequence not in expected:
            problems.append(
                f"Sequence {sequence} is in the actual list but not in the expected list."
            )
            continue
        want, got = expected[sequence], actual[sequence]
        extra_keys = sorted((want.keys() | got.keys()) - set(ROW_KEYS), key=str)
        differences = [
            f"{key} {want.get(key)!r} expected, {got.get(key)!r} found"
            for key in (*ROW_KEYS[1:], *extra_keys)
            if want.get(key) != got.get(key)
        ]
        if differences:
            problems.append(f"Sequence {sequence} differs: {'; '.join(differences)}.")
    return problems
