"""Backups and their verification.

``backup`` writes a database copy (pg_dump for PostgreSQL, an online copy for
SQLite) and a manifest beside it: the row count of every table and the
latest audit lines' hashes at that moment. ``restore --verify`` restores the
copy into a scratch database and compares it with the manifest, so a backup
is known to be restorable before it is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump and pg_restore are the right tools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.utils import timezone

AUDIT_TAIL = 20


def _tables() -> list[str]:
    return sorted(connection.introspection.table_names())


def _counts(execute, tables: list[str]) -> dict[str, int]:
    return {table: execute(f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in tables}  # noqa: S608


def _audit_tail(execute) -> list[str]:
    rows = execute(
        f"SELECT entry_hash FROM trial_auditevent ORDER BY id DESC LIMIT {AUDIT_TAIL}"  # noqa: S608
    )
    return [row[0] for row in rows]


def _live_execute(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def manifest() -> dict:
    tables = _tables()
    return {
        "created_at": timezone.now().isoformat(),
        "vendor": connection.vendor,
        "counts": _counts(_live_execute, tables),
        "audit_tail": _audit_tail(_live_execute),
    }


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (PostgreSQL client tools are needed)")
    return path


def _pg_env(settings_dict: dict) -> dict:
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    return env


def _pg_args(settings_dict: dict, database: str) -> list[str]:
    args = ["-d", database]
    if settings_dict.get("HOST"):
        args += ["-h", settings_dict["HOST"]]
    if settings_dict.get("PORT"):
        args += ["-p", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["-U", settings_dict["USER"]]
    return args


def backup(path: Path) -> Path:
    """Write the copy to ``path`` and its manifest to ``path`` + ``.manifest.json``."""
    settings_dict = connection.settings_dict
    path.parent.mkdir(parents=True, exist_ok=True)
    # The manifest and the copy must describe the same moment: on PostgreSQL
    # pg_dump takes its own snapshot, so the manifest is taken just before and
    # the verification tolerates rows appended in between only if counts match.
    info = manifest()
    if connection.vendor == "postgresql":
        subprocess.run(  # noqa: S603 - fixed program, arguments from settings
            [
                _tool("pg_dump"),
                "-Fc",
                "-f",
                str(path),
                *_pg_args(settings_dict, settings_dict["NAME"]),
            ],
            check=True,
            env=_pg_env(settings_dict),
        )
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(path)
        with target:
            connection.connection.backup(target)
        target.close()
    else:
        raise RuntimeError(f"No backup method for {connection.vendor}")
    Path(f"{path}.manifest.json").write_text(json.dumps(info, indent=1))
    return path


@dataclass(frozen=True)
class Verification:
    ok: bool
    differences: list[str]
    tables: int


def verify(path: Path) -> Verification:
    """Restore ``path`` into a scratch database and compare it with its manifest."""
    info = json.loads(Path(f"{path}.manifest.json").read_text())
    if connection.vendor == "postgresql":
        restored_counts, restored_tail = _verify_postgres(path, list(info["counts"]))
    else:
        restored_counts, restored_tail = _verify_sqlite(path, list(info["counts"]))
    differences = [
        f"{table}: {info['counts'][table]} rows at backup, {restored_counts.get(table)} restored"
        for table in info["counts"]
        if restored_counts.get(table) != info["counts"][table]
    ]
    if restored_tail != info["audit_tail"]:
        differences.append("the latest audit lines differ from those at backup time")
    return Verification(ok=not differences, differences=differences, tables=len(info["counts"]))


def _verify_sqlite(path: Path, tables: list[str]):
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "scratch.sqlite3"
        shutil.copyfile(path, scratch)
        db = sqlite3.connect(scratch)
        try:

            def execute(sql):
                return db.execute(sql).fetchall()

            return _counts(execute, tables), _audit_tail(execute)
        finally:
            db.close()


def _verify_postgres(path: Path, tables: list[str]):
    import psycopg

    settings_dict = connection.settings_dict
    scratch = f"{settings_dict['NAME']}_restore_check_{timezone.now():%Y%m%d%H%M%S}"
    admin_kwargs = {
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin_kwargs) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(  # noqa: S603
            [_tool("pg_restore"), "--no-owner", *_pg_args(settings_dict, scratch), str(path)],
            check=True,
            env=_pg_env(settings_dict),
        )
        with psycopg.connect(**{**admin_kwargs, "dbname": scratch}) as db:

            def execute(sql):
                return db.execute(sql).fetchall()

            return _counts(execute, tables), _audit_tail(execute)
    finally:
        with psycopg.connect(**admin_kwargs) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
