"""Dates and times in the reader's language and their site's time zone; stored values unchanged."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import formats, translation

from conftest import make_user
from trial.middleware import site_time_zone
from trial.models import Site, UserProfile

# 06:05 UTC: 14:05 in Shanghai (UTC+8), 06:05 in London (GMT in November).
INSTANT = datetime(2026, 11, 27, 6, 5, tzinfo=UTC)


@pytest.fixture
def enrolled_at_instant(make_participant):
    """A participant screened and consented on 25 Nov 2026, recorded at INSTANT."""
    with time_machine.travel(INSTANT, tick=False):
        participant = make_participant(screening_date=date(2026, 11, 25))
    assert participant.consent_date == date(2026, 11, 25)
    return participant


def _participant_page(client, user, participant) -> str:
    client.force_login(user)
    response = client.get(reverse("participant_detail", args=[participant.study_id]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
class TestLanguageFormats:
    @pytest.mark.parametrize(
        ("language", "short_date", "short_datetime", "datetime_with_seconds"),
        [
            ("en", "25 Nov 2026", "25 Nov 2026 14:05", "25 Nov 2026 14:05:09"),
            ("zh-hans", "2026年11月25日", "2026年11月25日 14:05", "2026年11月25日 14:05:09"),
        ],
    )
    def test_format_modules(self, language, short_date, short_datetime, datetime_with_seconds):
        moment = datetime(2026, 11, 25, 14, 5, 9, tzinfo=UTC)
        with translation.override(language):
            assert formats.date_format(date(2026, 11, 25), "SHORT_DATE_FORMAT") == short_date
            assert formats.date_format(date(2026, 11, 25), "DATE_FORMAT") == short_date
            assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == short_datetime
            assert formats.date_format(moment, "DATETIME_FORMAT") == datetime_with_seconds
            assert formats.time_format(moment, "TIME_FORMAT") == "14:05"

    def test_single_digit_days_and_months(self):
        with translation.override("en"):
            assert formats.date_format(date(2026, 3, 5), "SHORT_DATE_FORMAT") == "5 Mar 2026"
        with translation.override("zh-hans"):
            assert formats.date_format(date(2026, 3, 5), "SHORT_DATE_FORMAT") == "2026年3月5日"

    def test_english_user_sees_english_dates(self, client, nurse, enrolled_at_instant):
        UserProfile.objects.filter(user=nurse).update(language="en")
        page = _participant_page(client, nurse, enrolled_at_instant)
        assert '<dd class="col-6">25 Nov 2026</dd>' in page
        assert "<tr><td>27 Nov 2026 14:05</td>" in page
        assert "2026-11-25" not in page

    def test_chinese_user_sees_chinese_dates(self, client, nurse, enrolled_at_instant):
        UserProfile.objects.filter(user=nurse).update(language="zh-hans")
        page = _participant_page(client, nurse, enrolled_at_instant)
        assert '<dd class="col-6">2026年11月25日</dd>' in page
        assert "<tr><td>2026年11月27日 14:05</td>" in page
        assert "2026-11-25" not in page

    def test_date_inputs_stay_iso(self):
        """The browser's date pickers read ISO whatever the language; so do the forms."""
        from followup.forms import DateTimeInput
        from trial.forms import DateInput

        with translation.override("zh-hans"):
            assert 'value="2026-11-25"' in DateInput().render("day", date(2026, 11, 25))
            moment = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
            assert 'value="2026-11-25T14:05"' in DateTimeInput().render("at", moment)

    @pytest.mark.parametrize(
        ("language", "generated"),
        [("en", "27 Nov 2026 14:05"), ("zh-hans", "2026年11月27日 14:05")],
    )
    def test_pdf_report_follows_its_language(self, language, generated):
        report = {
            "data_cut": "2026-11-27",
            "population": "completers",
            "data_sha256": "0" * 64,
            "arms": ["ALL"],
            "pooled": True,
            "safety": {},
            "outcomes": {},
        }
        with translation.override(language):
            html = render_to_string(
                "analysis/pdf_report.html",
                {"report": report, "figures": {}, "closed": False, "generated": INSTANT},
            )
        assert generated in html

    @pytest.mark.parametrize(
        ("language", "expected"),
        [("en", "on 25 Nov 2026."), ("zh-hans", "2026年11月25日")],
    )
    def test_emails_give_dates_in_the_recipients_language(
        self, nurse, investigator, enrolled_at_instant, language, expected
    ):
        from django.core import mail

        from questionnaires import services
        from questionnaires.tasks import notify_safety_alert

        investigator.email = "pi@example.org"
        investigator.save()
        UserProfile.objects.filter(user=investigator).update(language=language)
        with time_machine.travel(INSTANT, tick=False):
            response = services.response_record(
                participant=enrolled_at_instant,
                visit="baseline",
                instrument="phq9",
                answers={**{f"phq9_{n}": 0 for n in range(1, 9)}, "phq9_9": 1},
                administration=services.Administration(
                    administered_on=date(2026, 11, 25), mode="in_person"
                ),
                by=nurse,
            )
            mail.outbox.clear()
            notify_safety_alert(response.safety_alert.pk)
        [message] = mail.outbox
        assert expected in message.body
        assert "2026-11-25" not in message.body


@pytest.mark.django_db
class TestSiteTimeZone:
    def test_london_site_sees_london_time(self, client, site, nurse, enrolled_at_instant):
        Site.objects.filter(pk=site.pk).update(time_zone="Europe/London")
        UserProfile.objects.filter(user=nurse).update(language="en")
        page = _participant_page(client, nurse, enrolled_at_instant)
        assert "<tr><td>27 Nov 2026 06:05</td>" in page
        assert "14:05" not in page

    def test_shanghai_site_sees_shanghai_time(self, client, site, nurse, enrolled_at_instant):
        assert site.time_zone == "Asia/Shanghai"
        UserProfile.objects.filter(user=nurse).update(language="zh-hans")
        page = _participant_page(client, nurse, enrolled_at_instant)
        assert "<tr><td>2026年11月27日 14:05</td>" in page
        assert "06:05" not in page

    def test_audit_trail_in_the_data_managers_zone(self, client, site, datamanager):
        """A trial-wide role takes the first site by code."""
        Site.objects.filter(pk=site.pk).update(time_zone="Europe/London")
        with time_machine.travel(INSTANT, tick=False):
            Site.objects.create(code="zz-last", name="Last", study_id_prefix="ZZ")
        client.force_login(datamanager)
        page = client.get(reverse("audit_trail")).content.decode()
        assert '<td class="text-nowrap">27 Nov 2026 06:05:00</td>' in page

    def test_zone_is_the_first_site_by_code(self, site, other_site):
        Site.objects.filter(pk=other_site.pk).update(time_zone="Europe/London")
        Site.objects.filter(pk=site.pk).update(time_zone="America/New_York")
        both = make_user("both", "research_nurse", sites=[other_site, site])
        trial_wide = make_user("wide", "data_manager", all_sites=True)
        # "changsha" sorts before "wuhan".
        assert str(site_time_zone(both)) == "America/New_York"
        assert str(site_time_zone(trial_wide)) == "America/New_York"
        only_wuhan = make_user("wuhan", "research_nurse", sites=[other_site])
        assert str(site_time_zone(only_wuhan)) == "Europe/London"

    def test_no_site_or_no_profile_uses_the_trials_zone(self, site, django_user_model):
        Site.objects.filter(pk=site.pk).update(time_zone="Europe/London")
        nowhere = make_user("nowhere", "research_nurse")
        bare = django_user_model.objects.create_user(username="bare", password="x" * 20)
        assert str(site_time_zone(nowhere)) == settings.TIME_ZONE
        assert str(site_time_zone(bare)) == settings.TIME_ZONE

    def test_zone_costs_no_query(self, client, nurse):
        """The zone comes with the profile the language middleware loads anyway."""
        client.force_login(nurse)
        client.get(reverse("home"))
        with CaptureQueriesContext(connection) as with_zone:
            assert client.get(reverse("home")).status_code == 200
        without = [m for m in settings.MIDDLEWARE if m != "trial.middleware.SiteTimeZoneMiddleware"]
        with override_settings(MIDDLEWARE=without), CaptureQueriesContext(connection) as plain:
            assert client.get(reverse("home")).status_code == 200
        assert len(with_zone) == len(plain), [q["sql"] for q in with_zone.captured_queries]

    def test_default_and_validation(self):
        assert Site().time_zone == settings.TIME_ZONE == "Asia/Shanghai"
        site = Site(code="paris", name="Paris", study_id_prefix="PA", time_zone="Mars/Olympus")
        with pytest.raises(ValidationError) as excinfo:
            site.full_clean()
        assert "time_zone" in excinfo.value.message_dict
        site.time_zone = "Europe/Paris"
        site.full_clean()

    def test_admin_lists_the_zone(self, client, site, datamanager):
        datamanager.is_superuser = True
        datamanager.save()
        client.force_login(datamanager)
        page = client.get(reverse("admin:trial_site_changelist")).content.decode()
        assert '<td class="field-time_zone">Asia/Shanghai</td>' in page


@pytest.mark.django_db(transaction=True)
def test_migration_gives_existing_sites_the_trials_zone():
    executor = MigrationExecutor(connection)
    before = [("trial", "0004_participant_and_user_language")]
    executor.migrate(before)
    old_site = executor.loader.project_state(before).apps.get_model("trial", "Site")
    old_site.objects.create(code="old", name="Old", study_id_prefix="OLD")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Site.objects.get(code="old").time_zone == settings.TIME_ZONE == "Asia/Shanghai"
