"""Backups restore into a scratch database and match what was backed up.

The manifest comes from the dump's own snapshot, so a backup taken while the
site is busy verifies; verification compares each table's contents as well as
its row count; the files are readable by their owner only.
"""

import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def require_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("edits the SQLite backup file itself")


def manifest_path(target: Path) -> Path:
    return Path(f"{target}.manifest.json")


def verify_output(target: Path) -> list[str]:
    out = io.StringIO()
    try:
        call_command("restore", str(target), "--verify", stdout=out)
    except CommandError as error:
        pytest.fail(f"{error} {out.getvalue()}")
    return out.getvalue().splitlines()


def failed_verify_output(target: Path) -> list[str]:
    out = io.StringIO()
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("restore", str(target), "--verify", stdout=out)
    return out.getvalue().splitlines()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    """A permissive umask, as on most servers: new files would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_backup_and_verified_restore(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    assert target.exists()
    manifest = json.loads((tmp_path / "trial.backup.manifest.json").read_text())
    assert manifest["counts"]["trial_participant"] == 1
    assert len(manifest["audit_tail"]) >= 3
    call_command("restore", str(target), "--verify")


def test_manifest_holds_a_content_hash_for_every_table(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    manifest = json.loads(manifest_path(target).read_text())
    assert manifest["format"] == 2
    assert manifest["vendor"] == connection.vendor
    assert set(manifest["contents"]) == set(manifest["counts"])
    assert "trial_participant" in manifest["counts"]
    assert all(len(digest) == 64 for digest in manifest["contents"].values())
    assert verify_output(target) == [
        f"Backup verified: {len(manifest['counts'])} tables restored with the same row "
        "counts, the same contents and the same latest audit lines."
    ]


def test_tampered_manifest_is_detected(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    path = tmp_path / "trial.backup.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["counts"]["trial_participant"] = 2
    path.write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="does not match"):
        call_command("restore", str(target), "--verify")


def test_a_changed_content_hash_in_the_manifest_names_the_table(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    path = manifest_path(target)
    manifest = json.loads(path.read_text())
    manifest["contents"]["trial_participant"] = "0" * 64
    path.write_text(json.dumps(manifest))
    assert failed_verify_output(target) == [
        "trial_participant: contents differ from the backup's manifest"
    ]


def test_sqlite_backup_with_changed_contents_and_same_counts_fails(
    require_sqlite, tmp_path, make_ready_participant
):
    make_ready_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    copy = sqlite3.connect(target)
    with copy:
        changed = copy.execute("UPDATE trial_baseline SET preop_vas_mm = preop_vas_mm + 1")
        assert changed.rowcount == 1
    copy.close()
    assert failed_verify_output(target) == [
        "trial_baseline: contents differ from the backup's manifest"
    ]


def _pg_command(program: str, database: str, *args: str) -> None:
    settings_dict = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
    subprocess.run(  # noqa: S603 - the PostgreSQL client tools, arguments from settings
        [
            shutil.which(program),
            "-h",
            settings_dict["HOST"],
            "-p",
            str(settings_dict["PORT"]),
            "-U",
            settings_dict["USER"],
            "-d",
            database,
            *args,
        ],
        check=True,
        env=env,
        capture_output=True,
    )


def _pg_admin():
    import psycopg

    settings_dict = connection.settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def _databases_named_after_the_live_one() -> set[str]:
    live = connection.settings_dict["NAME"]
    with _pg_admin() as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [f"{live}_"]
        ).fetchall()
    return {row[0] for row in rows}


def test_postgres_backup_with_changed_contents_and_same_counts_fails(
    require_postgres, tmp_path, make_ready_participant
):
    make_ready_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    # Change one value in a restored copy and dump that over the backup, keeping
    # the manifest: the live database still matches the manifest, the file does not.
    tampered = f"{connection.settings_dict['NAME']}_tamper"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{tampered}"')
    try:
        _pg_command("pg_restore", tampered, "--no-owner", str(target))
        _pg_command(
            "psql",
            tampered,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "UPDATE trial_baseline SET preop_vas_mm = preop_vas_mm + 1",
        )
        _pg_command("pg_dump", tampered, "-Fc", "-f", str(target))
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{tampered}" WITH (FORCE)')
    assert failed_verify_output(target) == [
        "trial_baseline: contents differ from the backup's manifest"
    ]


def test_postgres_backup_taken_while_rows_are_written_verifies(require_postgres, tmp_path):
    from trial.audit import audit_event
    from trial.models import AuditEvent

    already = AuditEvent.objects.count()
    stop = threading.Event()
    started = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def keep_writing():
        try:
            while not stop.is_set():
                audit_event(user=None, model="trial.Site", summary="busy site")
                written.append(1)
                if len(written) >= 5:
                    started.set()
        except BaseException as error:
            # Handed to the test's own thread, which fails on it.
            errors.append(error)
            started.set()
        finally:
            # This thread's own connection (``connection`` is per thread).
            connection.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert started.wait(timeout=30)
        before = len(written)
        target = tmp_path / "trial.backup"
        call_command("backup", "--output", str(target))
        during = len(written) - before
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not errors
    # The site really was busy while the backup ran.
    assert during > 0
    manifest = json.loads(manifest_path(target).read_text())
    # The snapshot lies between the backup's start and its end.
    assert already + before <= manifest["counts"]["trial_auditevent"] <= already + len(written)
    assert verify_output(target) == [
        f"Backup verified: {len(manifest['counts'])} tables restored with the same row "
        "counts, the same contents and the same latest audit lines."
    ]


def test_postgres_scratch_database_is_dropped_even_when_the_restore_fails(
    require_postgres, tmp_path, make_participant
):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    before = _databases_named_after_the_live_one()
    verify_output(target)
    assert _databases_named_after_the_live_one() == before
    target.write_bytes(b"PGDMP this is not a dump")
    with pytest.raises(CommandError, match="could not be restored"):
        call_command("restore", str(target), "--verify", stdout=io.StringIO())
    assert _databases_named_after_the_live_one() == before


def test_unreadable_backup_is_reported(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    target.write_bytes(b"this is not a database copy" * 100)
    with pytest.raises(CommandError, match="could not be restored"):
        call_command("restore", str(target), "--verify", stdout=io.StringIO())


def test_backup_files_and_new_directory_are_private(umask_022, tmp_path, settings):
    settings.BASE_DIR = tmp_path
    out = io.StringIO()
    call_command("backup", stdout=out)
    folder = tmp_path / "backups"
    [copy] = folder.glob("*.backup")
    assert out.getvalue().startswith(f"backup written: {copy}")
    assert mode(folder) == 0o700
    assert mode(copy) == 0o600
    assert mode(manifest_path(copy)) == 0o600
    assert sorted(path.name for path in folder.iterdir()) == [
        copy.name,
        manifest_path(copy).name,
    ]


def test_backup_over_existing_readable_files_makes_them_private(umask_022, tmp_path):
    nested = tmp_path / "new" / "nested"
    target = nested / "trial.backup"
    call_command("backup", "--output", str(target))
    assert mode(tmp_path / "new") == 0o700
    assert mode(nested) == 0o700
    os.chmod(target, 0o644)
    os.chmod(manifest_path(target), 0o644)
    call_command("backup", "--output", str(target))
    assert mode(target) == 0o600
    assert mode(manifest_path(target)) == 0o600


def _as_format_1(manifest: dict) -> dict:
    """What the first backups wrote: row counts and the audit tail, no hashes."""
    return {key: manifest[key] for key in ("created_at", "vendor", "counts", "audit_tail")}


def test_old_manifest_without_hashes_verifies_on_counts(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    path = manifest_path(target)
    old = _as_format_1(json.loads(path.read_text()))
    path.write_text(json.dumps(old))
    assert verify_output(target) == [
        "Contents were not checked: this manifest (format 1) records row counts only.",
        f"Backup verified: {len(old['counts'])} tables restored with the same row counts "
        "and the same latest audit lines.",
    ]
    old["counts"]["trial_participant"] = 2
    path.write_text(json.dumps(old))
    assert failed_verify_output(target) == [
        "Contents were not checked: this manifest (format 1) records row counts only.",
        "trial_participant: 2 rows at backup, 1 restored",
    ]
