"""The DSMB dashboard, the open report, the PDF reports and the JSON report contract."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from analysis import services
from analysis.models import AnalysisRun, ReportFile
from randomization.models import ArmAccess
from trial.demo import seed_demo
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db

BLINDED = ["nurse", "assessor", "investigator", "datamanager"]


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(password="demo-password-for-tests-1", participants=16)
    from django.contrib.auth import get_user_model

    return {u.username: u for u in get_user_model().objects.all()}


def _report_json(*args) -> dict:
    out = StringIO()
    call_command("dsmb_report", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_json_contract_keys_and_types(demo):
    report = _report_json()
    assert report["schema"] == "dsmb-report/1"
    assert report["population"] == "completers"
    assert report["arms"] == ["MLT", "PLACEBO"]
    consort = report["consort"]
    for key in ("screened", "ineligible", "consented"):
        assert isinstance(consort[key], int)
    assert set(consort["ineligible_by_criterion"]) == {
        "excl_age",
        "excl_pregnancy",
        "excl_psychiatric",
        "excl_severe_disease",
        "excl_medication",
        "excl_mlt_allergy",
        "excl_other_trial",
        "excl_unwilling",
    }
    for key in ("randomized", "lost_to_follow_up", "withdrawn", "excluded", "analysed"):
        assert set(consort[key]) == {"MLT", "PLACEBO"}
        assert all(isinstance(v, int) for v in consort[key].values())
    assert sum(consort["randomized"].values()) == 13  # 16 enrolled, 3 awaiting baseline
    assert set(report["baseline"]) == {
        "age",
        "bmi",
        "comorbidity",
        "surgical_site",
        "preop_vas_mm",
        "preop_pain_condition",
        "procedure_type",
        "chemo_plan",
        "radiotherapy",
        "hormone_therapy",
        "targeted_therapy",
    }
    for row in report["baseline"].values():
        assert row["kind"] in {"continuous", "categorical"}
        assert row["test"] in {"student_t", "mann_whitney", "fisher", "chi_square"}
        assert row["p"] is None or 0 <= row["p"] <= 1
        if row["kind"] == "continuous":
            assert set(row["MLT"]) == {"n", "mean", "sd"}
    assert set(report["persistent_pain"]) == {"m3", "m6"}
    for row in report["persistent_pain"].values():
        assert row["test"] == "fisher"
        assert set(row["MLT"]) == {"events", "n"}
    assert set(report["outcomes"]) == {
        "sf_mpq_total",
        "sf_mpq_pri_total",
        "vas_mm",
        "ppi",
        "gad7_total",
        "phq9_total",
        "psqi_global",
    }
    for outcome in report["outcomes"].values():
        assert set(outcome["anova"]) >= {"arm", "visit", "interaction", "method"}
        assert isinstance(outcome["arm_at_visit"], list)
        for row in outcome["arm_at_visit"]:
            assert set(row) >= {"visit", "mean_difference", "ci_low", "ci_high", "p_bonferroni"}
        for row in outcome["visit_vs_baseline"]:
            assert set(row) >= {
                "arm",
                "visit",
                "mean_difference",
                "ci_low",
                "ci_high",
                "p_bonferroni",
            }
    assert report["tics"]["test"] in {"student_t", "mann_whitney"}
    assert set(report["safety"]["adverse_events"]) == {"MLT", "PLACEBO"}
    for arm in ("MLT", "PLACEBO"):
        assert set(report["safety"]["adverse_events"][arm]) >= {"events", "participants", "serious"}
    # The command's read of every arm is recorded, under the OS user.
    assert ArmAccess.objects.filter(user=None).exclude(os_user="").exists()
    assert _report_json("--population", "available")["population"] == "available"


def test_json_counts_match_the_database(demo):
    from followup.models import AdverseEvent

    report = _report_json()
    totals = report["safety"]["adverse_events"]
    assert sum(totals[arm]["events"] for arm in totals) == AdverseEvent.objects.count()
    assert (
        sum(totals[arm]["serious"] for arm in totals)
        == AdverseEvent.objects.filter(serious=True).count()
    )


DASHBOARD_URLS = ["dsmb_dashboard"]


def test_blinded_roles_get_403_on_every_dashboard_page_and_download(
    client, demo, django_capture_on_commit_callbacks
):
    closed = AnalysisRun.objects.get(kind="closed", status="done")
    with django_capture_on_commit_callbacks(execute=True):
        report = services.report_request(run=closed, language="en", by=demo["dsmb"])
    runs = AnalysisRun.objects.count()
    for username in BLINDED:
        client.force_login(demo[username])
        for response in (
            client.get(reverse("dsmb_dashboard")),
            client.get(reverse("analysis_run_status", args=[closed.pk])),
            client.post(reverse("analysis_refresh", args=["closed"])),
            client.post(reverse("report_request", args=[closed.pk])),
            client.get(reverse("report_download", args=[report.pk])),
            client.get(reverse("report_status", args=[report.pk])),
        ):
            assert response.status_code == 403, (username, response.request["PATH_INFO"])
            assert b"PLACEBO" not in response.content
    assert AnalysisRun.objects.count() == runs
    assert ReportFile.objects.count() == 1


def test_dashboard_shows_numbers_and_is_audited(client, demo):
    client.force_login(demo["dsmb"])
    response = client.get(reverse("dsmb_dashboard"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="consort"' in body and 'data-testid="baseline-table"' in body
    assert "<svg" in body  # server-rendered figures
    assert "Computed" in body
    assert AuditEvent.objects.filter(summary="DSMB dashboard opened", user=demo["dsmb"]).exists()


def test_dashboard_names_variables_categories_tests_and_criteria(client, demo):
    # The stored report keeps keys (surgical_site, left, mann_whitney, excl_age); the DSMB
    # reads names, in their language.
    import re

    client.force_login(demo["dsmb"])
    body = client.get(reverse("dsmb_dashboard")).content.decode()
    table = re.search(r'data-testid="baseline-table".*?</table>', body, re.S).group(0)
    assert '<th scope="row">Surgical site</th>' in table
    assert re.search(r"<td>Left \d+, Right \d+, Bilateral \d+</td>", table)
    assert "Fisher&#x27;s exact test" in table or "Fisher's exact test" in table
    for key in ("surgical_site", "mann_whitney", "student_t", ">left ", "two_drug"):
        assert key not in table, key
    consort = re.search(r'data-testid="consort".*?</ul>', body, re.S).group(0)
    assert "excl_" not in consort and "Age below 18 or over 70 years" in consort
    demo["dsmb"].profile.language = "zh-hans"
    demo["dsmb"].profile.save()
    body = client.get(reverse("dsmb_dashboard")).content.decode()
    assert '<th scope="row">手术部位</th>' in body and "Fisher 精确检验" in body


def _opened_closed_run(demo):
    from randomization import unblinded

    run = AnalysisRun.objects.get(kind="closed", status="done")
    return unblinded.open_closed_run(run, user=demo["dsmb"])


def test_figures_are_drawn_in_each_language_and_served_in_the_readers(client, demo):
    closed = _opened_closed_run(demo)
    assert set(closed.figures) == {"en", "zh-hans"}
    assert set(closed.figures["en"]) == set(closed.figures["zh-hans"]) >= {"enrolment", "incidence"}
    # Text is drawn as outlines: the Chinese labels make different paths.
    assert closed.figures["en"]["enrolment"] != closed.figures["zh-hans"]["enrolment"]
    client.force_login(demo["dsmb"])
    body = client.get(reverse("dsmb_dashboard")).content.decode()
    assert closed.figures["en"]["enrolment"] in body
    demo["dsmb"].profile.language = "zh-hans"
    demo["dsmb"].profile.save()
    body = client.get(reverse("dsmb_dashboard")).content.decode()
    assert closed.figures["zh-hans"]["enrolment"] in body
    assert closed.figures["en"]["enrolment"] not in body
    # A run stored before figures were drawn per language still shows its one set.
    old = AnalysisRun(figures={"enrolment": "<svg>old</svg>"})
    assert old.figures_for("zh-hans") == {"enrolment": "<svg>old</svg>"}
    assert AnalysisRun(figures={}).figures_for("en") == {}


def test_dashboard_query_count_is_small_and_fixed(client, demo, django_assert_max_num_queries):
    client.force_login(demo["statistician"])
    client.get(reverse("dsmb_dashboard"))
    # Session, user, permissions, OTP device, the audit line (3), the stored run, the
    # pending run and recent reports: a fixed budget whatever the size of the trial.
    with django_assert_max_num_queries(16):
        client.get(reverse("dsmb_dashboard"))


def test_open_report_has_no_arms(client, demo):
    client.force_login(demo["investigator"])
    response = client.get(reverse("open_report"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "PLACEBO" not in body
    assert not ArmAccess.objects.filter(user=demo["investigator"]).exists()
    run = AnalysisRun.objects.get(kind="open", status="done")
    assert "PLACEBO" not in json.dumps(run.result)
    assert run.result["arms"] == ["ALL"]


def test_pdf_reports_with_data_cut_and_hash(client, demo, django_capture_on_commit_callbacks):
    closed = _opened_closed_run(demo)
    client.force_login(demo["dsmb"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("report_request", args=[closed.pk]), {"language": "en"})
    report = ReportFile.objects.get()
    assert report.status == "done" and report.progress == 100
    assert report.filename == f"dsmb-closed-report-{closed.result['data_cut']}-en.pdf"
    response = client.get(reverse("report_download", args=[report.pk]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    # The closed report's PDF is stored encrypted; the open one need not be.
    assert report.sealed and not bytes(report.content).startswith(b"%PDF")
    html = render_to_string(
        "analysis/pdf_report.html",
        {
            "run": closed,
            "report": closed.result,
            "figures": closed.figures_for("en"),
            "closed": True,
        },
    )
    assert closed.data_sha256 in html
    # The data cut in the reader's language: "25 Nov 2026" in English, 2026年11月25日 in Chinese.
    cut = date.fromisoformat(closed.result["data_cut"])
    assert f"Data cut {cut.day} {cut:%b} {cut.year}" in html
    with translation.override("zh-hans"):
        html_zh = render_to_string(
            "analysis/pdf_report.html",
            {
                "run": closed,
                "report": closed.result,
                "figures": closed.figures_for("zh-hans"),
                "closed": True,
            },
        )
    assert f"{cut.year}年{cut.month}月{cut.day}日" in html_zh


def test_recompute_records_a_new_run(client, demo, django_capture_on_commit_callbacks):
    client.force_login(demo["dsmb"])
    before = AnalysisRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("analysis_refresh", args=["closed"]) + "?population=available"
        )
    assert response.status_code == 302
    run = AnalysisRun.objects.latest("requested_at")
    assert AnalysisRun.objects.count() == before + 1
    assert (run.population, run.status) == ("available", "done")
    # By arm, so stored only sealed: no result, figures or data hash in the clear.
    assert (run.result, run.figures, run.data_sha256) == ({}, {}, "")
    from randomization import unblinded

    assert len(unblinded.open_closed_run(run, user=demo["dsmb"]).data_sha256) == 64


@pytest.mark.django_db(transaction=True)
def test_analysis_in_its_own_snapshot_transaction(django_capture_on_commit_callbacks):
    """Outside any test transaction the report runs in a read-only snapshot (on
    PostgreSQL REPEATABLE READ READ ONLY); progress writes must stay outside it."""
    seed_demo(password="demo-password-for-tests-1", participants=6)
    run = AnalysisRun.objects.filter(kind="closed").latest("requested_at")
    assert run.status == "done", run.error
    assert run.progress == 100


def test_every_outcome_has_a_title_in_the_analysis_order():
    from analysis import stats
    from analysis.labels import OUTCOME_TITLES

    assert tuple(OUTCOME_TITLES) == stats.OUTCOMES
