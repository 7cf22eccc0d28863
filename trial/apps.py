from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles_after_migrate(sender, **kwargs) -> None:
    # Roles are brought up to date after migrate rather than in a data
    # migration, because permissions are themselves created after migrate.
    from .roles import roles_sync

    roles_sync()


class TrialConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "trial"
    verbose_name = _("Trial")

    def ready(self) -> None:
        from simple_history.signals import post_create_historical_record

        from .audit import record_history_row

        post_create_historical_record.connect(
            record_history_row, dispatch_uid="trial.audit.record_history_row"
        )
        # Permissions of every app exist once the last installed app has
        # migrated, so the roles are synced after that one.
        from django.apps import apps

        last_app = list(apps.get_app_configs())[-1]
        post_migrate.connect(
            _sync_roles_after_migrate, sender=last_app, dispatch_uid="trial.roles_sync"
        )
