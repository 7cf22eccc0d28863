"""Row locks: one way to take them, and one order to take them in.

Every service that must serialize with another locks rows through these
helpers, never with a bare ``select_for_update``:

- ``of=("self",)``: only the rows of the model asked for are locked, never the
  rows a ``select_related`` joins in (locking a participant must not lock their
  site, which would serialize every randomization at that site and hide a
  missing lock elsewhere);
- rows of one kind are locked in primary-key order, so two transactions locking
  several rows cannot deadlock on them;
- kinds are locked in this order, outermost first, so that no two services wait
  on each other in opposite orders:

  1. ``SequenceCounter`` (ids)
  2. ``Screening``
  3. ``Participant``
  4. ``RandomizationList`` (a stratum's live lists), then ``Slot``, ``Allocation``
  5. ``Visit``, then a visit's forms (``Response``, ``AdverseEvent``, ...)
  6. people: ``User``, ``RoleRequest``
  7. ``AuditChainHead``, always last (``trial.audit`` takes it when a line is
     written, at the end of each service's transaction).

Must be called inside ``transaction.atomic()``; on SQLite, which has no row
locks, the whole database is locked at BEGIN instead (settings: IMMEDIATE).
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def lock_rows(queryset: QuerySet[M]) -> list[M]:
    """Lock every row of ``queryset`` (only its own table's rows), in key order."""
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def lock_one(queryset: QuerySet[M]) -> M:
    """Lock the one row of ``queryset`` and return it (DoesNotExist if there is none)."""
    return queryset.select_for_update(of=("self",)).get()


def lock_first(queryset: QuerySet[M]) -> M | None:
    """Lock the row of ``queryset`` if there is one; None otherwise."""
    return queryset.select_for_update(of=("self",)).first()
