"""The guided tour: walk the demo as each role in Chromium and save screenshots.

Run with ``make screenshots``. It builds a fresh demo database in a temporary
folder, serves it on a loopback port, and saves PNGs into docs/screenshots/en
and docs/screenshots/zh-hans.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "demo-password-2019"  # noqa: S105 - the public demo password
PORT = int(os.environ.get("SCREENSHOT_PORT", "8765"))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def manage(env, *args) -> str:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback only
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not start at {url}")


TOTP_STEP = 30  # seconds; django-otp's default
used_steps: dict[str, int] = {}  # the last TOTP step used per user, across both tours


def tour(page, base: str, env, language: str) -> None:
    folder = OUT / language
    folder.mkdir(parents=True, exist_ok=True)
    shots = []

    def shot(name: str) -> None:
        stopped_at = "/accounts/2fa/" if not name.endswith("two-factor") else "/accounts/login/"
        if "/accounts/login/" in page.url or stopped_at in page.url:
            # A lost session or a failed second factor would otherwise be saved as a
            # picture of the log-in or code page.
            raise RuntimeError(f"{name}: the tour was stopped at {page.url}")
        path = folder / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    def login(username: str) -> None:
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():  # page.url is read next: wait for where it lands
            page.click("button[type=submit]")
        if "/accounts/2fa/" in page.url:
            shot(f"{username}-two-factor")
            # A TOTP code is accepted once: the second tour waits for a fresh one.
            step = int(time.time() // TOTP_STEP)
            if step <= used_steps.get(username, -1):
                time.sleep(TOTP_STEP * (step + 1) - time.time() + 0.5)
            used_steps[username] = int(time.time() // TOTP_STEP)
            page.fill("#token", manage(env, "totp_code", username))
            # The form's own button: the first submit button on the page is log-out's.
            # Wait for the answer, or the next goto would cut the POST short.
            with page.expect_navigation():
                page.click("form:has(#token) button[type=submit]")
        page.wait_for_load_state()

    login("nurse")
    shot("nurse-home")
    page.goto(f"{base}/screening/new/")
    shot("nurse-screening-form")
    page.goto(f"{base}/screening/")
    shot("nurse-screening-log")
    page.goto(f"{base}/participants/MLT-002/")
    shot("nurse-participant")
    page.goto(f"{base}/participants/MLT-040/randomize/")
    shot("nurse-randomize")
    page.goto(f"{base}/participants/MLT-002/questionnaires/baseline/psqi/enter/")
    shot("nurse-psqi-form")
    page.goto(f"{base}/followup/worklist/")
    shot("nurse-worklist")

    login("assessor")
    page.goto(f"{base}/followup/calls/")
    shot("assessor-call-list")
    link = page.locator("[data-testid=visit-list] a").first
    if link.count():
        link.click()
        page.wait_for_load_state()
        shot("assessor-call-page")
        tics = page.locator("[data-testid=script] a[href*='/tics/']")
        if tics.count():
            tics.first.click()
            page.wait_for_load_state()
            shot("assessor-tics-form")

    login("investigator")
    page.goto(f"{base}/alerts/")
    shot("investigator-safety-alerts")
    page.goto(f"{base}/followup/sae/")
    shot("investigator-sae-review")

    login("statistician")
    page.goto(f"{base}/randomization/lists/")
    shot("statistician-lists")
    page.goto(f"{base}/randomization/lists/1/")
    shot("statistician-list-detail")

    login("dsmb")
    page.goto(f"{base}/dsmb/")
    shot("dsmb-dashboard")

    login("datamanager")
    page.goto(f"{base}/audit/")
    shot("datamanager-audit-trail")
    page.goto(f"{base}/exports/")
    shot("datamanager-exports")
    print(f"{language}: {len(shots)} screenshots in {folder}")


def main() -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from trial.checks import chinese_font_available

    if chinese_font_available() is not True:
        # Without one the zh-hans screenshots show empty boxes instead of Chinese.
        sys.exit("No Chinese font found (fc-list :lang=zh): apt-get install fonts-noto-cjk")

    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/tour.sqlite3",
            "REDIS_URL": "",
            "DJANGO_DEBUG": "true",
        }
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--password", PASSWORD)
        server = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "runserver",
                "--noreload",
                f"127.0.0.1:{PORT}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{PORT}"
        try:
            wait_for(f"{base}/healthz")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for language in ("en", "zh-hans"):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    tour(page, base, env, language)
                    page.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
