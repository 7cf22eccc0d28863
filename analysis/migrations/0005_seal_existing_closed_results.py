"""Encrypt the arm-bearing rows written before they were sealed at rest.

Closed runs' results, figures and data hashes move into ``sealed_payload``;
closed reports' PDFs and unblinded exports' zips are encrypted in place.
Reversing decrypts them again (with the same keys).
"""

from django.db import migrations


def seal(apps, schema_editor):
    from randomization.crypto import seal_bytes, seal_document

    AnalysisRun = apps.get_model("analysis", "AnalysisRun")
    ReportFile = apps.get_model("analysis", "ReportFile")
    DataExport = apps.get_model("analysis", "DataExport")
    for run in AnalysisRun.objects.filter(kind="closed", sealed_payload=""):
        if not (run.result or run.figures or run.data_sha256):
            continue
        run.sealed_payload = seal_document(
            {"result": run.result, "figures": run.figures, "data_sha256": run.data_sha256}
        )
        run.result, run.figures, run.data_sha256 = {}, {}, ""
        run.save(update_fields=["sealed_payload", "result", "figures", "data_sha256"])
    for model, rows in (
        (ReportFile, ReportFile.objects.filter(run__kind="closed", sealed=False)),
        (DataExport, DataExport.objects.filter(unblinded=True, sealed=False)),
    ):
        for row in rows.exclude(content=b""):
            model.objects.filter(pk=row.pk).update(
                content=seal_bytes(bytes(row.content)), sealed=True
            )


def unseal(apps, schema_editor):
    from randomization.crypto import unseal_bytes, unseal_document

    AnalysisRun = apps.get_model("analysis", "AnalysisRun")
    for run in AnalysisRun.objects.exclude(sealed_payload=""):
        payload = unseal_document(run.sealed_payload)
        AnalysisRun.objects.filter(pk=run.pk).update(
            result=payload["result"],
            figures=payload["figures"],
            data_sha256=payload["data_sha256"],
            sealed_payload="",
        )
    for name in ("ReportFile", "DataExport"):
        model = apps.get_model("analysis", name)
        for row in model.objects.filter(sealed=True).exclude(content=b""):
            model.objects.filter(pk=row.pk).update(
                content=unseal_bytes(bytes(row.content)), sealed=False
            )


class Migration(migrations.Migration):
    dependencies = [("analysis", "0004_seal_arm_bearing_results_and_files")]

    operations = [migrations.RunPython(seal, unseal)]
