"""System checks for what the deployment must provide."""

from unittest import mock

import pytest
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from trial import checks
from trial.demo import DEMO_TOTP_KEY


def test_missing_chinese_font_is_reported_by_check_deploy():
    with mock.patch.object(checks, "chinese_font_available", return_value=False):
        (warning,) = checks.check_chinese_font(None)
    assert warning.id == "trial.W001" and "fonts-noto-cjk" in warning.hint
    with mock.patch.object(checks, "chinese_font_available", return_value=True):
        assert checks.check_chinese_font(None) == []
    # Where fontconfig is missing nothing can be said, and nothing is claimed.
    with mock.patch.object(checks, "chinese_font_available", return_value=None):
        assert checks.check_chinese_font(None) == []


def test_font_detection_asks_fontconfig_for_chinese():
    with mock.patch("shutil.which", return_value=None):
        assert checks.chinese_font_available() is None
    result = mock.Mock(stdout="Noto Sans CJK SC\n")
    with (
        mock.patch("shutil.which", return_value="/usr/bin/fc-list"),
        mock.patch("subprocess.run", return_value=result) as run,
    ):
        assert checks.chinese_font_available() is True
    assert run.call_args.args[0] == ["/usr/bin/fc-list", ":lang=zh", "family"]
    result.stdout = ""
    with (
        mock.patch("shutil.which", return_value="/usr/bin/fc-list"),
        mock.patch("subprocess.run", return_value=result),
    ):
        assert checks.chinese_font_available() is False


# --- the demo's published TOTP key (trial.E001) ------------------------------------------


def _device(user, key: str):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True, key=key)


@pytest.mark.django_db
def test_the_published_demo_key_fails_the_check_without_debug(settings, dsmb, statistician):
    settings.DEBUG = False
    assert checks.check_no_demo_authenticator(databases=["default"]) == []
    _device(dsmb, DEMO_TOTP_KEY)
    _device(statistician, DEMO_TOTP_KEY.upper())  # the same key in capitals
    (error,) = checks.check_no_demo_authenticator(databases=["default"])
    assert isinstance(error, Error) and error.id == "trial.E001"
    assert "dsmb" in error.msg and "statistician" in error.msg
    with pytest.raises(SystemCheckError, match="trial.E001"):
        call_command("check", "--database", "default")


@pytest.mark.django_db
def test_the_published_demo_key_is_only_a_warning_with_debug(settings, dsmb):
    settings.DEBUG = True
    _device(dsmb, DEMO_TOTP_KEY)
    (warning,) = checks.check_no_demo_authenticator(databases=["default"])
    assert warning.id == "trial.W002" and not isinstance(warning, Error)


@pytest.mark.django_db
def test_authenticators_of_their_own_pass_the_check(settings, dsmb):
    settings.DEBUG = False
    _device(dsmb, "ab" * 20)
    assert checks.check_no_demo_authenticator(databases=["default"]) == []
    call_command("check", "--database", "default")


def test_the_demo_key_check_reads_the_database_only_when_asked():
    # Without --database the check does not touch it (this test has no database access).
    assert checks.check_no_demo_authenticator(databases=None) == []
