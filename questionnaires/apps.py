from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuestionnairesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "questionnaires"
    verbose_name = _("Questionnaires")

    def ready(self) -> None:
        # A broken content pack must stop start-up, not show blank forms later.
        from .content import content_pack

        content_pack()
