"""The blinding crawl: as each blinded role, follow every link from the home page and
check that no response changes when the participants' arms are swapped.

If any page, download, count or ordering depended on the arm, swapping every
allocated slot's arm (and nothing else) would change some response.
"""

import re
from urllib.parse import urljoin, urlparse

import pytest
from django.test import Client

from randomization.crypto import seal, unseal
from randomization.models import Slot
from trial.demo import seed_demo

pytestmark = pytest.mark.django_db

BLINDED = ["nurse", "assessor", "investigator", "datamanager"]
SKIP = ("/static/", "/accounts/logout", "/admin/", "/i18n/")
# Downloads that write an audit line when fetched: the second crawl would see the
# first crawl's lines in the audit trail, which has nothing to do with the arm.
AUDITED_DOWNLOADS = ("/audit/export.csv", "format=csv", "/download/")


def _normalise(body: str) -> str:
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    body = re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", "«now»", body)  # datetime-local defaults
    return body


def crawl(client: Client, limit: int = 400) -> dict[str, tuple[int, str]]:
    seen, queue, pages = set(), ["/"], {}
    while queue and len(pages) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        content_type = response.get("Content-Type", "")
        body = response.content.decode(errors="replace") if response.status_code == 200 else ""
        pages[url] = (response.status_code, _normalise(body))
        if "text/html" not in content_type:
            continue
        for href in sorted(set(re.findall(r'href="([^"#]+)"', body))):
            target = urlparse(urljoin(url, href.replace("&amp;", "&")))
            link = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc or target.path.startswith(SKIP):
                continue
            if any(marker in link for marker in AUDITED_DOWNLOADS):
                continue
            queue.append(link)
    return pages


def swap_arms() -> int:
    swapped = 0
    for slot in Slot.objects.filter(allocation__isnull=False):
        content = unseal(slot.arm_token)
        content["arm"] = "PLACEBO" if content["arm"] == "MLT" else "MLT"
        slot.arm_token = seal(content)
        slot.save(update_fields=["arm_token"])
        swapped += 1
    return swapped


@pytest.mark.parametrize("username", BLINDED)
def test_no_blinded_response_depends_on_the_arm(username, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(password="demo-password-for-tests-1", participants=10)
    client = Client()
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username=username))
    before = crawl(client)
    assert len(before) > 10, sorted(before)  # the crawl really went somewhere
    assert swap_arms() > 0
    after = crawl(client)
    assert sorted(before) == sorted(after)
    for url in before:
        if before[url] != after[url]:
            import difflib

            diff = "\n".join(
                difflib.unified_diff(
                    before[url][1].splitlines(), after[url][1].splitlines(), lineterm="", n=1
                )
            )
            pytest.fail(f"{username}: {url} changed when the arms were swapped:\n{diff[:3000]}")
    for url, (status, _body) in before.items():
        assert status in (200, 302, 403, 404), (url, status)
