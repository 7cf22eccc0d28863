"""Keys that live outside the database: where they come from, and their ids.

Two secrets protect what a database dump must not reveal or let anyone forge:
``RANDOMIZATION_KEYS`` (Fernet keys that encrypt arms, seeds and arm-bearing
files) and ``AUDIT_KEYS`` (HMAC keys that seal each audit line and the chain
head). Each setting is a list: the first key writes, every key reads, so keys
can be rotated. Production must set both (the site refuses to start without
them, see ``trial.settings``); the embedded local default makes a key file
beside the project on first use, never committed. Pure infrastructure: no
trial logic here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def configured_keys(*, setting: str, local_file: str, new_key) -> list[str]:
    """The keys of ``setting``; in local development (DEBUG) a key file made once.

    ``new_key`` makes the local key when the file does not exist yet.
    """
    keys = [key.strip() for key in getattr(settings, setting) if key.strip()]
    if keys:
        return keys
    if not settings.DEBUG:
        raise ImproperlyConfigured(f"{setting} must be set when DEBUG is false.")
    path = Path(settings.BASE_DIR) / local_file
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key())
    return [path.read_text().strip()]


def key_id(key: str) -> str:
    """A short public name for a key (which key sealed a line), revealing nothing of it."""
    return hashlib.sha256(b"key-id:" + key.encode()).hexdigest()[:12]
