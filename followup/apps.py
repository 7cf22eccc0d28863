from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        from trial import record_text

        from .models import StatusEvent

        # A status change stores its kind's English label as the participant's
        # status reason; the participant page shows it in the reader's language.
        record_text.register_fixed(*StatusEvent.Kind.labels)
