"""Study-id allocation under real concurrency (PostgreSQL, real threads)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from trial import services
from trial.models import Participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

THREADS = 20


def run_in_threads(target, args_list):
    barrier = threading.Barrier(len(args_list))
    results, errors = [], []

    def worker(*args):
        try:
            barrier.wait(timeout=30)
            results.append(target(*args))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_simultaneous_consents_get_consecutive_unique_study_ids(
    require_postgres, make_screening, consent_form, nurse
):
    screenings = [make_screening() for _ in range(THREADS)]

    def consent(screening):
        return services.participant_consent(
            screening=screening,
            consent_date=screening.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=nurse,
        ).study_id

    study_ids, errors = run_in_threads(consent, [(s,) for s in screenings])
    assert errors == []
    assert sorted(study_ids) == [f"MLT-{n:03d}" for n in range(1, THREADS + 1)]
    assert Participant.objects.count() == THREADS


def test_same_screening_consented_at_once_enrols_once(
    require_postgres, make_screening, consent_form, nurse
):
    screening = make_screening()

    def consent(_n):
        return services.participant_consent(
            screening=screening,
            consent_date=screening.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=nurse,
        ).study_id

    study_ids, errors = run_in_threads(consent, [(n,) for n in range(8)])
    assert study_ids == ["MLT-001"]
    assert len(errors) == 7
    assert all(isinstance(e, ValidationError) for e in errors)
    assert {e.messages[0] for e in errors} == {str(services.ALREADY_DECIDED)}
    # The refused attempts did not consume numbers: the next is 002.
    other = make_screening()
    assert (
        services.participant_consent(
            screening=other,
            consent_date=other.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=nurse,
        ).study_id
        == "MLT-002"
    )


def test_simultaneous_screenings_get_unique_screening_ids(require_postgres, make_screening):
    ids, errors = run_in_threads(lambda n: make_screening().screening_id, [(n,) for n in range(12)])
    assert errors == []
    assert sorted(ids) == [f"MLT-S{n:04d}" for n in range(1, 13)]
