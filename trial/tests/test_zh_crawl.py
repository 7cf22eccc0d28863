"""The Chinese crawl: as each role, with the interface in zh-Hans, follow every link from
the home page, open the forms no plain link reaches (empty too, for their errors), the
error pages and the log-in page, and fail on any English left in what the user sees or
hears.

The catalogue test (test_i18n.py) proves every *marked* string is translated; this one
finds the strings that were never marked. What may stay English on a Chinese page is
removed first: codes and identifiers, the abbreviations of the instruments and
standards, data (what users typed, and the audit trail as written, taken from the
database), and questionnaire wording in the participant's own language. Whatever run of
two or more Latin-alphabet words is left is reported with the role, the page and the
text around it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.urls import reverse

from trial.demo import DEMO_USERS, seed_demo
from trial.tests.test_blinding_crawl import crawl

pytestmark = pytest.mark.django_db

UNBLINDED = {"statistician", "dsmb"}
EXAMPLE_PACK = Path(__file__).resolve().parents[2] / "questionnaires/content_packs/example.json"

# Two or more Latin-alphabet words in a row (letters joined by a space, hyphen or
# apostrophe), not glued to a code on either side. One word alone is not flagged: units,
# proper names and code values ("mm", "Bonferroni", "sf_mpq") would drown the signal, and
# "English" in the language menus needs no entry.
ENGLISH = re.compile(r"(?<![\w.@/-])[A-Za-z]{2,}(?:[ \-'’][A-Za-z]{2,})+(?![\w@/-])", re.ASCII)

# Codes and identifiers: English letters, but nobody translates them.
CODES = [
    re.compile(pattern)
    for pattern in (
        r"\S+@\S+\.\w+",  # e-mail addresses
        r"https?://\S+",  # URLs
        r"\b[\w.-]+\.(?:pdf|csv|zip|xpt|xml|sas|json|md)\b",  # file names
        r"\b[0-9a-f]{64}\b",  # SHA-256 digests
        # ISO dates and times inside stored values (audit lines, reasons)
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)?)?",
        r"\b[A-Z]{2,}-S?\d+\b",  # study, screening and pack ids: MLT-001, MLT-S0001, IMP-0042
        r"\bChiCTR\d+\b",  # the trial's registration number
    )
]

# Names that stay in Latin letters in a Chinese clinical-trial interface.
ABBREVIATIONS = {
    # the instruments and their scales
    "SF-MPQ", "PHQ-9", "GAD-7", "PSQI", "TICS", "VAS", "PPI", "BMI",
    # safety and oversight terms used untranslated in Chinese trials
    "SAE", "AE", "DSMB", "CONSORT",
    # data standards and file formats
    "CDISC", "ODM", "XPT", "XML", "CSV", "PDF", "SAS",
    # the authenticator standard
    "TOTP",
    # the trial's own name and study-id prefix
    "MLT",
}  # fmt: skip
# Arm names: English on the unblinded roles' pages; on any other page, a finding.
ARMS = {"PLACEBO"}


def _whole_words(names: set[str]) -> re.Pattern:
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return re.compile(rf"(?<![A-Za-z0-9-])(?:{alternatives})(?![A-Za-z0-9])")


NAMES = _whole_words(ABBREVIATIONS)
NAMES_AND_ARMS = _whole_words(ABBREVIATIONS | ARMS)

# Whole phrases that are legitimately English; each is a name, not a sentence.
ALLOWED_PHRASES = {
    # SAS procedure used to generate the lists; SAS code keeps its keywords
    "PROC PLAN",
}


class VisibleText(HTMLParser):
    """The text a user sees or hears: text nodes outside script, style and SVG metadata,
    the attributes that browsers show or read aloud, and the labels of input buttons."""

    SPOKEN = ("placeholder", "title", "aria-label", "alt")
    HIDDEN = ("script", "style", "metadata")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        attributes = dict(attrs)
        self.parts += [value for name, value in attrs if name in self.SPOKEN and value]
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            self.parts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data)


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    return [" ".join(part.split()) for part in parser.parts if part.strip()]


def recorded_data() -> set[str]:
    """The text people typed, and the audit trail as it was written: data, not interface.

    Every text and JSON value of the trial's tables (site names, reasons, notes, AE
    terms, list names, free-text answers, ...), the users' names and e-mail addresses,
    and the audit trail's lines, which are kept as written (they are hash-chained). Fields
    with choices are left out, since their stored values are codes whose labels must be
    translated: a raw code on a page is a finding. Analysis results are left out too;
    they are computed text, not data.
    """
    values: set[str] = set()
    tables = [
        model
        for app in ("trial", "randomization", "followup", "questionnaires")
        for model in apps.get_app_config(app).get_models()
    ]
    for model in tables:
        fields = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
            and not field.choices
        ]
        for row in model._default_manager.values_list(*fields):
            for value in row:
                values |= set(_strings(value))
    User = get_user_model()
    for user in User.objects.all():
        # Pages show the full name, which no single column holds.
        values |= {user.get_username(), user.get_full_name(), user.email}
    for value in list(values):
        values |= set(value.splitlines())
    return {" ".join(value.split()) for value in values if ENGLISH.search(value)}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def scoring_versions() -> set[str]:
    """The instruments' scoring-version codes (psqi-pitt-2005, ...)."""
    from questionnaires.definitions import instruments

    return {instrument.scoring_version for instrument in instruments().values()}


def participant_wording(language: str) -> set[str]:
    """The questionnaire wording shown in a participant's own language: the committed
    wording of the free instruments and the installed content pack's licensed wording."""
    from questionnaires.content import content_pack
    from questionnaires.definitions import instruments

    texts: set[str] = set()
    pack = content_pack()
    for key, instrument in instruments().items():
        texts.add(instrument.instructions.get(language, ""))
        texts.add(pack.title(key, language) or "")
        texts.add(pack.instructions(key, language) or "")
        for item in instrument.items:
            texts.add(item.wording.get(language, ""))
            texts |= set(item.option_wording.get(language, ()))
            texts.add(pack.wording(key, item.key, language) or "")
    return {" ".join(text.split()) for text in texts if text}


def english_runs(text: str, *, allowed: list[str], arms_allowed: bool) -> list[str]:
    """The runs of English words left in ``text`` once the allowed English is removed."""
    for value in allowed:
        if value in text:
            text = text.replace(value, " ¶ ")
    for pattern in CODES:
        text = pattern.sub(" ¶ ", text)
    for phrase in ALLOWED_PHRASES:
        text = text.replace(phrase, " ¶ ")
    text = (NAMES_AND_ARMS if arms_allowed else NAMES).sub(" ¶ ", text)
    runs = ENGLISH.findall(text)
    if not arms_allowed:
        runs += [arm for arm in ARMS if re.search(rf"\b{arm}\b", text)]
    return runs


def _unanswered(participants, instrument: str):
    """A participant and visit with no ``instrument`` response yet: a new entry form,
    in the participant's language (a correction keeps the response's language)."""
    from questionnaires.models import Response
    from questionnaires.visits import visit_codes

    for participant in participants:
        for visit in visit_codes():
            answered = Response.objects.filter(
                participant=participant, visit=visit, instrument=instrument
            )
            if not answered.exists():
                return participant.study_id, visit
    raise AssertionError(f"every participant has answered {instrument}")


def extra_pages(username: str) -> list[tuple[str, str, dict | None, int]]:
    """Pages no plain link reaches, as (method, url, data, status): the forms, the forms
    sent empty (their error messages), and the error pages."""
    from followup.models import Visit
    from trial.models import Participant

    chinese = Participant.objects.filter(language="zh-hans").order_by("-study_id")
    if username == "nurse":
        without_baseline = chinese.filter(baseline__isnull=True).first()
        baseline = reverse("baseline_edit", args=[without_baseline.study_id])
        entries = {
            key: reverse("response_enter", args=[*_unanswered(chinese, key), key])
            for key in ("phq9", "gad7", "psqi", "sf_mpq")
        }
        return [
            ("get", reverse("screening_new"), None, 200),
            ("post", reverse("screening_new"), {}, 200),
            ("get", baseline, None, 200),
            ("post", baseline, {}, 200),
            *(("get", url, None, 200) for url in entries.values()),
            ("post", entries["phq9"], {}, 200),
            ("get", reverse("dsmb_dashboard"), None, 403),
            ("get", reverse("participant_detail", args=["MLT-999"]), None, 404),
        ]
    if username == "assessor":
        study_id, visit = _unanswered(chinese.filter(visits__code="m6").distinct(), "tics")
        call = Visit.objects.get(participant__study_id=study_id, code="m6")
        return [
            ("get", reverse("call_page", args=[call.pk]), None, 200),
            ("get", reverse("response_enter", args=[study_id, visit, "tics"]), None, 200),
        ]
    return []


def english_questionnaire_pages() -> set[str]:
    """The questionnaire pages shown in English: those of participants who answer in
    English, and the corrections of responses that were given in English."""
    from questionnaires.models import Response
    from trial.models import Participant

    english = Participant.objects.filter(language="en").values_list("study_id", flat=True)
    given_in_english = Response.objects.filter(language="en").values_list(
        "participant__study_id", "visit", "instrument"
    )
    return {f"/participants/{study_id}/questionnaires/" for study_id in english} | {
        f"/participants/{study_id}/questionnaires/{visit}/{instrument}/"
        for study_id, visit, instrument in given_in_english
    }


@pytest.fixture
def content_pack_installed(settings):
    """The example content pack, so the licensed instruments show pack wording."""
    from questionnaires.content import _cached

    settings.QUESTIONNAIRE_CONTENT_PACK = str(EXAMPLE_PACK)
    _cached.cache_clear()
    yield
    _cached.cache_clear()


def test_no_english_left_on_chinese_pages(
    django_capture_on_commit_callbacks, content_pack_installed
):
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(password="demo-password-for-tests-1", participants=10)
    pages: dict[str, dict[str, str]] = {}
    for username in DEMO_USERS:
        user = get_user_model().objects.get(username=username)
        user.profile.language = "zh-hans"
        user.profile.save()
        client = Client()
        client.force_login(user)
        crawled = crawl(client, limit=1000)
        assert len(crawled) < 1000, username  # every reachable page, not the first 1,000
        pages[username] = {url: body for url, (status, body) in crawled.items() if status == 200}
        for method, url, data, status in extra_pages(username):
            response = client.post(url, data) if method == "post" else client.get(url)
            assert response.status_code == status, (username, method, url, response.status_code)
            pages[username][f"{method.upper()} {url}"] = response.content.decode()
    # Before logging in, the language comes from the browser.
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    login = reverse("login")
    login_page = anonymous.get(login)
    failed_login = anonymous.post(login, {"username": "nurse", "password": "wrong"})
    assert login_page.status_code == failed_login.status_code == 200
    pages["anonymous"] = {
        login: login_page.content.decode(),
        f"POST {login}": failed_login.content.decode(),
    }

    # After the crawl: opening some pages writes audit lines that later pages show.
    allowed = recorded_data() | scoring_versions() | participant_wording("zh-hans")
    # Longest first, so that a value is not cut by a shorter one inside it.
    allowed_here = sorted(allowed, key=len, reverse=True)
    allowed_in_english = sorted(allowed | participant_wording("en"), key=len, reverse=True)
    english_pages = english_questionnaire_pages()
    findings: dict[tuple[str, str], set[str]] = defaultdict(set)
    html_pages = 0
    for username, crawled in pages.items():
        for url, body in crawled.items():
            if not body.lstrip().lower().startswith("<!doctype html"):
                continue  # downloads
            html_pages += 1
            assert '<html lang="zh-hans">' in body, (username, url)
            in_english = any(marker in url for marker in english_pages)
            for text in visible_text(body):
                if not ENGLISH.search(text) and "PLACEBO" not in text:
                    continue
                for run in english_runs(
                    text,
                    allowed=allowed_in_english if in_english else allowed_here,
                    arms_allowed=username in UNBLINDED,
                ):
                    findings[(run, text)].add(f"{username} {url}")
    assert html_pages > 100, html_pages  # the crawl really went through the site

    if findings:
        lines = []
        for (run, text), where in sorted(findings.items()):
            shown = sorted(where)
            more = [f"... and {len(shown) - 10} more pages"] if len(shown) > 10 else []
            lines.append(f"«{run}» in «{text[:200]}»")
            lines += [f"    {page}" for page in [*shown[:10], *more]]
        pages_with_english = len(set().union(*findings.values()))
        pytest.fail(
            f"English on {pages_with_english} zh-Hans pages (role, URL); mark it for "
            "translation where it is built, or if it is data, say why in this test:\n"
            + "\n".join(lines)
        )


def _outcomes(case: str):
    """Outcome rows for one kind of data: varied, constant, or with no data in one cell."""
    import numpy as np
    import pandas as pd

    from analysis.stats import DEFAULT_ARMS, VISITS

    rng = np.random.default_rng(7)
    rows = []
    for n in range(12):
        arm = DEFAULT_ARMS[n % 2]
        for visit in VISITS:
            if case == "empty cell" and arm == DEFAULT_ARMS[1] and visit == "m6":
                continue
            value = 5.0 if case == "constant" else float(rng.normal(10 + VISITS.index(visit), 3))
            rows.append({"study_id": f"MLT-{n:03d}", "arm": arm, "visit": visit, "x": value})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("population", ["completers", "available"])
@pytest.mark.parametrize("case", ["varied", "constant", "empty cell"])
def test_method_notes_of_the_statistics_read_in_chinese(case, population):
    """The DSMB page shows each analysis's method note, which analysis.stats writes in
    English; every clause it can write must have its Chinese (analysis_tags.method_note)."""
    from django.utils import translation

    from analysis.stats import outcome_analysis
    from analysis.templatetags.analysis_tags import method_note

    note = outcome_analysis(_outcomes(case), "x", population=population)["anova"]["method"]
    with translation.override("zh-hans"):
        shown = method_note(note)
    assert english_runs(shown, allowed=[], arms_allowed=True) == [], shown
