"""System checks for what the deployment itself must provide."""

import shutil
import subprocess

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db.utils import DatabaseError


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


def demo_key_holders() -> list[str]:
    """The usernames whose authenticator holds the demo's published TOTP key."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .demo import DEMO_TOTP_KEY

    return sorted(
        set(
            TOTPDevice.objects.filter(key__iexact=DEMO_TOTP_KEY).values_list(
                "user__username", flat=True
            )
        )
    )


@register(Tags.database, Tags.security)
def check_no_demo_authenticator(app_configs=None, databases=None, **kwargs):
    """The demo's TOTP key is published (trial/demo.py): with it anyone has the second factor.

    It reads the database, so it runs with ``manage.py check --database default`` and on
    ``migrate``."""
    if not databases:
        return []
    try:
        holders = demo_key_holders()
    except DatabaseError:
        return []  # tables not migrated yet: migrate runs the check again
    if not holders:
        return []
    message = (
        f"The published demo TOTP key is the second factor of: {', '.join(holders)}. "
        "Anyone can compute its codes."
    )
    hint = (
        "Delete those authenticators (admin, or the People pages) and let each person enrol "
        "their own; seed_demo with DEBUG off removes the demo users' ones."
    )
    if settings.DEBUG:
        return [
            Warning(message, hint="Acceptable for the local demo only. " + hint, id="trial.W002")
        ]
    return [Error(message, hint=hint, id="trial.E001")]
