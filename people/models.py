"""Data layer of people administration: requests for an unblinded role.

People themselves are Django users with a ``trial.UserProfile``; their roles are
groups (``trial.roles``). What this app adds is the two-person rule for the
roles that see arms: one person asks, a different person who already holds an
unblinded role approves, each with a reason, and the database refuses a request
or a decision by the person it is about.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class RoleRequest(models.Model):
    """A request to give someone an unblinded role (statistician, DSMB)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        # Not a participant's withdrawal (退出): the request was taken back (已撤回).
        WITHDRAWN = "withdrawn", pgettext_lazy("role request", "Withdrawn")

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="role_requests",
        verbose_name=_("person"),
    )
    role = models.CharField(_("role"), max_length=150)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("role request")
        verbose_name_plural = _("role requests")
        permissions = [
            (
                "manage_people",
                _("Can invite people, deactivate them, and set their sites and blinded roles"),
            ),
            (
                "approve_unblinded_role",
                _("Can approve a request for an unblinded role (holds one already)"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(requested_by=F("person")), name="role_request_not_for_oneself"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | (~Q(decided_by=F("requested_by")) & ~Q(decided_by=F("person"))),
                name="role_request_decided_by_someone_else",
            ),
            models.CheckConstraint(
                condition=Q(state="pending", decided_by__isnull=True)
                | Q(state="withdrawn")
                | (Q(state__in=["approved", "rejected"]) & Q(decided_by__isnull=False)),
                name="role_request_decision_recorded",
            ),
            models.UniqueConstraint(
                fields=["person", "role"],
                condition=Q(state="pending"),
                name="role_request_one_pending_per_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.role} ({self.state})"
