"""The data migration that marks lists sealed before salting, run on a real old row."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from randomization import lists, services
from randomization.crypto import seal
from randomization.models import RandomizationList

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("randomization", "0003_history_change_reasons_as_text")]
AFTER = [("randomization", "0006_require_commitment_scheme")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def seal_the_old_way(apps, *, user_id, seed=45):
    """A list and its history row as the services wrote them before salting."""
    parameters = {
        "template": "plan",
        "arms": ["MLT", "PLACEBO"],
        "ratio": [1, 1],
        "block_sizes": [4],
        "n_slots": 8,
    }
    rows = lists.build_list(**parameters, seed=seed)
    digest = lists.list_hash(**parameters, seed=seed, generator=lists.GENERATOR, rows=rows)
    fields = {
        "name": "Old list",
        "stratum": "",
        "parameters_token": seal(
            {
                "template": "plan",
                "generator": lists.GENERATOR,
                "seed": seed,
                "seed_source": "entered",
                "block_sizes": [4],
            }
        ),
        "arms": parameters["arms"],
        "ratio": parameters["ratio"],
        "n_slots": 8,
        "list_length": len(rows),
        "pack_code_style": "position",
        "position_offset": 0,
        "sha256": digest,
        "status": "sealed",
        "created_by_id": user_id,
    }
    old = apps.get_model("randomization", "RandomizationList").objects.create(**fields)
    apps.get_model("randomization", "HistoricalRandomizationList").objects.create(
        id=old.pk,
        history_date=timezone.now(),
        history_type="+",
        history_user_id=user_id,
        **fields,
    )
    slot_model = apps.get_model("randomization", "Slot")
    slot_model.objects.bulk_create(
        slot_model(
            randomization_list=old,
            sequence=row["sequence"],
            position=row["sequence"],
            stratum="",
            arm_token=seal(
                {"arm": row["arm"], "block": row["block"], "block_size": row["block_size"]}
            ),
            pack_code=f"{row['sequence']:03d}",
        )
        for row in rows
    )
    return old.pk, digest


def test_lists_sealed_before_salting_are_marked_unsalted_and_still_verify(statistician):
    try:
        old_apps = migrate(BEFORE)
        pk, digest = seal_the_old_way(old_apps, user_id=statistician.pk)
        migrate(AFTER)
        rlist = RandomizationList.objects.get(pk=pk)
        assert rlist.commitment_scheme == "sha256-unsalted"
        assert rlist.identity_digest == ""
        assert rlist.sha256 == digest
        assert list(rlist.history.values_list("commitment_scheme", flat=True)) == [
            "sha256-unsalted"
        ]
        result = services.list_verify(rlist=rlist, by=statistician)
        assert result.matches is True
        opening = services.list_reveal(rlist=rlist, by=statistician)
        assert hashlib.sha256(opening.canonical).hexdigest() == digest
        # A new list beside it is salted, and an identical one is still refused.
        with pytest.raises(services.ValidationError) as excinfo:
            services.list_create(
                spec=services.ListSpec(
                    name="again",
                    template="plan",
                    arms=["MLT", "PLACEBO"],
                    ratio=[1, 1],
                    block_sizes=[4],
                    n_slots=8,
                    seed=45,
                    stratum="other",
                ),
                by=statistician,
            )
        assert excinfo.value.messages == [str(services.IDENTICAL_LIST)]

        # Reversible: back before the scheme existed and forward again, data intact.
        migrate(BEFORE)
        migrate(AFTER)
        assert RandomizationList.objects.get(pk=pk).commitment_scheme == "sha256-unsalted"
    finally:
        migrate(AFTER)
