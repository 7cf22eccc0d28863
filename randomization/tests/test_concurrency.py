"""Allocation under real concurrency (PostgreSQL, real threads): no double, no gap."""

import re
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import baseline_data, make_user, screening_input
from randomization import services
from randomization.models import Allocation, RandomizationList

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


# --- two sites, one list -----------------------------------------------------------------

PER_SITE = 5
# Long enough that, without the list lock, every thread reads the same "next slot"
# before any of them commits; with it, the threads pass one at a time.
WINDOW_SECONDS = 0.15


@pytest.fixture
def two_sites_one_list(statistician, site, other_site, consent_form):
    """An active unstratified list shared by two sites, and at each site a nurse
    with PER_SITE participants ready to randomize."""
    from trial.services import baseline_save, participant_consent, screening_record

    rlist = services.list_create(
        spec=services.ListSpec(
            name="shared",
            template="plan",
            arms=["MLT", "PLACEBO"],
            ratio=[1, 1],
            block_sizes=[4],
            n_slots=2 * PER_SITE,
            seed=2019,
        ),
        by=statistician,
    )
    services.list_activate(rlist=rlist, by=statistician)
    work = []
    for number, where in enumerate((site, other_site)):
        nurse = make_user(f"nurse-{where.code}", "research_nurse", sites=[where])
        for index in range(PER_SITE):
            screening = screening_record(
                site=where,
                data=screening_input(hospital_number=f"H{number}{index:04d}"),
                by=nurse,
            )
            participant = participant_consent(
                screening=screening,
                consent_date=screening.screening_date,
                form_version=consent_form,
                signed_form_filed=True,
                by=nurse,
            )
            baseline_save(participant=participant, data=baseline_data(), by=nurse)
            work.append((participant, nurse))
    return rlist, work


def _widen_the_race_window(monkeypatch):
    real = services._next_slot

    def slow_next_slot(active):
        time.sleep(WINDOW_SECONDS)
        return real(active)

    monkeypatch.setattr(services, "_next_slot", slow_next_slot)


def _randomize(item):
    participant, nurse = item
    return services.allocation_assign(participant=participant, by=nurse).slot.position


def test_nurses_at_two_sites_share_one_list_without_duplicate_or_gap(
    require_postgres, two_sites_one_list, monkeypatch
):
    rlist, work = two_sites_one_list
    assert len({participant.site_id for participant, _nurse in work}) == 2
    _widen_the_race_window(monkeypatch)
    results, errors = run_in_threads(_randomize, work)
    assert errors == []
    assert sorted(results) == list(range(1, 2 * PER_SITE + 1))
    assert Allocation.objects.filter(slot__randomization_list=rlist).count() == 2 * PER_SITE
    assert {a.participant.site_id for a in Allocation.objects.select_related("participant")} == {
        participant.site_id for participant, _nurse in work
    }


def test_without_the_list_lock_the_two_sites_collide(
    require_postgres, two_sites_one_list, monkeypatch
):
    """The control for the test above: with the lock on the stratum's lists made a
    no-op (and nothing else changed), the same race loses packs. So the test above
    passes because of the lock, not because the race never happens."""
    _rlist, work = two_sites_one_list
    _widen_the_race_window(monkeypatch)
    real_lock_rows = services.lock_rows

    def lock_rows_but_not_lists(queryset):
        if queryset.model is RandomizationList:
            return list(queryset.order_by("pk"))
        return real_lock_rows(queryset)

    monkeypatch.setattr(services, "lock_rows", lock_rows_but_not_lists)
    results, errors = run_in_threads(_randomize, work)
    assert errors, "without the list lock the race should have collided"
    assert all(str(services.ALREADY_RANDOMIZED) in error.messages for error in errors)
    assert len(results) + len(errors) == len(work)
    assert Allocation.objects.count() == len(results) < len(work)


def test_allocation_locks_only_its_own_rows(
    require_postgres, active_list, make_ready_participant, nurse
):
    """Row locks name their table (FOR UPDATE OF): locking the participant must not
    lock their site, which would serialize a site's randomizations and hide a
    missing list lock; the stratum's active lists are locked."""
    participant = make_ready_participant()
    with CaptureQueriesContext(connection) as queries:
        services.allocation_assign(participant=participant, by=nurse)
    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locking
    locked_tables = set()
    for sql in locking:
        clause = re.search(r"FOR UPDATE OF (.+)$", sql)
        assert clause, f"a row lock without OF, which locks every joined row: …{sql[-160:]}"
        locked_tables |= set(re.findall(r'"([a-z_]+)"', clause.group(1)))
    assert locked_tables == {
        "trial_participant",
        "randomization_randomizationlist",
        "trial_auditchainhead",
    }
