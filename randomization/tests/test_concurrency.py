"""Allocation under real concurrency (PostgreSQL, real threads): no double, no gap."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from randomization import services
from randomization.models import Allocation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def run_in_threads(target, arguments):
    barrier = threading.Barrier(len(arguments))
    results, errors, lock = [], [], threading.Lock()

    def worker(argument):
        try:
            barrier.wait(timeout=60)
            result = target(argument)
            with lock:
                results.append(result)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(a,)) for a in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_fifty_nurses_randomize_fifty_participants_at_once(
    require_postgres, statistician, make_ready_participant, nurse
):
    rlist = services.list_create(
        spec=services.ListSpec(
            name="race",
            template="plan",
            arms=["MLT", "PLACEBO"],
            ratio=[1, 1],
            block_sizes=[4],
            n_slots=60,
            seed=2019,
        ),
        by=statistician,
    )
    services.list_activate(rlist=rlist, by=statistician)
    participants = [make_ready_participant() for _ in range(50)]
    results, errors = run_in_threads(
        lambda p: services.allocation_assign(participant=p, by=nurse).slot.position, participants
    )
    assert errors == []
    assert sorted(results) == list(range(1, 51))  # distinct and consecutive: no duplicate, no gap
    assert Allocation.objects.count() == 50
    # Fifty transactions appended to the audit trail at once: the chain still links.
    from trial.audit import verify_chain

    assert verify_chain().problem == ""


def test_ten_nurses_randomize_the_same_participant(
    require_postgres, active_list, make_ready_participant, nurse
):
    participant = make_ready_participant()
    results, errors = run_in_threads(
        lambda _n: services.allocation_assign(participant=participant, by=nurse).pack_code,
        list(range(10)),
    )
    assert results == ["001"]
    assert len(errors) == 9
    assert all(isinstance(error, ValidationError) for error in errors)
    assert all(str(services.ALREADY_RANDOMIZED) in error.messages for error in errors)
    assert Allocation.objects.count() == 1
    # The refusals consumed nothing: the next participant gets pack 002.
    assert (
        services.allocation_assign(participant=make_ready_participant(), by=nurse).pack_code
        == "002"
    )
