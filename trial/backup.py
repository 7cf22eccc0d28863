"""Backups and their verification: an operations service over the whole database.

``backup`` writes a database copy (pg_dump for PostgreSQL, an online copy for
SQLite) and a manifest beside it, both from one snapshot: every table's row
count and a SHA-256 of its contents, and the latest audit lines' hashes.
``restore --verify`` restores the copy into a scratch database, computes the
same figures there in the same way and compares them with the manifest, so a
backup is known to be restorable, and to hold what was backed up, before it is
needed. Both files hold the whole clinical database: only their owner may read
them. Nothing here decides anything clinical.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump and pg_restore are the right tools
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.db import connection
from django.utils import timezone

# Format 1 manifests (the first backups) hold row counts and the audit tail;
# format 2 adds a content hash per table. Bump it whenever the way a content
# hash is computed changes: an old hash cannot be compared with a new one.
MANIFEST_FORMAT = 2
AUDIT_TAIL = 20
ROWS_PER_FETCH = 2000
PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700

NOT_CHECKED_FORMAT_1 = (
    "Contents were not checked: this manifest (format 1) records row counts only."
)

# A row's text form depends on these session settings (a timestamp with time
# zone prints in the session's zone): the backup and the verification pin them
# so the same row always hashes the same.
_PG_SESSION_FOR_HASHING = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, MDY'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)


class BackupError(Exception):
    """A backup could not be written, read or restored (the message says why)."""


def manifest_path(path: Path) -> Path:
    return Path(f"{path}.manifest.json")


# --- what a snapshot holds ----------------------------------------------------------------


class _SnapshotReader(Protocol):
    """One consistent view of a database: the live snapshot or a restored copy."""

    def tables(self) -> list[str]: ...

    def count(self, table: str) -> int: ...

    def rows(self, table: str) -> Iterable[bytes]:
        """Every row as bytes, in an order that does not depend on where it was restored."""
        ...

    def audit_tail(self) -> list[str]: ...


@dataclass(frozen=True)
class Snapshot:
    counts: dict[str, int]
    contents: dict[str, str] = field(default_factory=dict)
    audit_tail: list[str] = field(default_factory=list)


def _content_sha256(rows: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        # Length-prefixed, so no two different tables of rows hash alike by
        # moving bytes across a row boundary.
        digest.update(len(row).to_bytes(8, "big"))
        digest.update(row)
    return digest.hexdigest()


def _describe(reader: _SnapshotReader, *, contents: bool) -> Snapshot:
    tables = reader.tables()
    return Snapshot(
        counts={table: reader.count(table) for table in tables},
        contents=(
            {table: _content_sha256(reader.rows(table)) for table in tables} if contents else {}
        ),
        audit_tail=reader.audit_tail() if "trial_auditevent" in tables else [],
    )


class _PostgresReader:
    """Reads inside the caller's open transaction (its snapshot)."""

    def __init__(self, db) -> None:
        self.db = db

    def tables(self) -> list[str]:
        rows = self.db.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND pg_catalog.pg_table_is_visible(c.oid)"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY 1"
        ).fetchall()
        return [row[0] for row in rows]

    def count(self, table: str) -> int:
        from psycopg import sql

        query = sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))
        return self.db.execute(query).fetchone()[0]

    def rows(self, table: str) -> Iterator[bytes]:
        from psycopg import sql

        # ROW(alias.*) rather than the bare alias: a column named like the alias
        # would win. The C collation makes the order bytewise, whatever the
        # database's own collation.
        query = sql.SQL(
            'SELECT ROW(snapshot_row.*)::text COLLATE "C" FROM {} AS snapshot_row ORDER BY 1'
        ).format(sql.Identifier(table))
        # A server-side cursor: memory stays flat however long the table.
        with self.db.cursor(name="backup_rows") as cursor:
            cursor.itersize = ROWS_PER_FETCH
            cursor.execute(query)
            for (text,) in cursor:
                yield text.encode()

    def audit_tail(self) -> list[str]:
        rows = self.db.execute(
            "SELECT entry_hash FROM trial_auditevent ORDER BY id DESC LIMIT %s", [AUDIT_TAIL]
        ).fetchall()
        return [row[0] for row in rows]


class _SqliteReader:
    """Reads one SQLite file that nothing else writes to (a copy)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        # Bytes exactly as stored, even when they are not valid UTF-8.
        self.db.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")

    def tables(self) -> list[str]:
        rows = self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        ).fetchall()
        return [row[0] for row in rows]

    def count(self, table: str) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM {_sqlite_name(table)}").fetchone()[0]  # noqa: S608

    def rows(self, table: str) -> Iterator[bytes]:
        name = _sqlite_name(table)
        try:
            self.db.execute(f"SELECT rowid FROM {name} LIMIT 0")  # noqa: S608
            order = "rowid"
        except sqlite3.OperationalError:
            # WITHOUT ROWID tables: all columns give one total order.
            width = len(self.db.execute(f"SELECT * FROM {name} LIMIT 0").description)  # noqa: S608
            order = ", ".join(str(position) for position in range(1, width + 1))
        # The cursor steps through the table: one row in memory at a time.
        for row in self.db.execute(f"SELECT * FROM {name} ORDER BY {order}"):  # noqa: S608
            yield b"".join(_sqlite_value(value) for value in row)

    def audit_tail(self) -> list[str]:
        rows = self.db.execute(
            "SELECT entry_hash FROM trial_auditevent ORDER BY id DESC LIMIT ?", [AUDIT_TAIL]
        ).fetchall()
        return [row[0] for row in rows]


def _sqlite_name(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def _sqlite_value(value: Any) -> bytes:
    """One stored value, tagged with its storage class so 1, 1.0, '1' and NULL differ."""
    if value is None:
        tag, payload = b"N", b""
    elif isinstance(value, int):
        tag, payload = b"I", str(value).encode()
    elif isinstance(value, float):
        tag, payload = b"R", value.hex().encode()
    elif isinstance(value, str):
        tag, payload = b"T", value.encode("utf-8", "surrogateescape")
    else:
        tag, payload = b"B", bytes(value)
    return tag + len(payload).to_bytes(8, "big") + payload


# --- PostgreSQL connections and tools -----------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools are needed)")
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


def _pg_run(args: list[str], *, stdout=None) -> None:
    settings_dict = connection.settings_dict
    result = subprocess.run(  # noqa: S603 - fixed programs, arguments from settings
        args,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_pg_env(settings_dict),
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise BackupError(f"{Path(args[0]).name} failed: {message}")


def _pg_connect(database: str, *, for_hashing: bool = False):
    import psycopg

    settings_dict = connection.settings_dict
    # Autocommit, so that the transaction below is begun explicitly and with
    # exactly the isolation it needs.
    db = psycopg.connect(
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        dbname=database,
        autocommit=True,
    )
    if for_hashing:
        for statement in _PG_SESSION_FOR_HASHING:
            db.execute(statement)
    return db


@contextmanager
def _pg_snapshot(database: str) -> Iterator[Any]:
    """A connection inside one read-only transaction: every read sees one snapshot."""
    with _pg_connect(database, for_hashing=True) as db:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield db
        finally:
            db.execute("ROLLBACK")


# --- private files ------------------------------------------------------------------------


def _private_directory(folder: Path) -> None:
    """Create ``folder`` and its missing parents readable by their owner only."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIRECTORY)
        except FileExistsError:
            continue  # made by someone else a moment ago: not ours to change
        # The umask can take bits away from mkdir's mode (even the owner's write
        # bit); set it exactly.
        os.chmod(directory, PRIVATE_DIRECTORY)


def _private_partial(final: Path) -> Path:
    """A new empty file beside ``final``, 0600 from its creation whatever the umask."""
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial")
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return Path(name)


# --- backup -------------------------------------------------------------------------------


def backup(*, path: Path) -> Path:
    """Write the copy to ``path`` and its manifest to ``path`` + ``.manifest.json``.

    Both are written under temporary names and moved into place only when
    complete, so a failed backup never leaves a partial copy, nor replaces a
    good one, under the name an operator will restore from.
    """
    vendor = connection.vendor
    if vendor not in {"postgresql", "sqlite"}:
        raise BackupError(f"No backup method for {vendor}")
    _private_directory(path.parent)
    partial_copy = _private_partial(path)
    partial_manifest = None
    try:
        if vendor == "postgresql":
            snapshot, taken_at = _dump_postgres(partial_copy)
        else:
            snapshot, taken_at = _copy_sqlite(partial_copy)
        document = {
            "format": MANIFEST_FORMAT,
            "created_at": taken_at,
            "vendor": vendor,
            "counts": snapshot.counts,
            "contents": snapshot.contents,
            "audit_tail": snapshot.audit_tail,
        }
        partial_manifest = _private_partial(manifest_path(path))
        partial_manifest.write_text(json.dumps(document, indent=1))
        os.replace(partial_copy, path)
        os.replace(partial_manifest, manifest_path(path))
    except BaseException:
        partial_copy.unlink(missing_ok=True)
        if partial_manifest is not None:
            partial_manifest.unlink(missing_ok=True)
        raise
    return path


def _dump_postgres(target: Path) -> tuple[Snapshot, str]:
    """pg_dump and the manifest from one exported snapshot.

    pg_dump imports the snapshot, so it must start while the exporting
    transaction is still open; rows committed meanwhile are in neither.
    """
    settings_dict = connection.settings_dict
    with _pg_snapshot(settings_dict["NAME"]) as db:
        snapshot_id, taken_at = db.execute("SELECT pg_export_snapshot(), now()").fetchone()
        snapshot = _describe(_PostgresReader(db), contents=True)
        with target.open("wb") as handle:
            _pg_run(
                [
                    _tool("pg_dump"),
                    "-Fc",
                    f"--snapshot={snapshot_id}",
                    *_pg_args(settings_dict, settings_dict["NAME"]),
                ],
                stdout=handle,
            )
    return snapshot, taken_at.isoformat()


def _copy_sqlite(target: Path) -> tuple[Snapshot, str]:
    """The online copy first, then the manifest from the copy: one snapshot by construction."""
    connection.ensure_connection()
    taken_at = timezone.now().isoformat()
    copy = sqlite3.connect(target)
    try:
        with copy:
            connection.connection.backup(copy)
        # A copy of a WAL database would need its -wal file beside it; one
        # self-contained file is what gets restored.
        copy.execute("PRAGMA journal_mode = DELETE")
        snapshot = _describe(_SqliteReader(copy), contents=True)
    finally:
        copy.close()
    return snapshot, taken_at


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    ok: bool
    differences: list[str]
    tables: int
    contents_checked: bool
    notes: list[str]


def _read_manifest(path: Path) -> dict:
    try:
        info = json.loads(manifest_path(path).read_text())
    except FileNotFoundError:
        raise BackupError(f"No manifest beside the backup: {manifest_path(path)}") from None
    except json.JSONDecodeError as error:
        raise BackupError(f"The manifest cannot be read: {error}") from None
    version = info.get("format", 1)
    if version > MANIFEST_FORMAT:
        raise BackupError(
            f"The manifest has format {version}; this version reads up to {MANIFEST_FORMAT}."
        )
    return info


def verify(*, path: Path) -> Verification:
    """Restore ``path`` into a scratch database and compare it with its manifest.

    The live database is never written to; the scratch copy is dropped
    afterwards, whether the restore worked or not.
    """
    info = _read_manifest(path)
    contents_checked = info.get("format", 1) >= 2
    vendor = info.get("vendor", connection.vendor)
    if vendor == "postgresql":
        if connection.vendor != "postgresql":
            raise BackupError("A PostgreSQL backup is verified with PostgreSQL configured.")
        restored = _restore_postgres(path, contents=contents_checked)
    elif vendor == "sqlite":
        restored = _restore_sqlite(path, contents=contents_checked)
    else:
        raise BackupError(f"No restore method for {vendor}")
    differences = _differences(info, restored, contents_checked=contents_checked)
    return Verification(
        ok=not differences,
        differences=differences,
        tables=len(info["counts"]),
        contents_checked=contents_checked,
        notes=[] if contents_checked else [NOT_CHECKED_FORMAT_1],
    )


def _differences(info: dict, restored: Snapshot, *, contents_checked: bool) -> list[str]:
    differences = []
    expected_contents = info.get("contents", {})
    for table, expected in info["counts"].items():
        if table not in restored.counts:
            differences.append(f"{table}: in the manifest but missing from the restored copy")
        elif restored.counts[table] != expected:
            differences.append(
                f"{table}: {expected} rows at backup, {restored.counts[table]} restored"
            )
        elif contents_checked and restored.contents.get(table) != expected_contents.get(table):
            differences.append(f"{table}: contents differ from the backup's manifest")
    differences += [
        f"{table}: in the restored copy but not in the manifest"
        for table in restored.counts
        if table not in info["counts"]
    ]
    if restored.audit_tail != info["audit_tail"]:
        differences.append("the latest audit lines differ from those at backup time")
    return differences


def _restore_sqlite(path: Path, *, contents: bool) -> Snapshot:
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "scratch.sqlite3"
        shutil.copyfile(path, scratch)
        db = sqlite3.connect(scratch)
        try:
            return _describe(_SqliteReader(db), contents=contents)
        except sqlite3.DatabaseError as error:
            raise BackupError(f"The backup could not be restored: {error}") from None
        finally:
            db.close()


def _restore_postgres(path: Path, *, contents: bool) -> Snapshot:
    from psycopg import sql

    live = connection.settings_dict["NAME"]
    # Named after the live database (which it must never be) and unique, so two
    # verifications at once do not meet; identifiers stop at 63 bytes.
    scratch = f"{live[:30]}_verify_{timezone.now():%Y%m%d%H%M%S}_{secrets.token_hex(4)}"
    with _pg_connect("postgres") as admin:
        encoding, collate, ctype = admin.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype"
            " FROM pg_database WHERE datname = %s",
            [live],
        ).fetchone()
        # template0: nothing an administrator added to template1 can collide
        # with the restored objects; the live database's encoding, so every
        # stored character restores.
        admin.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}"
            ).format(
                sql.Identifier(scratch),
                sql.Literal(encoding),
                sql.Literal(collate),
                sql.Literal(ctype),
            )
        )
    try:
        try:
            _pg_run(
                [
                    _tool("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    *_pg_args(connection.settings_dict, scratch),
                    str(path),
                ]
            )
        except BackupError as error:
            raise BackupError(f"The backup could not be restored: {error}") from None
        with _pg_snapshot(scratch) as db:
            return _describe(_PostgresReader(db), contents=contents)
    finally:
        with _pg_connect("postgres") as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
