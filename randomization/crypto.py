"""Encryption of arms at rest, with keys that live outside the database.

A database dump alone reveals no allocation: each slot's arm is stored as a
Fernet token (AES-128-CBC with HMAC) under a key from ``RANDOMIZATION_KEYS``
(comma-separated; the first encrypts, all decrypt, so keys can be rotated).
Values are padded to a fixed length before encryption so that the tokens of
different arms cannot be told apart by their length, and each token carries a
random IV so equal arms do not give equal tokens. The list's seed and block
sizes are sealed the same way: with the seed anyone could regenerate the list.

Only ``randomization.unblinded`` may call ``unseal``.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from trial.keyring import configured_keys

_PADDED_LENGTH = 160


class ArmDecryptionError(RuntimeError):
    """A stored arm could not be decrypted with any configured key."""


def _configured_keys() -> list[str]:
    return configured_keys(
        setting="RANDOMIZATION_KEYS", local_file=".randomization.key", new_key=new_key
    )


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "RANDOMIZATION_KEYS holds a value that is not a Fernet key "
            "(generate one with manage.py randomization_key)."
        ) from error


def cipher() -> MultiFernet:
    return _cipher(tuple(_configured_keys()))


def seal(payload: dict) -> str:
    """Encrypt a small JSON document (an arm with its block, or a list's parameters)."""
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    if len(data) > _PADDED_LENGTH:
        raise ValueError("The sealed value is too long (arm names are limited to 50 characters).")
    return cipher().encrypt(data.ljust(_PADDED_LENGTH, b" ")).decode()


def unseal(token: str) -> dict:
    try:
        data = cipher().decrypt(token.encode())
    except InvalidToken as error:
        raise ArmDecryptionError(
            "The value cannot be decrypted with the configured keys."
        ) from error
    return json.loads(data.decode().rstrip(" "))


def new_key() -> str:
    return Fernet.generate_key().decode()
