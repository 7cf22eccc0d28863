"""System checks for what the deployment must provide."""

from unittest import mock

from trial import checks


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
