from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles_after_migrate(sender, **kwargs) -> None:
    # Roles are brought up to date after migrate rather than in a data
    # migration, because permissions are themselves created after migrate:
    # post_migrate is sent once per app with models, and every app's
    # permissions exist once the last of those has been sent.
    from django.apps import apps

    from .roles import roles_sync

    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if sender is with_models[-1]:
        roles_sync()


class TrialConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "trial"
    verbose_name = _("Trial")

    def ready(self) -> None:
        from simple_history.signals import post_create_historical_record

        from . import checks  # noqa: F401 - registers the system checks
        from .audit import record_history_row

        post_create_historical_record.connect(
            record_history_row, dispatch_uid="trial.audit.record_history_row"
        )
        post_migrate.connect(_sync_roles_after_migrate, dispatch_uid="trial.roles_sync")
