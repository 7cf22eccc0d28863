"""With DEBUG off the site refuses to start on unsafe settings; the embedded default
(an empty environment) still starts.

Each case starts Django in a fresh interpreter with only the variables it names,
so neither this process's environment nor a developer's .env has a say.
"""

import json
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.conf import settings

ENV_EXAMPLE = Path(settings.BASE_DIR) / ".env.example"
RANDOMIZATION_KEY = "kZm3R2mQ3yq1mZ8b2f2m2yQ3b9k2r8r0m6t5w4u3v2s="
SAFE = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "Vq3n8dPz-0xLr7tKc2WmYh5sBf9JuAe4GiQo6Nl1RjTyXkZpDw",
    "DJANGO_ALLOWED_HOSTS": "trial.example.org",
    "RANDOMIZATION_KEYS": RANDOMIZATION_KEY,
    "AUDIT_KEYS": "an-audit-key-of-its-own-0123456789abcdef",
}
# Start Django as the site does; report what it made of the environment. The .env
# beside the project is not read: this test gives the whole environment itself.
START = """
import json, environ
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
import django
django.setup()
from django.conf import settings
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "secret_key": settings.SECRET_KEY,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "anchor_dir": settings.AUDIT_ANCHOR_DIR,
}))
"""

NOT_SET = "DJANGO_SECRET_KEY is not set"
PUBLISHED = "DJANGO_SECRET_KEY is a published example or the local development key"
SHORT = "DJANGO_SECRET_KEY is shorter than 50 characters"
REPETITIVE = "DJANGO_SECRET_KEY repeats too few characters"
NO_RANDOMIZATION_KEYS = "RANDOMIZATION_KEYS is not set"
NO_AUDIT_KEYS = "AUDIT_KEYS is not set"
SHARED = "AUDIT_KEYS shares a key with RANDOMIZATION_KEYS"
ALL_MESSAGES = [NOT_SET, PUBLISHED, SHORT, REPETITIVE, NO_RANDOMIZATION_KEYS, NO_AUDIT_KEYS, SHARED]


def start(variables: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", START],
        cwd=settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "trial.settings", "PATH": "/usr/bin:/bin", **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in SAFE.items() if key != name}


UNSAFE = {
    "secret key missing": (without("DJANGO_SECRET_KEY"), NOT_SET),
    "secret key empty": ({**SAFE, "DJANGO_SECRET_KEY": ""}, NOT_SET),
    "the local default": (
        {**SAFE, "DJANGO_SECRET_KEY": "local-development-only-not-secret-" + "x" * 32},
        PUBLISHED,
    ),
    "a local-development-only key": (
        {**SAFE, "DJANGO_SECRET_KEY": "local-development-only-" + "Vq3n8dPz0xLr7tKc2WmY" * 3},
        PUBLISHED,
    ),
    "compose's old fallback": (
        {**SAFE, "DJANGO_SECRET_KEY": "set-a-long-random-secret-key"},
        PUBLISHED,
    ),
    "change-me": ({**SAFE, "DJANGO_SECRET_KEY": "change-me"}, PUBLISHED),
    "49 characters": ({**SAFE, "DJANGO_SECRET_KEY": SAFE["DJANGO_SECRET_KEY"][:49]}, SHORT),
    "four characters repeated": ({**SAFE, "DJANGO_SECRET_KEY": "abcd" * 20}, REPETITIVE),
    "randomization keys missing": (without("RANDOMIZATION_KEYS"), NO_RANDOMIZATION_KEYS),
    "randomization keys blank": ({**SAFE, "RANDOMIZATION_KEYS": " , "}, NO_RANDOMIZATION_KEYS),
    "audit keys missing": (without("AUDIT_KEYS"), NO_AUDIT_KEYS),
    "audit keys empty": ({**SAFE, "AUDIT_KEYS": ""}, NO_AUDIT_KEYS),
    "audit key = randomization key": ({**SAFE, "AUDIT_KEYS": RANDOMIZATION_KEY}, SHARED),
    "one audit key of two shared": (
        {**SAFE, "AUDIT_KEYS": f"another-audit-key-0123456789, {RANDOMIZATION_KEY}"},
        SHARED,
    ),
}


@pytest.mark.parametrize(("variables", "message"), UNSAFE.values(), ids=UNSAFE.keys())
def test_production_refuses_to_start_on_unsafe_settings(variables, message):
    result = start(variables)
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr, result.stderr
    assert message in result.stderr
    # Only the problem of this case is reported, each with what to do about it.
    assert [m for m in ALL_MESSAGES if m in result.stderr] == [message]
    assert "Set it to" in result.stderr or "Give AUDIT_KEYS" in result.stderr


def test_every_problem_is_reported_at_once():
    result = start({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    for message in (NOT_SET, NO_RANDOMIZATION_KEYS, NO_AUDIT_KEYS):
        assert message in result.stderr
    assert "manage.py randomization_key" in result.stderr
    assert "manage.py audit_key" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


def test_a_safe_production_environment_starts():
    result = start(SAFE)
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout)
    assert started["debug"] is False
    assert started["secret_key"] == SAFE["DJANGO_SECRET_KEY"]


def test_the_embedded_default_still_starts():
    result = start({})
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout)
    assert started["debug"] is True
    assert started["engine"] == "django.db.backends.sqlite3"
    assert started["secret_key"].startswith("local-development-only")
    assert started["eager"] is True


def test_a_copy_of_env_example_gives_the_embedded_default():
    # README: `cp .env.example .env`. Every value it sets must read as meant.
    class Reader(environ.Env):
        ENVIRON = {}

    Reader.read_env(ENV_EXAMPLE)
    result = start(dict(Reader.ENVIRON))
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout)
    assert started["debug"] is True
    assert started["engine"] == "django.db.backends.sqlite3"
    assert started["secret_key"].startswith("local-development-only")
    assert started["eager"] is True
    assert started["anchor_dir"].endswith("audit-anchors")


def test_audit_key_prints_a_new_key_each_time():
    from io import StringIO

    from django.core.management import call_command

    keys = []
    for _ in range(2):
        out = StringIO()
        call_command("audit_key", stdout=out)
        keys.append(out.getvalue().strip())
    assert keys[0] != keys[1]
    assert all(len(key) >= 43 and key.isascii() and " " not in key for key in keys)
