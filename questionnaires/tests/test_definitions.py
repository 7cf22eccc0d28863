"""Instrument definitions, the content pack and the codebook."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from questionnaires import scoring
from questionnaires.codebook import COLUMNS, codebook_csv
from questionnaires.content import ContentPackError, load_pack, validate_pack
from questionnaires.definitions import all_item_keys, instruments, tics_instrument


def test_item_keys_follow_instruments_md_order():
    keys = all_item_keys()
    expected = [
        *scoring.SF_MPQ_ITEMS,
        *scoring.GAD7_ITEMS,
        *scoring.PHQ9_ITEMS,
        *scoring.PSQI_ITEMS,
        *scoring.TICS_VERSIONS["tics41"],
    ]
    assert keys == expected
    assert len(keys) == len(set(keys))


def test_choice_options_match_scoring_ranges():
    for instrument in instruments().values():
        for item in instrument.items:
            if item.kind == "choice":
                low, high = scoring.ITEM_RANGES[item.key]
                assert [o.value for o in item.options] == list(range(low, high + 1)), item.key


def test_only_free_instruments_carry_wording():
    for instrument in instruments().values():
        has_wording = any(item.wording for item in instrument.items)
        assert has_wording is (not instrument.licensed), instrument.key


def test_tics_maxima_are_configuration(settings):
    custom = tics_instrument("ticsm", {"tics_name": 2, "tics_delayed_recall": 10})
    assert [(i.key, i.maximum) for i in custom.items] == [
        ("tics_name", 2),
        ("tics_delayed_recall", 10),
    ]
    assert custom.score({"tics_name": 2, "tics_delayed_recall": 7})["total"] == 9
    settings.TICS_ITEMS = {"tics_name": 2, "tics_date": 5}
    assert [i.key for i in instruments()["tics"].items] == ["tics_name", "tics_date"]


def _item_keys():
    return {key: inst.item_keys for key, inst in instruments().items()}


def test_example_pack_is_valid_and_placeholder_only():
    pack = load_pack("questionnaires/content_packs/example.json")
    assert set(pack.instruments) == {"sf_mpq", "psqi", "tics"}
    assert pack.wording("psqi", "psqi_1", "en").startswith("[psqi_1")
    assert pack.wording("psqi", "psqi_1", "zh-hans").startswith("[psqi_1")
    assert pack.languages("tics") == {"en", "zh-hans"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(schema="other"), "schema"),
        (lambda p: p["instruments"].update(moca={"items": {}}), "unknown instrument 'moca'"),
        (lambda p: p["instruments"]["psqi"]["items"].update(psqi_99={"en": "x"}), "psqi_99"),
        (lambda p: p["instruments"]["psqi"]["items"].pop("psqi_4"), "missing items psqi_4"),
        (lambda p: p["instruments"]["tics"]["items"]["tics_name"].pop("zh-hans"), "lacks items"),
        (lambda p: p["instruments"]["tics"]["items"].update(tics_name={"en": " "}), "empty"),
    ],
)
def test_bad_pack_is_refused_with_a_clear_message(mutate, message):
    with open("questionnaires/content_packs/example.json", encoding="utf-8") as handle:
        pack = json.load(handle)
    mutate(pack)
    with pytest.raises(ContentPackError, match=message):
        validate_pack(pack, source="test.json", item_keys=_item_keys())


def test_missing_or_broken_pack_file(tmp_path):
    with pytest.raises(ContentPackError, match="no such file"):
        load_pack(str(tmp_path / "absent.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ContentPackError, match="not valid UTF-8 JSON"):
        load_pack(str(broken))


def test_broken_pack_stops_start_up(tmp_path, settings):
    from django.apps import apps

    from questionnaires.content import _cached

    broken = tmp_path / "pack.json"
    broken.write_text(
        json.dumps({"schema": "content-pack/1", "instruments": {"psqi": {"items": {}}}})
    )
    settings.QUESTIONNAIRE_CONTENT_PACK = str(broken)
    _cached.cache_clear()
    try:
        with pytest.raises(ContentPackError, match="missing items"):
            apps.get_app_config("questionnaires").ready()
    finally:
        settings.QUESTIONNAIRE_CONTENT_PACK = ""
        _cached.cache_clear()


def test_codebook_rows_and_command(tmp_path):
    rows = list(csv.DictReader(io.StringIO(codebook_csv())))
    assert tuple(rows[0]) == COLUMNS
    by_key = {row["item_key"]: row for row in rows}
    assert by_key["phq9_9"]["allowed_values"].startswith("0=Not at all")
    assert by_key["phq9_9"]["scoring_version"] == scoring.SCORING_VERSIONS["phq9"]
    assert by_key["psqi_1"]["type"] == "time"
    assert by_key["tics_immediate_recall"]["allowed_values"] == "0-10 (points)"
    assert by_key["psqi_global"]["type"] == "integer"
    assert set(all_item_keys()) <= set(by_key)
    out = tmp_path / "codebook.csv"
    call_command("codebook", "--output", str(out))
    assert out.read_text(encoding="utf-8") == codebook_csv()
