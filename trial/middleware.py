"""Per-request middleware: two-factor authentication, the site's time zone, the user's language.

Whoever may learn arms (a permission in ``SECOND_FACTOR_PERMISSIONS``, whatever
their group is called) and every superuser must confirm a TOTP code after the
password before any page opens (other than the enrolment and verification
pages and log-out). Code-breaks ask for it in their own view.
"""

import zoneinfo

from django.conf import settings
from django.db.models import Case, OuterRef, Subquery, When
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from .models import Site, UserProfile
from .roles import SECOND_FACTOR_PERMISSIONS

_ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz", "/i18n/")


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )


class RefuseNulMiddleware:
    """A NUL character in an address or a search is refused with a page that says
    so (400), before any view hands it to the database, which cannot hold it
    (PostgreSQL raised, a server error). Posted forms need no such guard: every
    text field refuses NUL itself, with its message beside the field and what was
    typed kept (Django's ProhibitNullCharactersValidator)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.shortcuts import render

        if _has_nul(request):
            return render(request, "400.html", {"nul": True}, status=400)
        return self.get_response(request)


def requires_second_factor(user) -> bool:
    """Whether this person must confirm a second factor (by permission, not group name)."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or any(user.has_perm(name) for name in SECOND_FACTOR_PERMISSIONS)


def needs_second_factor(user) -> bool:
    return settings.TWO_FACTOR_ENFORCED and requires_second_factor(user) and not user.is_verified()


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if needs_second_factor(request.user) and not request.path.startswith(_ALLOWED_PREFIXES):
            return redirect(f"{reverse('two_factor')}?next={request.get_full_path()}")
        return self.get_response(request)


def _profile_with_site_time_zone(user) -> UserProfile | None:
    """The user's profile, annotated with ``site_time_zone``, in the one query
    that loads the profile for the rest of the request anyway.

    The zone is that of the user's first site by code (of every site for the
    trial-wide roles); None when the user has no site or no profile.
    """
    every_site = Subquery(Site.objects.order_by("code").values("time_zone")[:1])
    own_site = Subquery(
        Site.objects.filter(staff=OuterRef("pk")).order_by("code").values("time_zone")[:1]
    )
    zone = (
        every_site
        if user.is_superuser
        else Case(When(all_sites=True, then=every_site), default=own_site)
    )
    profile = UserProfile.objects.filter(user=user).annotate(site_time_zone=zone).first()
    # Cache it (or its absence) on the user as ``user.profile`` would, so the
    # language middleware and the views do not load it again.
    UserProfile.user.field.remote_field.set_cached_value(user, profile)
    if profile is not None:
        UserProfile.user.field.set_cached_value(profile, user)
    return profile


def site_time_zone(user) -> zoneinfo.ZoneInfo:
    """The time zone the user's pages are shown in: their site's, else the trial's."""
    profile = _profile_with_site_time_zone(user)
    name = getattr(profile, "site_time_zone", None) or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A zone the system's tz database has since dropped: still show the page.
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class SiteTimeZoneMiddleware:
    """Show times in the time zone of the user's site (stored times stay UTC).

    Costs no query of its own: the zone comes with the profile, which
    UserLanguageMiddleware and the views read next.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(site_time_zone(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            # The thread serves other people next.
            timezone.deactivate()


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
