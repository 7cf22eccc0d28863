"""The Chinese interface: a complete catalogue, per-user language, questionnaires in the
participant's language."""

import re
import shutil
import subprocess

import pytest
from django.urls import reverse
from django.utils import translation

from conftest import require_component

pytestmark = pytest.mark.django_db

CATALOGUE = "locale/zh_Hans/LC_MESSAGES/django.po"


def test_catalogue_has_no_untranslated_or_fuzzy_strings():
    msgfmt = shutil.which("msgfmt")
    require_component(msgfmt is not None, "GNU gettext (msgfmt)")
    result = subprocess.run(  # noqa: S603
        [msgfmt, "--statistics", "--check", "-o", "/dev/null", CATALOGUE],
        capture_output=True,
        text=True,
        check=True,
    )
    report = result.stderr.strip()
    assert re.fullmatch(r"\d+ translated messages\.", report), report


def test_catalogue_covers_the_main_pages():
    with open(CATALOGUE, encoding="utf-8") as handle:
        po = handle.read()
    for text in (
        "Screen a patient",
        "Record consent and enrol",
        "Emergency code-break",
        "Calls to make",
        "DSMB dashboard",
        "Two-factor authentication",
    ):
        assert f'msgid "{text}"' in po, text


def test_user_language_from_profile(client, nurse):
    client.force_login(nurse)
    client.post(reverse("profile"), {"language": "zh-hans"})
    body = client.get(reverse("home")).content.decode()
    assert '<html lang="zh-hans">' in body
    client.post(reverse("profile"), {"language": "en"})
    assert '<html lang="en">' in client.get(reverse("home")).content.decode()


def test_login_page_follows_the_browser(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert '<html lang="zh-hans">' in response.content.decode()
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB")
    assert '<html lang="en">' in response.content.decode()


def test_phq9_in_the_participants_language(client, nurse, make_participant):
    from questionnaires.models import Response

    participant = make_participant()
    assert participant.language == "zh-hans"
    client.force_login(nurse)
    url = reverse("response_enter", args=[participant.study_id, "baseline", "phq9"])
    page = client.get(url).content.decode()
    assert "做事时提不起劲或没有兴趣" in page
    assert "完全不会" in page
    data = {
        "administered_on": participant.consent_date.isoformat(),
        "mode": "in_person",
        **{f"phq9_{n}": "0" for n in range(1, 10)},
    }
    client.post(url, data)
    response = Response.objects.get()
    assert response.language == "zh-hans"
    assert response.scores["total"] == 0


def test_closed_report_heading_in_chinese():
    from django.utils.translation import gettext

    with translation.override("zh-hans"):
        assert gettext("DSMB closed report (by arm)") != "DSMB closed report (by arm)"


def test_emails_in_each_recipients_language(make_participant, nurse, investigator, site):
    from django.core import mail
    from django.utils import timezone

    from conftest import make_user
    from questionnaires import services
    from trial.models import UserProfile

    other = make_user("investigator2", "investigator", sites=[site], email="pi2@example.org")
    investigator.email = "pi@example.org"
    investigator.save()
    UserProfile.objects.filter(user=investigator).update(language="zh-hans")
    UserProfile.objects.filter(user=other).update(language="en")
    from questionnaires.tasks import notify_safety_alert

    response = services.response_record(
        participant=make_participant(),
        visit="baseline",
        instrument="phq9",
        answers={**{f"phq9_{n}": 0 for n in range(1, 9)}, "phq9_9": 1},
        administration=services.Administration(
            administered_on=timezone.localdate(), mode="in_person"
        ),
        by=nurse,
    )
    notify_safety_alert(response.safety_alert.pk)
    by_recipient = {m.to[0]: m.subject for m in mail.outbox}
    assert by_recipient["pi2@example.org"].startswith("PHQ-9 item 9 safety alert")
    assert by_recipient["pi@example.org"] != by_recipient["pi2@example.org"]
    assert "PHQ-9" in by_recipient["pi@example.org"]


def test_every_record_type_has_a_translated_name():
    # Audit lines and the admin name records by their model's verbose name; one left to
    # Django's default is English made from the class name on every Chinese page.
    from django.apps import apps

    ours = ("trial", "followup", "questionnaires", "randomization", "analysis")
    unnamed = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in ours
        and not model.__name__.startswith("Historical")
        and "verbose_name" not in model._meta.original_attrs
    ]
    assert unnamed == []
    with translation.override("zh-hans"):
        assert str(apps.get_model("analysis.AnalysisRun")._meta.verbose_name) == "分析运行"
