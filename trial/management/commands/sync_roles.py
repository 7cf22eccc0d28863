from django.core.management.base import BaseCommand

from trial.roles import roles_sync


class Command(BaseCommand):
    help = "Create the trial's role groups and set their permissions (idempotent)."

    def handle(self, *args, **options):
        for name in roles_sync():
            self.stdout.write(f"role {name}: permissions set")
