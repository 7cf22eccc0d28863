"""Read layer of people administration: the only place its views get data from."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from trial.models import Site

from .models import RoleRequest
from .services import APPROVE, MANAGE

User = get_user_model()


def may_see_people(user) -> bool:
    return user.has_perm(MANAGE) or user.has_perm(APPROVE)


def _require(user) -> None:
    if not may_see_people(user):
        raise PermissionDenied


def people(*, user, search: str = "") -> QuerySet:
    """Every account with its roles, sites and whether a second factor is enrolled."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _require(user)
    queryset = (
        User.objects.select_related("profile")
        .prefetch_related(
            "groups", Prefetch("profile__sites", queryset=Site.objects.order_by("code"))
        )
        .annotate(
            has_second_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
        )
        .order_by("username")
    )
    search = search.strip()
    if search:
        queryset = queryset.filter(username__icontains=search) | queryset.filter(
            last_name__icontains=search
        )
    return queryset


def person(*, user, pk: int):
    _require(user)
    return get_object_or_404(people(user=user), pk=pk)


def role_requests(*, user, pending_only: bool = False) -> QuerySet[RoleRequest]:
    _require(user)
    queryset = RoleRequest.objects.select_related("person", "requested_by", "decided_by")
    if pending_only:
        queryset = queryset.filter(state=RoleRequest.State.PENDING)
    return queryset


def role_request(*, user, pk: int) -> RoleRequest:
    return get_object_or_404(role_requests(user=user), pk=pk)
