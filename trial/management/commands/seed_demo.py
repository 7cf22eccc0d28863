from django.core.management.base import BaseCommand

from trial.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Create the demo users (one per role) and a believable demo trial. "
        "Running it twice duplicates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo-password-2019", help="for every demo user")
        parser.add_argument(
            "--participants",
            type=int,
            default=40,
            help="participants to enrol (0: users and roles only)",
        )

    def handle(self, *args, password, participants, **options):
        summary = seed_demo(password=password, participants=participants)
        self.stdout.write(
            self.style.SUCCESS(
                f"demo ready: {summary.users} users, {summary.screened} screened, "
                f"{summary.participants} participants"
            )
        )
        for step in summary.steps:
            self.stdout.write(f"  {step}")
