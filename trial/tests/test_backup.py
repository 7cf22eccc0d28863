"""Backups restore into a scratch database and match what was backed up."""

import json

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_backup_and_verified_restore(tmp_path, make_participant):
    make_participant()
    target = tmp_path / "trial.backup"
    call_command("backup", "--output", str(target))
    assert target.exists()
    manifest = json.loads((tmp_path / "trial.backup.manifest.json").read_text())
    assert manifest["counts"]["trial_participant"] == 1
    assert len(manifest["audit_tail"]) >= 3
    call_command("restore", str(target), "--verify")


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
