from django.db import migrations

UNSALTED = "sha256-unsalted"


def mark_unsalted(apps, schema_editor):
    # Every list sealed so far has the plain SHA-256 of its canonical form as its
    # fingerprint (and its history rows say the same): verification must use it.
    for name in ("RandomizationList", "HistoricalRandomizationList"):
        model = apps.get_model("randomization", name)
        model.objects.filter(commitment_scheme__isnull=True).update(commitment_scheme=UNSALTED)


def unmark(apps, schema_editor):
    for name in ("RandomizationList", "HistoricalRandomizationList"):
        model = apps.get_model("randomization", name)
        model.objects.filter(commitment_scheme=UNSALTED).update(commitment_scheme=None)


class Migration(migrations.Migration):
    dependencies = [
        ("randomization", "0004_add_commitment_scheme_and_identity_digest"),
    ]

    operations = [migrations.RunPython(mark_unsalted, unmark)]
