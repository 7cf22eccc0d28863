from django.db import migrations, models

SCHEMES = [
    ("sha256-unsalted", "SHA-256 of the canonical list (sealed before salting)"),
    ("sha256-salted", "SHA-256 of a secret salt followed by the canonical list"),
]


class Migration(migrations.Migration):
    """Room to say how each list's fingerprint was made (filled in by the next
    migration) and the keyed digest that finds identical lists."""

    dependencies = [
        ("randomization", "0003_history_change_reasons_as_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalrandomizationlist",
            name="commitment_scheme",
            field=models.CharField(
                choices=SCHEMES, max_length=20, null=True, verbose_name="fingerprint scheme"
            ),
        ),
        migrations.AddField(
            model_name="randomizationlist",
            name="commitment_scheme",
            field=models.CharField(
                choices=SCHEMES, max_length=20, null=True, verbose_name="fingerprint scheme"
            ),
        ),
        migrations.AddField(
            model_name="randomizationlist",
            name="identity_digest",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text=(
                    "HMAC of the canonical list under the randomization key: finds an "
                    "identical list without keeping a hash anyone could test seeds against."
                ),
                max_length=64,
                verbose_name="identity digest",
            ),
        ),
        migrations.AlterField(
            model_name="historicalrandomizationlist",
            name="sha256",
            field=models.CharField(
                db_index=True,
                help_text="The public fingerprint, computed as the commitment scheme says.",
                max_length=64,
                verbose_name="SHA-256",
            ),
        ),
        migrations.AlterField(
            model_name="randomizationlist",
            name="sha256",
            field=models.CharField(
                help_text="The public fingerprint, computed as the commitment scheme says.",
                max_length=64,
                unique=True,
                verbose_name="SHA-256",
            ),
        ),
    ]
