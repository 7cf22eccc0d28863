"""docker-compose.yml and .env.example: no published secret, and the stack refuses to
start without the deployment's own.

The compose tests need ``docker compose`` or Debian's ``docker-compose`` (``config``
needs no Docker engine); CI installs one, so there they fail rather than skip.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import environ
import pytest
from django.conf import settings

from conftest import require_component

BASE = Path(settings.BASE_DIR)
COMPOSE_FILE = BASE / "docker-compose.yml"
ENV_EXAMPLE = BASE / ".env.example"
# Without these the stack must not start: no fallback in docker-compose.yml.
REQUIRED = {
    "DJANGO_SECRET_KEY": "a-deployment-secret-key-" + "k" * 40,
    "DJANGO_ALLOWED_HOSTS": "trial.example.org",
    "POSTGRES_PASSWORD": "a-deployment-database-password",
    "RANDOMIZATION_KEYS": "a-deployment-randomization-key",
    "AUDIT_KEYS": "a-deployment-audit-key",
}


def _example_values() -> dict[str, str]:
    """.env.example as django-environ reads a .env copied from it."""

    class Reader(environ.Env):
        ENVIRON = {}

    Reader.read_env(ENV_EXAMPLE)
    return dict(Reader.ENVIRON)


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        plugin = subprocess.run(  # noqa: S603 - the docker binary, fixed arguments
            [docker, "compose", "version"], capture_output=True, check=False
        )
        if plugin.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.fixture
def compose(tmp_path):
    """Run ``compose config`` on the repository's file with a .env in an empty folder.

    Only the .env given counts: no variable of this process, nor a developer's own
    .env beside the file, reaches compose."""
    command = _compose_command()
    require_component(command is not None, "docker compose or docker-compose")

    def run(env_file: str | None) -> subprocess.CompletedProcess:
        if env_file is not None:
            (tmp_path / ".env").write_text(env_file)
        return subprocess.run(  # noqa: S603 - compose, arguments from this test
            [
                *command,
                "-f",
                str(COMPOSE_FILE),
                "--project-directory",
                str(tmp_path),
                "config",
            ],
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def _env_file(**values: str) -> str:
    """.env.example with the given variables set (comments and the rest kept)."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.partition("=")[0]
        if name in values and not line.startswith("#"):
            line = f"{name}={values[name]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_compose_validates_with_a_complete_env_file(compose):
    result = compose(_env_file(**REQUIRED))
    assert result.returncode == 0, result.stderr
    config = result.stdout
    for name, value in REQUIRED.items():
        assert value in config, name
    assert f"postgres://trial:{REQUIRED['POSTGRES_PASSWORD']}@postgres:5432/trial" in config
    for published in ("set-a-long-random-secret-key", "change-me"):
        assert published not in config
    # The site listens on loopback only, for the TLS proxy on the same host.
    assert "127.0.0.1:8000:8000" in config or re.search(r"host_ip: 127\.0\.0\.1", config)
    assert "0.0.0.0:8000:8000" not in config and "host_ip: 0.0.0.0" not in config


def test_compose_refuses_to_start_without_an_env_file(compose):
    result = compose(None)
    assert result.returncode != 0
    assert any(name in result.stderr for name in REQUIRED), result.stderr


def test_compose_refuses_to_start_with_env_example_as_it_is(compose):
    result = compose(ENV_EXAMPLE.read_text())
    assert result.returncode != 0
    assert any(f"set {name} in .env" in result.stderr for name in REQUIRED), result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_compose_names_each_missing_variable(compose, missing):
    values = {name: value for name, value in REQUIRED.items() if name != missing}
    result = compose(_env_file(**values, **{missing: ""}))
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr, result.stderr


def test_env_example_publishes_no_secret_and_has_no_comment_in_a_value():
    values = _example_values()
    for name in REQUIRED:
        assert values[name] == "", f"{name} must be left empty in .env.example"
    assert "change-me" not in ENV_EXAMPLE.read_text()
    assert "set-a-long-random-secret-key" not in ENV_EXAMPLE.read_text()
    # django-environ (and docker compose v1) keep a comment after a value as part of it.
    assert {name: value for name, value in values.items() if "#" in value} == {}


def test_the_image_pg_dump_matches_the_compose_server():
    # pg_dump refuses a server of a newer major version: manage.py backup in the stack
    # needs the image's client and the compose server to be the same major version.
    client = re.search(r"postgresql-client-(\d+)", (BASE / "Dockerfile").read_text())
    server = re.search(r"image: postgres:(\d+)", COMPOSE_FILE.read_text())
    assert client and server
    assert client.group(1) == server.group(1)
