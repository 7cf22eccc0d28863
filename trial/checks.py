"""System checks for what the deployment itself must provide."""

import shutil
import subprocess

from django.core.checks import Warning, register


def chinese_font_available() -> bool | None:
    """Whether fontconfig knows a font with Chinese glyphs (None: cannot tell)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    found = subprocess.run(  # noqa: S603 - fixed arguments
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    return bool(found.stdout.strip())


def chinese_font_files() -> list[str]:
    """The files of the fonts with Chinese glyphs fontconfig knows (none without it)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    found = subprocess.run(  # noqa: S603 - fixed arguments
        [fc_list, ":lang=zh:style=Regular", "file"], capture_output=True, text=True, check=False
    )
    return sorted({line.strip().rstrip(":") for line in found.stdout.splitlines() if line.strip()})


@register(deploy=True)
def check_chinese_font(app_configs, **kwargs):
    """The Chinese DSMB report (WeasyPrint) needs a CJK font on the server."""
    if chinese_font_available() is False:
        return [
            Warning(
                "No font with Chinese glyphs is installed: Chinese PDF reports would show "
                "empty boxes.",
                hint="Install one, e.g. apt-get install fonts-noto-cjk (the Dockerfile does).",
                id="trial.W001",
            )
        ]
    return []
