"""The benchmark's floors: the cheapest response, and the cheapest durable write.

Every page is measured as a ratio to these, served by the same middleware in
the same run, so the ratio is the page's own cost.
"""

import secrets
from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods


@login_not_required
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
@require_http_methods(["POST"])
def floor_insert(request: HttpRequest) -> HttpResponse:
    """One row inserted in a transaction (a session row, which nothing reads)."""
    with transaction.atomic():
        Session.objects.create(
            session_key=secrets.token_hex(16),
            session_data="",
            expire_date=timezone.now() + timedelta(minutes=1),
        )
    return HttpResponse("ok", content_type="text/plain")
