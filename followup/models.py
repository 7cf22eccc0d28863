"""Data layer of follow-up: visits and their windows, contact attempts, telephone
interviews, adverse events, study-status events and adherence.

Blinding: adverse events, adherence and status reasons can hint at the arm, so
no page of the blinded assessor reads these models except ``Visit``,
``ContactAttempt``, ``PhoneInterview`` and ``ContactDetails``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from questionnaires.visits import visit_codes, visit_label


class VisitStatus(models.TextChoices):
    UPCOMING = "upcoming", _("Upcoming")
    DUE = "due", _("Due (window open)")
    OVERDUE = "overdue", _("Overdue")
    DONE = "done", _("Done")
    DONE_OUT_OF_WINDOW = "done_out_of_window", _("Done out of window")
    MISSED = "missed", _("Missed")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


OPEN_STATUSES = (VisitStatus.UPCOMING, VisitStatus.DUE, VisitStatus.OVERDUE)


class Visit(models.Model):
    """One scheduled follow-up visit of one participant, with its window."""

    participant = models.ForeignKey(
        "trial.Participant", on_delete=models.PROTECT, related_name="visits"
    )
    code = models.CharField(_("visit"), max_length=10)
    label = models.CharField(_("label"), max_length=40)
    target_date = models.DateField(_("target date"))
    window_opens = models.DateField(_("window opens"))
    window_closes = models.DateField(_("window closes"))
    instruments = models.JSONField(_("instruments due"), default=list)
    extra_forms = models.JSONField(_("other forms due"), default=list)
    by_telephone = models.BooleanField(_("by telephone"), default=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=VisitStatus.choices,
        default=VisitStatus.UPCOMING,
        db_index=True,
    )
    done_on = models.DateField(_("done on"), null=True, blank=True)
    out_of_window_reason = models.TextField(_("reason done out of window"), blank=True)
    missed_reason = models.TextField(_("reason missed"), blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["status_changed_at"])

    class Meta:
        ordering = ["window_opens", "participant_id"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        permissions = [
            ("view_worklist", _("Can see the nurse's follow-up worklist")),
            ("view_call_list", _("Can see the assessor's call list")),
            ("conduct_interview", _("Can run telephone interviews")),
            ("record_visit", _("Can record visit outcomes, contact details and adherence")),
            ("record_adverse_event", _("Can record adverse events")),
            ("review_adverse_event", _("Can review serious adverse events")),
            ("change_study_status", _("Can record withdrawal, loss to follow-up, completion")),
            ("decide_exclusion", _("Can decide a post-randomization exclusion")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["participant", "code"], name="visit_once_per_code"),
            models.CheckConstraint(
                condition=Q(window_opens__lte=models.F("target_date"))
                & Q(target_date__lte=models.F("window_closes")),
                name="visit_window_contains_target",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["done", "done_out_of_window"]) | Q(done_on__isnull=False),
                name="visit_done_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="done_out_of_window") | ~Q(out_of_window_reason=""),
                name="visit_out_of_window_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["status", "window_opens"])]

    def __str__(self) -> str:
        return f"{self.participant} {self.code}"

    @property
    def display_label(self) -> str:
        """The visit's name in the reader's language; a configured schedule's own
        visits keep the label the schedule gives them."""
        return visit_label(self.code) if self.code in visit_codes() else self.label

    def audit_subject(self) -> str:
        return self.participant.study_id


class ContactDetails(models.Model):
    """How to reach a participant for telephone follow-up (kept to what is needed)."""

    participant = models.OneToOneField(
        "trial.Participant", on_delete=models.PROTECT, related_name="contact"
    )
    phone = models.CharField(_("telephone"), max_length=30)
    alternative_phone = models.CharField(_("alternative telephone"), max_length=30, blank=True)
    best_time = models.CharField(_("best time to call"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contact details")
        verbose_name_plural = _("contact details")

    def __str__(self) -> str:
        return f"{self.participant} contact"

    def audit_subject(self) -> str:
        return self.participant.study_id


class ContactOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    CALL_BACK = "call_back", _("Call back later")


class ContactAttempt(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="contact_attempts")
    attempted_at = models.DateTimeField(_("attempted at"))
    outcome = models.CharField(_("outcome"), max_length=20, choices=ContactOutcome.choices)
    call_back_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["attempted_at"]
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="call_back") | Q(call_back_at__isnull=False),
                name="contact_call_back_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.visit} {self.outcome}"

    def audit_subject(self) -> str:
        return self.visit.participant.study_id


class PhoneInterview(models.Model):
    """One telephone follow-up call by a blinded assessor."""

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="interview")
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(_("call started"))
    ended_at = models.DateTimeField(_("call ended"))
    disrupted = models.BooleanField(_("the call was disrupted"))
    disruption_note = models.CharField(_("what disrupted it"), max_length=200, blank=True)
    remained_blind = models.BooleanField(
        _("I did not learn the participant's allocation during this call")
    )
    # The assessor's own words on how they learned the allocation may name the
    # arm ("she is on placebo"): kept encrypted with the randomization keys, out
    # of the history and so out of the audit trail the blinded data manager reads
    # (randomization.unblinded.interview_unblinding_note opens it).
    unblinding_note_token = models.TextField(_("how the allocation became known"), blank=True)
    history = HistoricalRecords(excluded_fields=["unblinding_note_token"])

    class Meta:
        verbose_name = _("telephone interview")
        verbose_name_plural = _("telephone interviews")
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gte=models.F("started_at")), name="interview_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(remained_blind=True) | ~Q(unblinding_note_token=""),
                name="interview_unblinding_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.visit} call"

    def audit_subject(self) -> str:
        return self.visit.participant.study_id


class AssessorExclusion(models.Model):
    """An assessor who became unblinded for a participant: later calls go to another."""

    participant = models.ForeignKey(
        "trial.Participant", on_delete=models.PROTECT, related_name="assessor_exclusions"
    )
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    interview = models.OneToOneField(PhoneInterview, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("assessor exclusion")
        verbose_name_plural = _("assessor exclusions")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "assessor"], name="assessor_exclusion_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assessor} excluded for {self.participant}"


class Severity(models.TextChoices):
    MILD = "mild", _("Mild")
    MODERATE = "moderate", _("Moderate")
    SEVERE = "severe", _("Severe")


class Relatedness(models.TextChoices):
    UNRELATED = "unrelated", _("Unrelated")
    UNLIKELY = "unlikely", _("Unlikely")
    POSSIBLE = "possible", _("Possible")
    PROBABLE = "probable", _("Probable")
    DEFINITE = "definite", _("Definite")


class AEOutcome(models.TextChoices):
    RECOVERED = "recovered", _("Recovered")
    RECOVERING = "recovering", _("Recovering")
    NOT_RECOVERED = "not_recovered", _("Not recovered")
    FATAL = "fatal", _("Fatal")
    UNKNOWN = "unknown", _("Unknown")


class ActionTaken(models.TextChoices):
    NONE = "none", _("None")
    INTERRUPTED = "interrupted", _("Study medication interrupted")
    WITHDRAWN = "withdrawn", _("Study medication stopped")
    TREATED = "treated", _("Treatment given")
    OTHER = "other", _("Other")


SAE_CRITERIA = (
    ("death", _("Resulted in death")),
    ("life_threatening", _("Life-threatening")),
    ("hospitalisation", _("Required or prolonged hospitalisation")),
    ("disability", _("Persistent or significant disability")),
    ("congenital_anomaly", _("Congenital anomaly")),
    ("medically_important", _("Other important medical event")),
)


class AdverseEvent(models.Model):
    participant = models.ForeignKey(
        "trial.Participant", on_delete=models.PROTECT, related_name="adverse_events"
    )
    term = models.CharField(_("term"), max_length=200)
    onset_date = models.DateField(_("onset"))
    end_date = models.DateField(_("end"), null=True, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    serious = models.BooleanField(_("serious"))
    sae_criteria = models.JSONField(_("seriousness criteria"), default=list, blank=True)
    relatedness = models.CharField(_("relatedness"), max_length=10, choices=Relatedness.choices)
    action_taken = models.CharField(
        _("action taken"), max_length=12, choices=ActionTaken.choices, default=ActionTaken.NONE
    )
    outcome = models.CharField(_("outcome"), max_length=15, choices=AEOutcome.choices)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(_("reported at"), auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("investigator's review"), blank=True)
    history = HistoricalRecords(excluded_fields=["reported_at"])

    class Meta:
        ordering = ["-onset_date", "-id"]
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("onset_date")),
                name="ae_ends_after_onset",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.term}"

    def audit_subject(self) -> str:
        return self.participant.study_id


class StatusEvent(models.Model):
    """A change of study status, with what the protocol needs to know about it."""

    class Kind(models.TextChoices):
        WITHDRAWN = "withdrawn", _("Withdrawal")
        LOST = "lost_to_follow_up", _("Lost to follow-up")
        EXCLUDED = "excluded", _("Post-randomization exclusion")
        COMPLETED = "completed", _("Completed (6 months)")

    class DecidedBy(models.TextChoices):
        PARTICIPANT = "participant", _("Participant")
        INVESTIGATOR = "investigator", _("Investigator")

    participant = models.ForeignKey(
        "trial.Participant", on_delete=models.PROTECT, related_name="status_events"
    )
    kind = models.CharField(_("change"), max_length=20, choices=Kind.choices)
    effective_date = models.DateField(_("date"))
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.CharField(
        _("decided by"), max_length=15, choices=DecidedBy.choices, blank=True
    )
    data_may_be_used = models.BooleanField(
        _("data collected so far may be used"), null=True, blank=True
    )
    investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("investigator who decided"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["recorded_at"])

    class Meta:
        ordering = ["-effective_date"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.participant} {self.kind}"

    def audit_subject(self) -> str:
        return self.participant.study_id


class Adherence(models.Model):
    """Cachets returned at 3 months, and the share of the 12-week dose taken."""

    PRESCRIBED = 2 * 7 * 12  # two cachets a day for 12 weeks
    DISPENSED = 5 * 60  # five boxes of sixty

    participant = models.OneToOneField(
        "trial.Participant", on_delete=models.PROTECT, related_name="adherence"
    )
    counted_on = models.DateField(_("counted on"))
    cachets_returned = models.PositiveSmallIntegerField(_("cachets returned"))
    percent_taken = models.DecimalField(
        _("Percent of the 12-week dose taken"), max_digits=5, decimal_places=1
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("adherence")
        verbose_name_plural = _("adherence")
        constraints = [
            models.CheckConstraint(
                condition=Q(cachets_returned__lte=300), name="adherence_returned_at_most_dispensed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} adherence"

    def audit_subject(self) -> str:
        return self.participant.study_id


class DigestSent(models.Model):
    """One daily digest per person per day: the beat task never sends one twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    items = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily digest sent")
        verbose_name_plural = _("daily digests sent")
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="digest_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"
