"""Data layer of analysis: computed DSMB analyses (the dashboard's cache) and report files.

A run is computed by a Celery task from one consistent snapshot and kept with the
SHA-256 of the data it used; pages read the latest finished run, so they answer
at once however large the trial.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class AnalysisRun(models.Model):
    class Kind(models.TextChoices):
        CLOSED = "closed", _("Closed (by arm, DSMB)")
        OPEN = "open", _("Open (pooled, trial team)")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    population = models.CharField(max_length=12, default="completers")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Open (pooled) runs keep their result, figures and data hash as they are. A
    # closed run's are by arm — and its data hash, over data with the arm column,
    # could be matched by trying arm vectors while the trial is small — so they
    # are kept only in ``sealed_payload``, encrypted with the randomization keys
    # (``randomization.unblinded.open_closed_run`` opens them for the DSMB).
    data_sha256 = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    sealed_payload = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("analysis run")
        verbose_name_plural = _("analysis runs")
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["kind", "population", "status", "-finished_at"])]
        permissions = [
            ("view_dashboard", _("Can see the unblinded DSMB dashboard and closed report")),
            ("view_open_report", _("Can see the open (pooled) report")),
            ("export_data", _("Can export trial data")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.population} {self.requested_at:%Y-%m-%d %H:%M}"

    def figures_for(self, language: str) -> dict[str, str]:
        """The figures drawn in ``language`` (English if not drawn in it). Runs from
        before figures were drawn per language hold one set: that one."""
        figures = self.figures or {}
        if not any(isinstance(value, dict) for value in figures.values()):
            return figures
        return figures.get(language) or figures.get("en") or {}


class ReportFile(models.Model):
    """A generated PDF report, kept for download for a limited time."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="reports")
    language = models.CharField(max_length=10, default="en")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    content = models.BinaryField(blank=True)
    # A closed report's PDF shows results by arm: its content is encrypted.
    sealed = models.BooleanField(default=False)
    filename = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("report file")
        verbose_name_plural = _("report files")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return self.filename or f"report {self.pk}"


class DataExport(models.Model):
    """A trial-data export made in the background, kept for download for a limited time."""

    class Format(models.TextChoices):
        CSV = "csv", _("Interchange CSV (contracts §3)")
        XPT = "xpt", _("SAS transport (XPT) and CSV")
        ODM = "odm", _("CDISC ODM 1.3 XML and CSV")

    format = models.CharField(max_length=5, choices=Format.choices, default=Format.CSV)
    unblinded = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    content = models.BinaryField(blank=True)
    # An unblinded export's zip holds every arm: its content is encrypted.
    sealed = models.BooleanField(default=False)
    filename = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return self.filename or f"export {self.pk}"
