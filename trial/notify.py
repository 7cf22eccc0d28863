"""E-mail to people in their own language.

Background tasks have no request, so no active language: each recipient's
profile language (else the site's default) is activated while their message is
written, and people who share a language get one e-mail together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import translation


def users_in_roles(*roles: str):
    return (
        get_user_model()
        .objects.filter(groups__name__in=roles, is_active=True)
        .exclude(email="")
        .select_related("profile")
        .distinct()
    )


def send_in_languages(users: Iterable, compose: Callable[[], tuple[str, str]]) -> list[str]:
    """Send ``compose()`` (subject, body) to each user in their language; return addresses."""
    by_language: dict[str, set[str]] = defaultdict(set)
    for user in users:
        profile = getattr(user, "profile", None)
        language = (profile.language if profile else "") or settings.LANGUAGE_CODE
        by_language[language].add(user.email)
    sent: list[str] = []
    for language, addresses in sorted(by_language.items()):
        with translation.override(language):
            subject, body = compose()
        send_mail(subject=subject, message=body, from_email=None, recipient_list=sorted(addresses))
        sent.extend(sorted(addresses))
    return sent
