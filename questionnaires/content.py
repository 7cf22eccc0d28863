"""Licensed instrument wording from a deployment's content pack.

SF-MPQ, PSQI and TICS wording may not be committed; a site that holds the
licences installs a JSON file and names it in QUESTIONNAIRE_CONTENT_PACK. It is
validated when the site starts (unknown instruments or item keys, or missing
items, stop start-up with a clear message rather than showing a blank form).
Without a pack, forms show the short labels of ``definitions``.

Format (see content_packs/example.json)::

    {"schema": "content-pack/1",
     "instruments": {
        "psqi": {"title": {"en": "...", "zh-hans": "..."},
                 "instructions": {"en": "..."},
                 "items": {"psqi_1": {"en": "...", "zh-hans": "..."}, ...}}}}

Every item of a packed instrument needs wording in at least one language;
every language given for an instrument must cover all of its items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SCHEMA = "content-pack/1"
LICENSED = ("sf_mpq", "psqi", "tics")


class ContentPackError(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class ContentPack:
    source: str
    instruments: dict

    def wording(self, instrument: str, item: str, language: str) -> str | None:
        texts = self.instruments.get(instrument, {}).get("items", {}).get(item, {})
        return _pick(texts, language)

    def title(self, instrument: str, language: str) -> str | None:
        return _pick(self.instruments.get(instrument, {}).get("title", {}), language)

    def instructions(self, instrument: str, language: str) -> str | None:
        return _pick(self.instruments.get(instrument, {}).get("instructions", {}), language)

    def languages(self, instrument: str) -> set[str]:
        items = self.instruments.get(instrument, {}).get("items", {})
        return {lang for texts in items.values() for lang in texts}


def _pick(texts: dict, language: str) -> str | None:
    if not texts:
        return None
    return texts.get(language) or texts.get(language.split("-")[0])


EMPTY = ContentPack(source="", instruments={})


def validate_pack(
    data: object, *, source: str, item_keys: dict[str, tuple[str, ...]]
) -> ContentPack:
    """Check a decoded pack against the instruments' item keys; return it or raise."""

    def fail(message: str):
        raise ContentPackError(f"Content pack {source}: {message}")

    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        fail(f'expected an object with "schema": "{SCHEMA}"')
    packed = data.get("instruments")
    if not isinstance(packed, dict) or not packed:
        fail('"instruments" must be a non-empty object')
    for key, content in packed.items():
        if key not in item_keys:
            fail(f"unknown instrument {key!r} (known: {', '.join(sorted(item_keys))})")
        if not isinstance(content, dict) or not isinstance(content.get("items"), dict):
            fail(f'{key}: "items" must be an object of item key -> {{language: wording}}')
        items = content["items"]
        unknown = sorted(set(items) - set(item_keys[key]))
        if unknown:
            fail(f"{key}: unknown item keys {', '.join(unknown)}")
        missing = [item for item in item_keys[key] if item not in items]
        if missing:
            fail(f"{key}: missing items {', '.join(missing)}")
        languages = set()
        for item, texts in items.items():
            if not isinstance(texts, dict) or not texts:
                fail(f"{key}.{item}: wording must be an object of language -> text")
            for lang, text in texts.items():
                if not isinstance(text, str) or not text.strip():
                    fail(f"{key}.{item}: empty wording for {lang!r}")
            languages |= set(texts)
        for lang in sorted(languages):
            lacking = [item for item, texts in items.items() if lang not in texts]
            if lacking:
                fail(f"{key}: language {lang!r} lacks items {', '.join(lacking)}")
        for part in ("title", "instructions"):
            if part in content and not isinstance(content[part], dict):
                fail(f'{key}: "{part}" must be an object of language -> text')
    return ContentPack(source=source, instruments=packed)


def load_pack(path: str) -> ContentPack:
    from .definitions import instruments

    if not path:
        return EMPTY
    file = Path(path)
    if not file.is_file():
        raise ContentPackError(f"Content pack {path}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ContentPackError(f"Content pack {path}: not valid UTF-8 JSON ({error})") from error
    keys = {key: inst.item_keys for key, inst in instruments().items()}
    return validate_pack(data, source=path, item_keys=keys)


@lru_cache(maxsize=4)
def _cached(path: str) -> ContentPack:
    return load_pack(path)


def content_pack() -> ContentPack:
    return _cached(str(settings.QUESTIONNAIRE_CONTENT_PACK or ""))
