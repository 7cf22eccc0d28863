"""Encryption of arms at rest, with keys that live outside the database.

A database dump alone reveals no allocation: each slot's arm is stored as a
Fernet token (AES-128-CBC with HMAC) under a key from ``RANDOMIZATION_KEYS``
(comma-separated; the first encrypts, all decrypt, so keys can be rotated).
Values are padded to a fixed length before encryption so that the tokens of
different arms cannot be told apart by their length, and each token carries a
random IV so equal arms do not give equal tokens. The list's seed and block
sizes are sealed the same way: with the seed anyone could regenerate the list.
So is the salt of the list's public fingerprint (``seal_parameters``, padded to
a longer fixed length since the salt does not fit the arms' length).

``keyed_digests`` gives an HMAC under a key derived from the same keys, so that
equal secret values (two identical lists) can be recognised without storing a
hash that anyone could recompute.

Only ``randomization.unblinded`` may call ``unseal``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from trial.keyring import configured_keys

_PADDED_LENGTH = 160
# A list's parameters with the 64-character hex salt of its fingerprint; every
# parameters token has this one length, whatever the template and block sizes.
_PARAMETERS_PADDED_LENGTH = 512


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


# --- arm-bearing documents and files ------------------------------------------------------
# The DSMB's stored results (by arm), closed report PDFs and unblinded export files
# hold arms too: they are kept encrypted under the same keys, so a database dump or
# a backup without the key holds no arm. ``randomization.unblinded`` opens them,
# checking the reader's permission.


def seal_bytes(data: bytes) -> bytes:
    return cipher().encrypt(data)


def unseal_bytes(token: bytes) -> bytes:
    try:
        return cipher().decrypt(bytes(token))
    except InvalidToken as error:
        raise ArmDecryptionError(
            "The file cannot be decrypted with the configured keys."
        ) from error


def seal_document(document) -> str:
    """Encrypt a JSON document of any size (no padding: it is not one arm)."""
    # Key order is kept: the report lists categories in the order they were computed.
    data = json.dumps(document, ensure_ascii=False, default=str).encode()
    return seal_bytes(data).decode()


def unseal_document(token: str):
    return json.loads(unseal_bytes(token.encode()).decode())


def seal_parameters(payload: dict) -> str:
    """Encrypt a list's sealed parameters (template, seed, block sizes, salt).

    Like ``seal``, padded to a fixed length so that tokens of different lists
    cannot be told apart by their length; ``unseal`` reads them.
    """
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    if len(data) > _PARAMETERS_PADDED_LENGTH:
        raise ValueError("The sealed parameters are too long (too many block sizes).")
    return cipher().encrypt(data.ljust(_PARAMETERS_PADDED_LENGTH, b" ")).decode()


def keyed_digests(data: bytes, *, purpose: str) -> list[str]:
    """HMAC-SHA256 (hex) of ``data`` under a key derived for ``purpose`` from each
    configured key, the current (encrypting) key first.

    Without a key nobody can recompute or test a guess against these digests, so
    they can sit in the database beside secret values. Store the first; compare
    with all of them, so that digests made before a key rotation still match.
    """
    keys = tuple(_configured_keys())
    _cipher(keys)  # the same check, and the same message, for a malformed key
    label = f"randomization-keyed-digest:{purpose}".encode()
    digests = []
    for key in keys:
        derived = hmac.new(base64.urlsafe_b64decode(key.encode()), label, hashlib.sha256).digest()
        digests.append(hmac.new(derived, data, hashlib.sha256).hexdigest())
    return digests
