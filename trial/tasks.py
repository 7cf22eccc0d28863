"""Celery tasks of the participant core's infrastructure: the daily audit anchor.

The anchor takes no ids (it records whatever head is committed when it runs)
and is safe to run twice: anchoring an unchanged head again only appends
another, identical-but-for-its-time line.
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


# The TSA request has its own 15 s timeout; the limit covers it, the file and the mail.
@shared_task(time_limit=120, soft_time_limit=100)
def anchor_audit_chain() -> dict:
    from .anchor import NOWHERE, anchor_destinations_configured, anchor_write

    if not anchor_destinations_configured():
        # Not an error to retry every day: a deployment that keeps its anchors by
        # other means says so by leaving both settings empty. The warning remains.
        logger.warning(NOWHERE)
        return {"anchored": False}
    written = anchor_write()
    return {
        "anchored": True,
        "sequence": written.line["sequence"],
        "lines": written.line["lines"],
        "file": str(written.path) if written.path else "",
        "emailed": len(written.emailed_to),
        "timestamped": written.timestamped,
    }
