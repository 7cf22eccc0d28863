"""Data layer of the participant core: sites, people, screening, consent, baseline and audit.

Clinical models keep full history (django-simple-history); every history row
is mirrored into ``AuditEvent`` so the data manager reads one trail. Nothing
here is ever deleted: corrections carry a reason, status changes are dated.
"""

import zoneinfo
from functools import cache

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone the system knows (a callable, so migrations do not copy the list)."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def default_time_zone() -> str:
    return settings.TIME_ZONE


class Site(models.Model):
    """A recruiting hospital. Users belong to sites and see only their sites' patients.

    Times are shown to a site's staff in the site's own time zone; they are
    stored in UTC whatever the zone.
    """

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    study_id_prefix = models.CharField(
        _("study id prefix"),
        max_length=20,
        default="MLT",
        help_text=_("Study ids are this prefix and a sequential number, e.g. MLT-001."),
    )
    active = models.BooleanField(_("active"), default=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        choices=time_zone_choices,
        default=default_time_zone,
        help_text=_("Dates and times are shown to the site's staff in this time zone."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.UniqueConstraint(fields=["study_id_prefix"], name="site_unique_study_id_prefix"),
        ]

    def __str__(self) -> str:
        return self.name

    def audit_subject(self) -> str:
        return ""


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    CHINESE = "zh-hans", "中文"


class UserProfile(models.Model):
    """What the auth user does not carry: the sites a person works at, their language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="profile",
        verbose_name=_("user"),
    )
    sites = models.ManyToManyField(Site, blank=True, related_name="staff", verbose_name=_("sites"))
    all_sites = models.BooleanField(
        _("all sites"),
        default=False,
        help_text=_("Trial-wide roles (data manager, DSMB, statistician) see every site."),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=Language.choices,
        blank=True,
        help_text=_("Empty: follow the browser's language."),
    )

    class Meta:
        verbose_name = _("user profile")
        verbose_name_plural = _("user profiles")

    def __str__(self) -> str:
        return str(self.user)


class ConsentFormVersion(models.Model):
    """An ethics-approved version of the informed consent form."""

    version = models.CharField(_("version"), max_length=50, unique=True)
    approved_on = models.DateField(_("approved on"))
    active = models.BooleanField(
        _("in use"), default=True, help_text=_("Only versions in use can be chosen at consent.")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-approved_on", "version"]
        verbose_name = _("consent form version")
        verbose_name_plural = _("consent form versions")

    def __str__(self) -> str:
        return self.version

    def audit_subject(self) -> str:
        return ""


class SequenceCounter(models.Model):
    """The last number handed out for one kind of identifier at one site.

    The row is locked (``select_for_update``) in the same transaction that
    creates the numbered record, so numbers are unique and, because a rolled
    back transaction also rolls back the counter, gap-free.
    """

    class Kind(models.TextChoices):
        SCREENING = "screening", _("screening id")
        STUDY_ID = "study_id", _("study id")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="counters")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("id counter")
        verbose_name_plural = _("id counters")
        constraints = [
            models.UniqueConstraint(fields=["site", "kind"], name="sequence_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.site.code} {self.kind} {self.last_number}"


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class Screening(models.Model):
    """One patient screened against the inclusion and exclusion criteria.

    Eligibility is derived (``trial.eligibility``) and stored with the list of
    failed criteria so the screening log and CONSORT counts need no recompute.
    """

    class ConsentStatus(models.TextChoices):
        NOT_ELIGIBLE = "not_eligible", _("Not eligible")
        PENDING = "pending", _("Awaiting consent")
        CONSENTED = "consented", _("Consented")
        DECLINED = "declined", _("Declined")

    screening_id = models.CharField(_("screening id"), max_length=40, unique=True)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="screenings", verbose_name=_("site")
    )
    screening_date = models.DateField(_("screening date"))
    initials = models.CharField(_("initials"), max_length=5, blank=True)
    hospital_number = models.CharField(
        _("hospital number"), max_length=30, db_index=True, blank=True
    )
    # Empty only for screenings imported from another system (which carry the
    # age, not the birth date); screenings entered here always have one.
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices)
    confirmed_diagnosis = models.BooleanField(
        _("primary unilateral breast cancer scheduled for a procedure")
    )
    scheduled_procedure_date = models.DateField(
        _("scheduled procedure date"), null=True, blank=True
    )
    age_at_screening = models.PositiveSmallIntegerField(_("age at screening"))

    excl_age = models.BooleanField(_("age below 18 or over 70 years"))
    excl_pregnancy = models.BooleanField(_("pregnant or breastfeeding"))
    excl_pregnancy_date = models.DateField(_("evidence date"))
    excl_psychiatric = models.BooleanField(_("history of drug abuse or psychiatric disease"))
    excl_psychiatric_date = models.DateField(_("evidence date"))
    excl_severe_disease = models.BooleanField(
        _(
            "severe respiratory, cardiovascular, hepatic, renal or autoimmune disease, "
            "or another type of neoplasm"
        )
    )
    excl_severe_disease_date = models.DateField(_("evidence date"))
    excl_medication = models.BooleanField(
        _(
            "previous analgesic, antiepileptic or antidepressant medication, or drugs that "
            "affect magnesium metabolism"
        )
    )
    excl_medication_date = models.DateField(_("evidence date"))
    excl_mlt_allergy = models.BooleanField(_("allergy to magnesium-L-threonate"))
    excl_mlt_allergy_date = models.DateField(_("evidence date"))
    excl_other_trial = models.BooleanField(_("currently taking part in another clinical trial"))
    excl_other_trial_date = models.DateField(_("evidence date"))
    excl_unwilling = models.BooleanField(_("unwilling to take part"))
    excl_unwilling_date = models.DateField(_("evidence date"))

    eligible = models.BooleanField(_("eligible"))
    failed_criteria = models.JSONField(_("failed criteria"), default=list, blank=True)
    consent_status = models.CharField(
        _("consent"), max_length=20, choices=ConsentStatus.choices, db_index=True
    )
    declined_on = models.DateField(_("declined on"), null=True, blank=True)
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("screened by"),
    )
    imported = models.BooleanField(
        _("imported"), default=False, help_text=_("Came from import_trial_data, not this site.")
    )
    rescreen_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rescreens",
        verbose_name=_("re-screening of"),
        help_text=_("The latest earlier screening of the same hospital number at this site."),
    )
    # One person, one study id: a hospital number consented once at a site cannot
    # be consented again there (the constraint below), unless an investigator
    # states, with this reason, that the number now belongs to a different person.
    duplicate_override_reason = models.TextField(
        _("why this is a different person with the same hospital number"), blank=True
    )
    duplicate_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("overridden by"),
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["created_at"])

    class Meta:
        ordering = ["-screening_date", "-id"]
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")
        indexes = [models.Index(fields=["site", "screening_date"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(eligible=True, consent_status__in=["pending", "consented", "declined"])
                | Q(eligible=False, consent_status="not_eligible"),
                name="screening_consent_only_when_eligible",
            ),
            models.CheckConstraint(
                condition=Q(imported=True)
                | (
                    Q(date_of_birth__isnull=False)
                    & Q(scheduled_procedure_date__isnull=False)
                    & ~Q(initials="")
                    & ~Q(hospital_number="")
                ),
                name="screening_identified_unless_imported",
            ),
            models.UniqueConstraint(
                Upper("hospital_number"),
                "site",
                condition=Q(consent_status="consented", duplicate_override_reason="")
                & ~Q(hospital_number=""),
                name="screening_one_study_id_per_person",
                violation_error_message=_(
                    "This hospital number is already enrolled at this site: one person has "
                    "one study id."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.screening_id

    def audit_subject(self) -> str:
        return self.screening_id


class ParticipantStatus(models.TextChoices):
    ON_STUDY = "on_study", _("On study")
    COMPLETED = "completed", _("Completed")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", _("Lost to follow-up")
    EXCLUDED = "excluded", _("Excluded after randomization")


class Participant(models.Model):
    """A consented patient, known from here on by the study id only."""

    study_id = models.CharField(_("study id"), max_length=40, unique=True)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="participants", verbose_name=_("site")
    )
    screening = models.OneToOneField(
        Screening,
        on_delete=models.PROTECT,
        related_name="participant",
        verbose_name=_("screening"),
    )
    consent_date = models.DateField(_("consent date"))
    consent_form_version = models.ForeignKey(
        ConsentFormVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("consent form version"),
    )
    consent_taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("consent taken by"),
    )
    signed_form_filed = models.BooleanField(_("signed consent form filed"))
    language = models.CharField(
        _("questionnaire language"),
        max_length=10,
        choices=Language.choices,
        default=Language.CHINESE,
        help_text=_("The language the participant answers the questionnaires in."),
    )
    status = models.CharField(
        _("status"),
        max_length=30,
        choices=ParticipantStatus.choices,
        default=ParticipantStatus.ON_STUDY,
        db_index=True,
    )
    status_date = models.DateField(_("status date"))
    status_reason = models.TextField(_("status reason"), blank=True)
    enrolled_at = models.DateTimeField(_("enrolled at"), auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["enrolled_at"])

    class Meta:
        ordering = ["study_id"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        permissions = [
            ("screen_patient", _("Can screen patients")),
            ("consent_participant", _("Can record consent and enrol participants")),
            ("edit_baseline", _("Can enter and correct baseline data")),
            ("view_audit_trail", _("Can read and export the audit trail")),
            (
                "override_duplicate_screening",
                _("Can screen a hospital number already enrolled, as a different person"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(signed_form_filed=True), name="participant_signed_form_filed"
            ),
        ]

    def __str__(self) -> str:
        return self.study_id

    def audit_subject(self) -> str:
        return self.study_id


class SurgicalSite(models.TextChoices):
    LEFT = "left", _("Left")
    RIGHT = "right", _("Right")
    BILATERAL = "bilateral", _("Bilateral")


class ProcedureType(models.TextChoices):
    MASTECTOMY = "mastectomy", _("Mastectomy")
    LUMPECTOMY = "lumpectomy", _("Lumpectomy")


class ChemoRegimen(models.TextChoices):
    NONE = "none", _("None")
    CA = "C+A", _("C+A (two-drug)")
    CE = "C+E", _("C+E (two-drug)")
    CT = "C+T", _("C+T (two-drug)")
    CAT = "C+A+T", _("C+A+T (three-drug)")
    CET = "C+E+T", _("C+E+T (three-drug)")


class Baseline(models.Model):
    """The baseline case report form (the trial's Table 1 variables)."""

    HEIGHT_RANGE = (120, 220)
    WEIGHT_RANGE = (30, 250)

    participant = models.OneToOneField(
        Participant,
        on_delete=models.PROTECT,
        related_name="baseline",
        verbose_name=_("participant"),
    )
    height_cm = models.DecimalField(_("height (cm)"), max_digits=4, decimal_places=1)
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=4, decimal_places=1)
    bmi = models.DecimalField(_("body-mass index"), max_digits=4, decimal_places=1)
    comorbidity = models.BooleanField(_("co-morbidity"))
    comorbidity_list = models.TextField(_("co-morbidities"), blank=True)
    surgical_site = models.CharField(
        _("surgical site"), max_length=10, choices=SurgicalSite.choices
    )
    preop_vas_mm = models.PositiveSmallIntegerField(_("preoperative pain VAS (mm)"))
    procedure_type = models.CharField(
        _("type of procedure"), max_length=12, choices=ProcedureType.choices
    )
    procedure_date = models.DateField(_("procedure date"))
    chemo_regimen = models.CharField(
        _("planned chemotherapy"), max_length=8, choices=ChemoRegimen.choices
    )
    radiotherapy = models.BooleanField(_("postoperative radiotherapy"))
    hormone_therapy = models.BooleanField(_("hormone therapy"))
    targeted_therapy = models.BooleanField(_("targeted therapy"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["recorded_at"])

    class Meta:
        verbose_name = _("baseline")
        verbose_name_plural = _("baselines")
        constraints = [
            models.CheckConstraint(
                condition=Q(height_cm__gte=120, height_cm__lte=220), name="baseline_height_range"
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__gte=30, weight_kg__lte=250), name="baseline_weight_range"
            ),
            models.CheckConstraint(condition=Q(preop_vas_mm__lte=100), name="baseline_vas_range"),
            models.CheckConstraint(
                condition=Q(comorbidity=True) | Q(comorbidity_list=""),
                name="baseline_comorbidity_list_only_when_comorbid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} baseline"

    def audit_subject(self) -> str:
        return self.participant.study_id

    @property
    def preop_pain_condition(self) -> bool:
        """Preoperative pain condition: VAS ≥ 3/10 (30 mm)."""
        return self.preop_vas_mm >= 30


class AuditEvent(models.Model):
    """One line of the audit trail: who did what, when, to which record, and why.

    Written for every history row of a clinical model and for events that are
    not row changes (log-ins of note, exports, reads of unblinded data). Rows
    are only ever inserted.
    """

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        EVENT = "event", _("Event")

    at = models.DateTimeField(_("when"), db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    model = models.CharField(_("record type"), max_length=100, db_index=True)
    object_id = models.CharField(_("record id"), max_length=64, blank=True)
    subject = models.CharField(
        _("participant or screening"), max_length=40, blank=True, db_index=True
    )
    reason = models.TextField(_("reason"), blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    # Tamper evidence (trial.audit): lines are numbered without gaps; each carries
    # the hash of the line before it and its own hash over its content, and an
    # HMAC of that hash under a key kept outside the database (AUDIT_KEYS), so an
    # edit, a deletion anywhere, a reordering or a re-hash without the key shows.
    sequence = models.PositiveBigIntegerField(_("line number"), unique=True)
    previous_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    entry_hash = models.CharField(_("hash"), max_length=64, blank=True)
    key_id = models.CharField(_("sealing key"), max_length=12, blank=True)
    entry_mac = models.CharField(_("seal"), max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.model}"


class AuditChainHead(models.Model):
    """The end of the audit chain: the last line's number and hash, sealed with the key.

    New lines link to this head (never to whatever line happens to be newest), and
    its row lock orders concurrent appends. It is updated in the same transaction
    as the lines it covers, so it is exact at every commit.
    """

    sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=12, blank=True)
    head_mac = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self) -> str:
        return f"{self.sequence} {self.last_hash}"
