"""Every CSV the site writes opens in a spreadsheet as text: no cell runs as a formula.

The interchange files have their own tests (analysis/tests/test_interchange.py);
these cover the audit-trail CSV, the randomization list CSV (page and command)
and the codebook.
"""

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from conftest import make_user
from trial.audit import audit_event
from trial.spreadsheet import restore_cell

pytestmark = pytest.mark.django_db


def _records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_audit_trail_csv_neutralises_every_text_cell(client, datamanager, site):
    actor = make_user("=cmd|calc", "data_manager", sites=[site])
    audit_event(
        user=actor,
        model="@trial.Thing",
        object_id="-7x",
        subject="+1 cmd",
        reason='=HYPERLINK("http://x","y")',
        changes={"term": "=1+1"},
        summary="-2+3",
    )
    client.force_login(datamanager)
    response = client.get(reverse("audit_trail_csv"), {"subject": "+1 cmd"})
    assert response.status_code == 200
    header, row = _records(b"".join(response.streaming_content).decode())
    cells = dict(zip(header, row, strict=True))
    assert cells["user"] == "'=cmd|calc"
    assert cells["record_type"] == "'@trial.Thing"
    assert cells["record_id"] == "'-7x"
    assert cells["subject"] == "'+1 cmd"
    assert cells["reason"] == '\'=HYPERLINK("http://x","y")'
    assert cells["changes"] == '{"term": "=1+1"}'  # starts with "{": harmless as it is
    assert restore_cell(cells["reason"]) == '=HYPERLINK("http://x","y")'
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


@pytest.fixture
def formula_list(statistician, settings):
    from randomization import services

    settings.PACK_CODE_FORMAT = "@{number:03d}"
    rlist = services.list_create(
        spec=services.ListSpec(
            name="Formula list",
            template="plan",
            arms=["=MLT", "-PLACEBO"],
            ratio=[1, 1],
            block_sizes=[4],
            n_slots=4,
            seed=27371,
        ),
        by=statistician,
    )
    return rlist


def _check_list(records: list[list[str]]) -> None:
    assert records[0] == ["position", "sequence", "block", "block_size", "arm", "pack_code"]
    body = records[1:]
    assert len(body) == 4
    assert {row[4] for row in body} == {"'=MLT", "'-PLACEBO"}
    assert [row[5] for row in body] == ["'@001", "'@002", "'@003", "'@004"]
    assert [row[0] for row in body] == ["1", "2", "3", "4"]  # numbers as they are


def test_randomization_list_csv_page_neutralises_arms_and_pack_codes(
    client, statistician, formula_list
):
    client.force_login(statistician)
    response = client.get(reverse("list_csv", args=[formula_list.pk]))
    assert response.status_code == 200
    _check_list(_records(response.content.decode()))


def test_randomization_list_command_neutralises_arms_and_pack_codes(
    tmp_path, statistician, formula_list
):
    out = tmp_path / "list.csv"
    call_command(
        "randomization_list",
        "export",
        "--user",
        "statistician",
        "--list",
        str(formula_list.pk),
        "--output",
        str(out),
    )
    _check_list(_records(out.read_text()))


def test_codebook_neutralises_its_cells(monkeypatch):
    from questionnaires import codebook

    rows = [
        {
            "item_key": "x_1",
            "label": "=SUM(A1:A9)",
            "type": "integer",
            "allowed_values": "-3 to 3",
            "instrument": "x",
            "scoring_version": "1",
        }
    ]
    monkeypatch.setattr(codebook, "codebook_rows", lambda language="en": rows)
    header, row = _records(codebook.codebook_csv())
    assert row == ["x_1", "'=SUM(A1:A9)", "integer", "'-3 to 3", "x", "1"]


def test_the_real_codebook_is_unchanged_where_nothing_looks_like_a_formula():
    from questionnaires.codebook import codebook_csv, codebook_rows

    for language in ("en", "zh-hans"):
        records = _records(codebook_csv(language))
        expected = [list(row.values()) for row in codebook_rows(language)]
        assert [[restore_cell(cell) for cell in row] for row in records[1:]] == expected
