"""No lost update: an edit form carries the values it was loaded with.

Two tabs of the same form: the nurse corrects the weight in one, then saves a
height change from the other, older tab. Without a check the second save writes
the old weight back. Every edit form therefore carries a version token — the
edited fields' values when the form was loaded, signed so a client cannot
forge them — and the service, holding the row lock, compares it with the row as
it is now: if any of those fields changed since, the save is refused with the
list of what changed (from what, to what), and the view shows the form again
with what the person typed and a fresh token, so saving again is a decision
made knowing the newer values. Fields the form does not edit never conflict.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_SALT = "trial.versions"

STALE = _(
    "Someone saved this record after you opened the form. What changed since is listed "
    "below; your entries are kept. Check them and save again."
)
VERSION_MISSING = _("This form is out of date: open it again.")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple | list):
        return sorted(_plain(item) for item in value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if hasattr(value, "pk"):
        return value.pk
    return value


def state_of(instance, fields: Iterable[str]) -> dict[str, Any]:
    """The values of ``fields`` on ``instance``, in a form that survives JSON."""
    return {name: _plain(getattr(instance, name)) for name in fields}


def _signer() -> signing.Signer:
    # No timestamp: the same record gives the same token, so a page is the same
    # whenever it is loaded (the blinding crawl compares pages byte for byte).
    return signing.Signer(salt=_SALT)


def token_for(state: Mapping[str, Any]) -> str:
    # compress only shortens the token; unsign reads either form (no mutate).
    return _signer().sign_object(dict(state), compress=True)  # pragma: no mutate


@dataclass(frozen=True)
class Change:
    field: str
    then: Any
    now: Any


class StaleEdit(ValidationError):
    """The record changed since the form was loaded; ``changes`` says how."""

    def __init__(self, changes: list[Change]):
        super().__init__(STALE, code="stale")
        self.changes = changes


def changes_since(token: str, state: Mapping[str, Any]) -> list[Change]:
    try:
        then = _signer().unsign_object(token or "")
    except signing.BadSignature as error:
        raise ValidationError(VERSION_MISSING, code="version_missing") from error
    return [
        Change(name, then.get(name), value)
        for name, value in state.items()
        if then.get(name) != value
    ]


def check_unchanged(token: str | None, state: Mapping[str, Any]) -> None:
    """Refuse the save when the edited fields changed since ``token`` was issued.

    ``None`` means the caller did not load a form (an import, a command): no check.
    """
    if token is None:
        return
    changes = changes_since(token, state)
    if changes:
        raise StaleEdit(changes)
