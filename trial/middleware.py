"""Two-factor authentication for the roles that can see arms.

The unblinded statistician and the DSMB must confirm a TOTP code after the
password before any page opens (other than the enrolment and verification
pages and log-out). Code-breaks ask for it in their own view.
"""

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from .roles import UNBLINDED_ROLES, user_roles

_ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz", "/i18n/")


def needs_second_factor(user) -> bool:
    return (
        settings.TWO_FACTOR_ENFORCED
        and user.is_authenticated
        and bool(UNBLINDED_ROLES & set(user_roles(user)))
        and not user.is_verified()
    )


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if needs_second_factor(request.user) and not request.path.startswith(_ALLOWED_PREFIXES):
            return redirect(f"{reverse('two_factor')}?next={request.get_full_path()}")
        return self.get_response(request)


class UserLanguageMiddleware:
    """Use the language a person chose in their profile; otherwise the browser's
    (Django's LocaleMiddleware has already chosen that, e.g. on the login page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import translation

        user = getattr(request, "user", None)
        profile = getattr(user, "profile", None) if user and user.is_authenticated else None
        if profile is not None and profile.language:
            translation.activate(profile.language)
            request.LANGUAGE_CODE = profile.language
        return self.get_response(request)
