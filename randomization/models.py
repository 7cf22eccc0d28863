"""Data layer of randomization: sealed lists, their slots, allocations and code-breaks.

Arms are stored only as encrypted tokens (``randomization.crypto``); the seed,
template and block sizes are unblinded information and never shown to
blinded roles. A list that has allocated a slot can no longer change: more
slots come as a separately sealed extension. A list's public fingerprint is
SHA-256 over a secret salt (sealed with the seed) and the canonical list;
lists sealed before salting keep their plain SHA-256 and say so.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Template(models.TextChoices):
    PLAN = "plan", _("PROC PLAN, fixed block size")
    DATASTEP = "datastep", _("DATA step and sort, fixed block size")
    RANDOM_BLOCKS = "random_blocks", _("Random block sizes")


class PackCodeStyle(models.TextChoices):
    POSITION = "position", _("Pack number = list position")
    RANDOM = "random", _("Random pack identifier with check digit")


class CommitmentScheme(models.TextChoices):
    """How a list's fingerprint (``RandomizationList.sha256``) was computed."""

    UNSALTED = "sha256-unsalted", _("SHA-256 of the canonical list (sealed before salting)")
    SALTED = "sha256-salted", _("SHA-256 of a secret salt followed by the canonical list")


class RandomizationList(models.Model):
    """One sealed list for one stratum (an extension is its own sealed list)."""

    class Status(models.TextChoices):
        SEALED = "sealed", _("Sealed, not yet active")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    name = models.CharField(_("name"), max_length=100)
    stratum = models.CharField(
        _("stratum"),
        max_length=40,
        blank=True,
        help_text=_("Empty for an unstratified list; otherwise the site code it serves."),
    )
    parameters_token = models.TextField(
        _("sealed parameters"),
        help_text=_("Template, generator, seed and block sizes, encrypted like the arms."),
    )
    arms = models.JSONField(_("arms"))
    ratio = models.JSONField(_("ratio"))
    n_slots = models.PositiveIntegerField(_("slots requested"))
    list_length = models.PositiveIntegerField(_("list length"))
    pack_code_style = models.CharField(
        _("pack codes"),
        max_length=10,
        choices=PackCodeStyle.choices,
        default=PackCodeStyle.POSITION,
    )
    extends = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="extensions",
        verbose_name=_("extends"),
    )
    position_offset = models.PositiveIntegerField(
        _("position offset"),
        default=0,
        help_text=_("Slots of an extension continue the numbering after the lists before it."),
    )
    sha256 = models.CharField(
        _("SHA-256"),
        max_length=64,
        unique=True,
        help_text=_("The public fingerprint, computed as the commitment scheme says."),
    )
    commitment_scheme = models.CharField(
        _("fingerprint scheme"), max_length=20, choices=CommitmentScheme.choices
    )
    identity_digest = models.CharField(
        _("identity digest"),
        max_length=64,
        blank=True,
        editable=False,
        help_text=_(
            "HMAC of the canonical list under the randomization key: finds an identical "
            "list without keeping a hash anyone could test seeds against."
        ),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SEALED
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The identity digest is only for the duplicate check; the trail has no use for it.
    history = HistoricalRecords(excluded_fields=["created_at", "identity_digest"])

    class Meta:
        ordering = ["stratum", "position_offset", "id"]
        verbose_name = _("randomization list")
        verbose_name_plural = _("randomization lists")
        permissions = [
            ("manage_lists", _("Can create, seal, verify and export randomization lists")),
            ("view_arm", _("Can see allocated arms (unblinded)")),
            ("randomize_participant", _("Can randomize a participant and dispense a pack")),
            ("break_code", _("Can break the code for one participant in an emergency")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(extends__isnull=True) | Q(position_offset__gt=0),
                name="list_extension_has_offset",
            ),
            models.CheckConstraint(
                condition=Q(commitment_scheme__in=CommitmentScheme.values),
                name="list_commitment_scheme_known",
            ),
            models.CheckConstraint(
                condition=Q(commitment_scheme=CommitmentScheme.UNSALTED) | ~Q(identity_digest=""),
                name="list_salted_has_identity_digest",
            ),
            models.UniqueConstraint(
                fields=["identity_digest"],
                condition=~Q(identity_digest=""),
                name="list_unique_identity_digest",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def audit_subject(self) -> str:
        return ""


class Slot(models.Model):
    """One position of a list: one numbered pack. The arm is an encrypted token.

    Positions and pack codes are unique within a stratum's live lists (one base
    list and its extensions); the services keep it so, because a retired list
    may have used the same numbers.
    """

    randomization_list = models.ForeignKey(
        RandomizationList, on_delete=models.PROTECT, related_name="slots"
    )
    sequence = models.PositiveIntegerField(_("sequence in the list"))
    position = models.PositiveIntegerField(_("position in the stratum"))
    stratum = models.CharField(max_length=40, blank=True, db_index=True)
    arm_token = models.TextField(
        _("encrypted arm"), help_text=_("The arm with its block and block size, encrypted.")
    )
    pack_code = models.CharField(_("pack code"), max_length=20, db_index=True)

    class Meta:
        ordering = ["stratum", "position"]
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        constraints = [
            models.UniqueConstraint(
                fields=["randomization_list", "sequence"], name="slot_unique_sequence"
            ),
        ]

    def __str__(self) -> str:
        return self.pack_code


class Allocation(models.Model):
    """A participant's randomization: the slot (pack) they received.

    The two unique constraints make a second allocation of the same
    participant, or of the same slot, impossible in the database itself.
    """

    participant = models.OneToOneField(
        "trial.Participant",
        on_delete=models.PROTECT,
        related_name="allocation",
        verbose_name=_("participant"),
    )
    slot = models.OneToOneField(
        Slot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocation",
        verbose_name=_("slot"),
    )
    pack_code = models.CharField(_("pack code"), max_length=20)
    randomized_on = models.DateField(_("randomization date"))
    randomized_at = models.DateTimeField(_("randomized at"), auto_now_add=True)
    randomized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("randomized by"),
    )
    eligibility_reconfirmed = models.BooleanField(_("eligibility re-confirmed"), default=False)
    dispensed_on = models.DateField(_("pack dispensed on"), null=True, blank=True)
    dispensed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dispensed by"),
    )
    imported_arm_token = models.TextField(
        _("imported arm (encrypted)"),
        blank=True,
        help_text=_("Only for allocations imported from another system, which have no slot."),
    )
    history = HistoricalRecords(excluded_fields=["randomized_at", "imported_arm_token"])

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            models.CheckConstraint(
                condition=Q(slot__isnull=False) | ~Q(imported_arm_token=""),
                name="allocation_has_slot_or_imported_arm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.pack_code}"

    def audit_subject(self) -> str:
        return self.participant.study_id

    @property
    def imported(self) -> bool:
        return self.slot_id is None


class ArmAccess(models.Model):
    """Every read of an arm: who, when, which participant or list, and why."""

    at = models.DateTimeField(_("when"), auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    os_user = models.CharField(
        _("operating-system user"),
        max_length=100,
        blank=True,
        help_text=_("For reads by a management command run on the server."),
    )
    participant = models.ForeignKey(
        "trial.Participant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("participant"),
    )
    randomization_list = models.ForeignKey(
        RandomizationList,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("list"),
    )
    count = models.PositiveIntegerField(_("arms read"), default=1)
    purpose = models.CharField(_("purpose"), max_length=40)
    reason = models.TextField(_("reason"))

    class Meta:
        ordering = ["-at"]
        verbose_name = _("arm access")
        verbose_name_plural = _("arm accesses")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.purpose}"


class CodeBreak(models.Model):
    """An emergency unblinding of one participant by an investigator."""

    participant = models.ForeignKey(
        "trial.Participant",
        on_delete=models.PROTECT,
        related_name="code_breaks",
        verbose_name=_("participant"),
    )
    broken_at = models.DateTimeField(_("broken at"), auto_now_add=True)
    broken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("broken by"),
    )
    reason = models.TextField(_("reason"))
    history = HistoricalRecords(excluded_fields=["broken_at"])

    class Meta:
        ordering = ["-broken_at"]
        verbose_name = _("code-break")
        verbose_name_plural = _("code-breaks")

    def __str__(self) -> str:
        return f"{self.participant} {self.broken_at:%Y-%m-%d}"

    def audit_subject(self) -> str:
        return self.participant.study_id
