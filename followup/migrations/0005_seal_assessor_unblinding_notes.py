"""The assessor's unblinding note is kept encrypted and out of the history.

Notes already written are sealed with the randomization keys before the plain
columns (the row's and its history's) are dropped. Reversing decrypts them back
into the row (the history column comes back empty).
"""

from django.conf import settings
from django.db import migrations, models


def seal_notes(apps, schema_editor):
    from randomization.crypto import seal_document

    PhoneInterview = apps.get_model("followup", "PhoneInterview")
    for interview in PhoneInterview.objects.exclude(unblinding_note=""):
        PhoneInterview.objects.filter(pk=interview.pk).update(
            unblinding_note_token=seal_document(interview.unblinding_note)
        )


def open_notes(apps, schema_editor):
    from randomization.crypto import unseal_document

    PhoneInterview = apps.get_model("followup", "PhoneInterview")
    for interview in PhoneInterview.objects.exclude(unblinding_note_token=""):
        PhoneInterview.objects.filter(pk=interview.pk).update(
            unblinding_note=unseal_document(interview.unblinding_note_token)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("followup", "0004_history_change_reasons_as_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="phoneinterview",
            name="interview_unblinding_explained",
        ),
        migrations.AddField(
            model_name="phoneinterview",
            name="unblinding_note_token",
            field=models.TextField(blank=True, verbose_name="how the allocation became known"),
        ),
        migrations.RunPython(seal_notes, open_notes),
        migrations.RemoveField(
            model_name="historicalphoneinterview",
            name="unblinding_note",
        ),
        migrations.RemoveField(
            model_name="phoneinterview",
            name="unblinding_note",
        ),
        migrations.AddConstraint(
            model_name="phoneinterview",
            constraint=models.CheckConstraint(
                condition=models.Q(("remained_blind", True), models.Q(("unblinding_note_token", ""), _negated=True), _connector="OR"),
                name="interview_unblinding_explained",
            ),
        ),
    ]
