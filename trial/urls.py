from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django_ratelimit.decorators import ratelimit

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        login_not_required(
            ratelimit(
                key="ip", rate=lambda group, request: settings.LOGIN_RATE, method="POST", block=True
            )(auth_views.LoginView.as_view(redirect_authenticated_user=True))
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/2fa/", views.two_factor, name="two_factor"),
    path("accounts/profile/", views.profile, name="profile"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # The link in an invitation or password e-mail (people.services): choose a password.
    path(
        "accounts/reset/<uidb64>/<token>/",
        login_not_required(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        login_not_required(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("participants/", views.participant_list, name="participant_list"),
    path("participants/<str:study_id>/", views.participant_detail, name="participant_detail"),
    path("participants/<str:study_id>/baseline/", views.baseline_edit, name="baseline_edit"),
    path("screening/", views.screening_log, name="screening_log"),
    path("screening/new/", views.screening_new, name="screening_new"),
    path("screening/<int:pk>/", views.screening_detail, name="screening_detail"),
    path("screening/<int:pk>/consent/", views.screening_consent, name="screening_consent"),
    path("screening/<int:pk>/decline/", views.screening_decline, name="screening_decline"),
    path("audit/", views.audit_trail, name="audit_trail"),
    path("audit/export.csv", views.audit_trail_csv, name="audit_trail_csv"),
    path("", include("people.urls")),
    path("", include("randomization.urls")),
    path("", include("questionnaires.urls")),
    path("", include("followup.urls")),
    path("", include("analysis.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The admin's log-in is throttled like the site's own (its other pages need a staff log-in).
    path(
        "admin/login/",
        login_not_required(
            ratelimit(
                key="ip", rate=lambda group, request: settings.LOGIN_RATE, method="POST", block=True
            )(admin.site.login)
        ),
    ),
    path("admin/", admin.site.urls),
]
