from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("trial", "0008_seal_existing_audit_lines")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.PositiveBigIntegerField(unique=True, verbose_name="line number"),
        ),
    ]
