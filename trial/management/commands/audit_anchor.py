"""Management command (operations): record the audit chain's head outside the database now."""

from django.core.management.base import BaseCommand, CommandError

from trial.anchor import AnchorError, anchor_write


class Command(BaseCommand):
    help = (
        "Append the audit chain's committed head (line number, hash, line count, key id, "
        "UTC time, site) to AUDIT_ANCHOR_DIR/audit-anchors.jsonl, e-mail it to "
        "AUDIT_ANCHOR_EMAILS, time-stamped by AUDIT_TSA_URL when set; print it."
    )

    def handle(self, *args, **options):
        try:
            written = anchor_write()
        except AnchorError as error:
            if error.written is not None:
                self.stdout.write(error.written.as_json())
            raise CommandError(str(error)) from error
        self.stdout.write(written.as_json())
        where = [str(written.path)] if written.path else []
        where += written.emailed_to
        error = written.line.get("timestamp_error")
        if written.timestamped:
            stamp = "time-stamped"
        elif error:
            stamp = f"not time-stamped: {error}"
        else:
            stamp = "not time-stamped (no AUDIT_TSA_URL)"
        self.stdout.write(
            f"Anchored audit line {written.line['sequence']} ({written.line['lines']} lines), "
            f"{stamp}, to {', '.join(where)}."
        )
        if error:
            self.stderr.write(f"warning: the time-stamping authority failed: {error}")
