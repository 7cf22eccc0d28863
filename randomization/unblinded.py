"""The one place arms (and a list's sealed parameters) are read.

Every function here checks that the caller may see unblinded information and
records the read (who, when, which participant or list, why) in ``ArmAccess``
and the audit trail, in the caller's transaction. Blinded code paths never
import this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from trial.audit import audit_event

from .crypto import unseal, unseal_bytes, unseal_document
from .models import Allocation, ArmAccess, CodeBreak, RandomizationList


@dataclass(frozen=True)
class ListParameters:
    template: str
    generator: str
    seed: int
    seed_source: str
    block_sizes: list[int]
    # Hex of the salt in front of the canonical form in the public fingerprint;
    # empty for lists sealed before fingerprints were salted.
    salt: str = ""


@dataclass(frozen=True)
class SlotContent:
    sequence: int
    position: int
    pack_code: str
    block: int
    block_size: int
    arm: str


def _record(
    *, user, purpose: str, reason: str, participant=None, rlist=None, count=1, os_user=""
) -> None:
    ArmAccess.objects.create(
        user=user,
        os_user=os_user,
        participant=participant,
        randomization_list=rlist,
        purpose=purpose,
        reason=reason,
        count=count,
    )
    # The trail is read by blinded people (the data manager), so it says that
    # an unblinded read happened, not the free-text reason, which could name an
    # arm; the reason is kept in ArmAccess, which only unblinded roles see.
    by_command = f" by OS user {os_user}" if os_user else ""
    audit_event(
        user=user,
        model="randomization.ArmAccess",
        object_id=rlist.pk if rlist else "",
        subject=participant.study_id if participant else "",
        summary=f"Unblinded read: {purpose} ({count} arm{'s' if count != 1 else ''}){by_command}",
    )


def _require_unblinded(user) -> None:
    if not user.has_perm("randomization.view_arm"):
        raise PermissionDenied


def list_parameters(*, rlist: RandomizationList, user, reason: str) -> ListParameters:
    """The sealed parameters of a list (seed, template, block sizes, fingerprint salt)."""
    if not (user.has_perm("randomization.manage_lists") or user.has_perm("randomization.view_arm")):
        raise PermissionDenied
    _record(user=user, purpose="list parameters", reason=reason, rlist=rlist, count=0)
    return ListParameters(**unseal(rlist.parameters_token))


def list_contents(*, rlist: RandomizationList, user, reason: str) -> list[SlotContent]:
    """Every slot of a list with its arm (for the statistician: verify, export, labels)."""
    if not user.has_perm("randomization.manage_lists"):
        raise PermissionDenied
    slots = list(rlist.slots.order_by("sequence"))
    _record(user=user, purpose="list contents", reason=reason, rlist=rlist, count=len(slots))
    contents = []
    for slot in slots:
        sealed = unseal(slot.arm_token)
        contents.append(
            SlotContent(
                sequence=slot.sequence,
                position=slot.position,
                pack_code=slot.pack_code,
                block=sealed["block"],
                block_size=sealed["block_size"],
                arm=sealed["arm"],
            )
        )
    return contents


def _arm_of(allocation: Allocation) -> str:
    token = allocation.slot.arm_token if allocation.slot_id else allocation.imported_arm_token
    return unseal(token)["arm"]


def participant_arm(*, participant, user, reason: str) -> str:
    """One participant's arm, for unblinded roles (DSMB, unblinded statistician)."""
    _require_unblinded(user)
    allocation = Allocation.objects.select_related("slot").get(participant=participant)
    _record(user=user, purpose="participant arm", reason=reason, participant=participant)
    return _arm_of(allocation)


def arms_by_participant(*, user, reason: str) -> dict[int, str]:
    """Every allocated participant's arm by participant id (the DSMB analysis, exports)."""
    _require_unblinded(user)
    allocations = list(Allocation.objects.select_related("slot"))
    _record(user=user, purpose="all allocations", reason=reason, count=len(allocations))
    return {allocation.participant_id: _arm_of(allocation) for allocation in allocations}


def arms_for_server_command(*, os_user: str, reason: str) -> dict[int, str]:
    """Every allocation's arm for a management command run on the server (the DSMB
    report, unblinded exports): whoever can run it already holds the database and the
    key, so the read is recorded under the operating-system user instead."""
    allocations = list(Allocation.objects.select_related("slot"))
    _record(
        user=None,
        os_user=os_user or "unknown",
        purpose="all allocations (server command)",
        reason=reason,
        count=len(allocations),
    )
    return {allocation.participant_id: _arm_of(allocation) for allocation in allocations}


def code_break_arm(*, code_break: CodeBreak, user) -> str:
    """The arm revealed by an emergency code-break, to the investigator who broke it.

    The code-break record itself is the authorisation: it names this user and
    this participant and was created by ``code_break_request``.
    """
    if code_break.broken_by_id != user.pk or not user.has_perm("randomization.break_code"):
        raise PermissionDenied
    allocation = Allocation.objects.select_related("slot").get(
        participant_id=code_break.participant_id
    )
    _record(
        user=user,
        purpose="emergency code-break",
        reason=code_break.reason,
        participant=code_break.participant,
    )
    return _arm_of(allocation)


# --- arm-bearing results and files (sealed at rest, opened for those who may see arms) ------


def _require_dashboard(user) -> None:
    if not (user is not None and user.is_active and user.has_perm("analysis.view_dashboard")):
        raise PermissionDenied


def open_closed_run(run, *, user):
    """Put a closed (by-arm) analysis run's result, figures and data hash, stored
    sealed, on the instance in memory for the DSMB and the unblinded statistician.

    The instance is marked ``opened`` and must not be saved (its row keeps only
    the sealed payload); the services write runs with ``update()``.
    """
    _require_dashboard(user)
    if run.sealed_payload and not getattr(run, "opened", False):
        payload = unseal_document(run.sealed_payload)
        run.result = payload["result"]
        run.figures = payload["figures"]
        run.data_sha256 = payload["data_sha256"]
        run.opened = True
    return run


def open_closed_report(report, *, user) -> bytes:
    """The PDF of a closed report (stored sealed), for those who may see the dashboard."""
    _require_dashboard(user)
    return unseal_bytes(report.content) if report.sealed else bytes(report.content)


def open_unblinded_export(export, *, user) -> bytes:
    """An unblinded export's zip (stored sealed): its requester must still hold the
    arm permission at download time, not only when it was asked for."""
    _require_unblinded(user)
    if not user.has_perm("analysis.export_data"):
        raise PermissionDenied
    return unseal_bytes(export.content) if export.sealed else bytes(export.content)


def interview_unblinding_note(interview, *, user) -> str:
    """How an assessor says they learned an allocation: free text that may name the
    arm, so it is stored sealed and never in the blinded audit trail."""
    _require_unblinded(user)
    token = interview.unblinding_note_token
    if not token:
        return ""
    _record(
        user=user,
        purpose="unblinding note",
        reason="read the assessor's note",
        participant=interview.visit.participant,
        count=0,
    )
    return unseal_document(token)
