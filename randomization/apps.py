from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


def check_randomization_keys(app_configs, **kwargs):
    from django.conf import settings

    if settings.DEBUG or settings.RANDOMIZATION_KEYS:
        return []
    return [
        checks.Error(
            "RANDOMIZATION_KEYS is not set.",
            hint="Generate one with `manage.py randomization_key` and keep it out of the database.",
            id="randomization.E001",
        )
    ]


class RandomizationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "randomization"
    verbose_name = _("Randomization")

    def ready(self) -> None:
        checks.register(check_randomization_keys, checks.Tags.security, deploy=True)
