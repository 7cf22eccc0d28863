"""Data layer of questionnaire capture: responses item by item, scores, safety alerts.

A response belongs to a participant and a visit code of the configured schedule
(``questionnaires.visits``; the protocol's baseline, m1, m3, m6); the follow-up
finds its responses by that natural key. The pure parts of this app (definitions,
scoring, content) depend on nothing of ours; these models reference the
participant because a response is about one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .scoring import INSTRUMENT_NAMES
from .visits import visit_choices

# The instruments scoring knows, named as published (questionnaires.scoring).
InstrumentKey = models.TextChoices(
    "InstrumentKey", [(key.upper(), (key, name)) for key, name in INSTRUMENT_NAMES.items()]
)


class Mode(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    TELEPHONE = "telephone", _("By telephone")


class Response(models.Model):
    """One instrument administered at one visit, with its answers and computed scores."""

    participant = models.ForeignKey(
        "trial.Participant",
        on_delete=models.PROTECT,
        related_name="questionnaire_responses",
        verbose_name=_("participant"),
    )
    visit = models.CharField(_("visit"), max_length=10, choices=visit_choices)
    instrument = models.CharField(_("instrument"), max_length=10, choices=InstrumentKey.choices)
    administered_on = models.DateField(_("administered on"))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    language = models.CharField(_("language"), max_length=10, default="en")
    answers = models.JSONField(_("answers"), default=dict)
    scores = models.JSONField(_("scores"), default=dict)
    scoring_version = models.CharField(_("scoring version"), max_length=60)
    queries_confirmed = models.JSONField(
        _("soft queries confirmed"),
        default=list,
        blank=True,
        help_text=_("Warnings the person entering the form saw and confirmed as correct."),
    )
    items_not_answered = models.BooleanField(
        _("some items were not answered"),
        default=False,
        help_text=_("Confirmed that blank items were not answered by the participant."),
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered at"), auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["entered_at"])

    class Meta:
        ordering = ["participant", "visit", "instrument"]
        verbose_name = _("questionnaire response")
        verbose_name_plural = _("questionnaire responses")
        permissions = [
            ("enter_response", _("Can enter and correct questionnaire responses")),
            ("acknowledge_alert", _("Can acknowledge PHQ-9 item 9 safety alerts")),
            ("view_codebook", _("Can download the data dictionary")),
            ("rescore_responses", _("Can rescore responses with the current scoring rules")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "visit", "instrument"], name="response_once_per_visit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.visit} {self.instrument}"

    def audit_subject(self) -> str:
        return self.participant.study_id


class SafetyAlert(models.Model):
    """A PHQ-9 item 9 alert: open until an investigator acknowledges it with a note."""

    response = models.OneToOneField(Response, on_delete=models.PROTECT, related_name="safety_alert")
    participant = models.ForeignKey(
        "trial.Participant",
        on_delete=models.PROTECT,
        related_name="safety_alerts",
        verbose_name=_("participant"),
    )
    item9_value = models.PositiveSmallIntegerField(
        _("PHQ-9 item 9 answer"), null=True, blank=True, help_text=_("Empty when not answered.")
    )
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledgement_note = models.TextField(_("note"), blank=True)
    history = HistoricalRecords(excluded_fields=["raised_at"])

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("safety alert")
        verbose_name_plural = _("safety alerts")
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True)
                | (Q(acknowledged_by__isnull=False) & ~Q(acknowledgement_note="")),
                name="alert_acknowledged_with_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} PHQ-9 item 9"

    def audit_subject(self) -> str:
        return self.participant.study_id

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
