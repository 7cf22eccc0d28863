"""The dashboard's opening and the downloads, recorded by the services; who may read a
run, report or export, checked by the selectors."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from analysis import selectors, services
from analysis.models import AnalysisRun, DataExport, ReportFile, Status
from randomization.crypto import seal_bytes
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7 by arm"


def _report(kind, user, **file):
    run = AnalysisRun.objects.create(kind=kind, status=Status.DONE, requested_by=user)
    return ReportFile.objects.create(run=run, status=Status.DONE, requested_by=user, **file)


@pytest.fixture
def closed_report(dsmb):
    return _report(
        "closed", dsmb, content=seal_bytes(PDF), sealed=True, filename="dsmb-closed-report.pdf"
    )


@pytest.fixture
def open_report(investigator):
    return _report("open", investigator, content=b"%PDF-1.7 pooled", filename="open-report.pdf")


def lines(summary):
    return AuditEvent.objects.filter(summary=summary)


class TestDashboardOpen:
    def test_recorded_for_the_dsmb(self, dsmb):
        services.dashboard_open(by=dsmb)
        assert lines("DSMB dashboard opened").get().user == dsmb

    @pytest.mark.parametrize("role", ["investigator", "data_manager", "research_nurse"])
    def test_refused_to_the_blinded_and_not_recorded(self, role_users, role):
        with pytest.raises(PermissionDenied):
            services.dashboard_open(by=role_users[role])
        assert not lines("DSMB dashboard opened").exists()


class TestReportDownload:
    def test_a_closed_report_is_opened_for_the_dsmb_and_recorded(self, dsmb, closed_report):
        assert services.report_download(report=closed_report, by=dsmb) == PDF
        line = lines("Report downloaded: dsmb-closed-report.pdf").get()
        assert (line.user, line.object_id) == (dsmb, str(closed_report.pk))

    def test_a_closed_report_is_refused_to_the_investigator(self, investigator, closed_report):
        with pytest.raises(PermissionDenied):
            services.report_download(report=closed_report, by=investigator)
        with pytest.raises(PermissionDenied):
            selectors.report_for_user(user=investigator, pk=closed_report.pk, downloadable=True)
        assert not AuditEvent.objects.filter(model="analysis.ReportFile").exists()

    def test_an_open_report_is_served_as_stored(self, investigator, open_report):
        assert services.report_download(report=open_report, by=investigator) == b"%PDF-1.7 pooled"
        assert lines("Report downloaded: open-report.pdf").exists()

    def test_an_expired_or_unfinished_report_is_not_found(self, dsmb, closed_report):
        ReportFile.objects.filter(pk=closed_report.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        with pytest.raises(Http404):
            selectors.report_for_user(user=dsmb, pk=closed_report.pk, downloadable=True)
        ReportFile.objects.filter(pk=closed_report.pk).update(expires_at=None, status="running")
        with pytest.raises(Http404):
            selectors.report_for_user(user=dsmb, pk=closed_report.pk, downloadable=True)
        # Its progress may still be read.
        assert selectors.report_for_user(user=dsmb, pk=closed_report.pk).status == "running"


class TestExportDownload:
    @pytest.fixture
    def export(self, datamanager):
        return DataExport.objects.create(
            status=Status.DONE,
            content=b"PK zip",
            filename="trial-data.zip",
            requested_by=datamanager,
        )

    def test_recorded_for_the_person_who_asked(self, datamanager, export):
        assert services.export_download(export=export, by=datamanager) == b"PK zip"
        assert lines("Export downloaded: trial-data.zip").get().user == datamanager

    def test_nobody_else_downloads_it(self, datamanager, export, statistician):
        with pytest.raises(PermissionDenied):
            services.export_download(export=export, by=statistician)
        with pytest.raises(Http404):
            selectors.export_for_user(user=statistician, pk=export.pk, downloadable=True)
        assert not AuditEvent.objects.filter(model="analysis.DataExport").exists()

    def test_an_unblinded_export_needs_the_arm_permission_now(self, datamanager, export):
        DataExport.objects.filter(pk=export.pk).update(unblinded=True)
        export.refresh_from_db()
        with pytest.raises(PermissionDenied):
            services.export_download(export=export, by=datamanager)
        assert not AuditEvent.objects.filter(model="analysis.DataExport").exists()


class TestRuns:
    def test_the_latest_closed_run_is_opened_only_for_the_dashboard(self, dsmb, investigator):
        AnalysisRun.objects.create(kind="closed", status=Status.DONE, finished_at=timezone.now())
        assert selectors.latest_run(kind="closed", population="completers", user=dsmb).pk
        with pytest.raises(PermissionDenied):
            selectors.latest_run(kind="closed", population="completers", user=investigator)
        assert selectors.latest_run(kind="open", population="completers", user=investigator) is None

    def test_a_run_is_found_before_its_reader_is_checked(self, investigator):
        queued = AnalysisRun.objects.create(kind="closed")
        with pytest.raises(PermissionDenied):
            selectors.run_for_user(user=investigator, pk=queued.pk)
        with pytest.raises(Http404):
            selectors.run_for_user(user=investigator, pk=queued.pk, done=True)
