from django.db import migrations, models

SCHEMES = [
    ("sha256-unsalted", "SHA-256 of the canonical list (sealed before salting)"),
    ("sha256-salted", "SHA-256 of a secret salt followed by the canonical list"),
]


class Migration(migrations.Migration):
    """Every list states its fingerprint scheme; a salted list has its identity digest."""

    dependencies = [
        ("randomization", "0005_mark_existing_lists_unsalted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="historicalrandomizationlist",
            name="commitment_scheme",
            field=models.CharField(
                choices=SCHEMES, max_length=20, verbose_name="fingerprint scheme"
            ),
        ),
        migrations.AlterField(
            model_name="randomizationlist",
            name="commitment_scheme",
            field=models.CharField(
                choices=SCHEMES, max_length=20, verbose_name="fingerprint scheme"
            ),
        ),
        migrations.AddConstraint(
            model_name="randomizationlist",
            constraint=models.CheckConstraint(
                condition=models.Q(commitment_scheme__in=["sha256-unsalted", "sha256-salted"]),
                name="list_commitment_scheme_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="randomizationlist",
            constraint=models.CheckConstraint(
                condition=models.Q(commitment_scheme="sha256-unsalted")
                | ~models.Q(identity_digest=""),
                name="list_salted_has_identity_digest",
            ),
        ),
        migrations.AddConstraint(
            model_name="randomizationlist",
            constraint=models.UniqueConstraint(
                condition=~models.Q(identity_digest=""),
                fields=("identity_digest",),
                name="list_unique_identity_digest",
            ),
        ),
    ]
