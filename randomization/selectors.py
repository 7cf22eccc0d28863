"""Read layer of randomization. Nothing here returns an arm: see ``unblinded``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from .models import Allocation, CodeBreak, RandomizationList


@dataclass(frozen=True)
class BlindedAllocation:
    """What any staff member may know about a randomization: never the arm."""

    pack_code: str
    randomized_on: object
    randomized_by: str
    dispensed_on: object
    dispensed_by: str
    imported: bool
    code_broken_at: datetime | None


def blinded_allocation(*, participant) -> BlindedAllocation | None:
    allocation = (
        Allocation.objects.select_related("randomized_by", "dispensed_by")
        .filter(participant=participant)
        .first()
    )
    if allocation is None:
        return None
    first_break = CodeBreak.objects.filter(participant=participant).order_by("broken_at").first()

    def name(user) -> str:
        return (user.get_full_name() or user.username) if user else ""

    return BlindedAllocation(
        pack_code=allocation.pack_code,
        randomized_on=allocation.randomized_on,
        randomized_by=name(allocation.randomized_by),
        dispensed_on=allocation.dispensed_on,
        dispensed_by=name(allocation.dispensed_by),
        imported=allocation.imported,
        code_broken_at=first_break.broken_at if first_break else None,
    )


def allocation_of(*, participant) -> Allocation | None:
    return Allocation.objects.filter(participant=participant).first()


def fingerprints() -> QuerySet[RandomizationList]:
    """Hash and creation time of every list: shown to all staff, nothing else."""
    return RandomizationList.objects.only(
        "id", "name", "stratum", "sha256", "created_at", "status", "extends"
    ).order_by("created_at", "id")


def lists_for_manager() -> QuerySet[RandomizationList]:
    return RandomizationList.objects.select_related("created_by", "activated_by").annotate(
        slot_count=Count("slots"),
        allocated=Count("slots", filter=Q(slots__allocation__isnull=False)),
    )


def list_by_pk(*, pk: int) -> RandomizationList:
    """One list (404), for the statistician's pages (the views check the permission)."""
    return get_object_or_404(RandomizationList, pk=pk)


def code_break_by(*, user, pk: int) -> CodeBreak:
    """A code-break this person made (404 for anyone else's), with its participant."""
    return get_object_or_404(CodeBreak.objects.select_related("participant"), pk=pk, broken_by=user)


def allocated_study_ids(*, rlist: RandomizationList) -> dict[int, str]:
    """The study id allocated each used slot of a list, by the slot's sequence number."""
    return dict(
        rlist.slots.filter(allocation__isnull=False).values_list(
            "sequence", "allocation__participant__study_id"
        )
    )


def pack_codes(*, rlist: RandomizationList) -> list[str]:
    """A list's pack codes in list order (for the labels: no arm)."""
    return list(rlist.slots.order_by("position").values_list("pack_code", flat=True))


def code_breaks() -> QuerySet[CodeBreak]:
    return CodeBreak.objects.select_related("participant", "broken_by")
