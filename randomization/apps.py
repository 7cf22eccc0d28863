from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RandomizationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "randomization"
    verbose_name = _("Randomization")
