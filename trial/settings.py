"""Project settings, read from the environment (django-environ).

An empty environment gives a working local site: SQLite, Celery tasks run
eagerly, e-mail printed to the console. ``DATABASE_URL``, ``REDIS_URL``,
``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG`` and ``DJANGO_ALLOWED_HOSTS`` switch to a
production set-up. Every variable is listed in ``.env.example``.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# An insecure key is only acceptable for the embedded local default; production
# sets DJANGO_SECRET_KEY and DJANGO_DEBUG=false, and refuses to start on a missing,
# short or published key (the checks after AUDIT_KEYS below).
DEBUG = env.bool("DJANGO_DEBUG", default=True)
LOCAL_SECRET_KEY = "local-development-only-not-secret-" + "x" * 32
# Empty (as .env.example leaves it) counts as not set.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or LOCAL_SECRET_KEY
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_ratelimit",
    "trial",
    "people",
    "questionnaires",
    "randomization",
    "followup",
    "analysis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "trial.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "trial.middleware.TwoFactorMiddleware",
    "trial.middleware.SiteTimeZoneMiddleware",
    "trial.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "trial.urls"
WSGI_APPLICATION = "trial.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "trial.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several nurses on the embedded default: wait for the write lock instead
    # of failing at once, and take it at BEGIN so a transaction never upgrades.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after a period of inactivity: the cookie is renewed on every
# request, so its age is the idle limit.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Failed-login lockout.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# The reverse proxies of our own in front of the site (README: the TLS proxy). With
# N of them the throttles (axes above, ratelimit below) key on the address the
# outermost one saw, read from X-Forwarded-For (trial.net.client_ip); 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "trial.net.client_ip"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times are shown in the active language's formats (trial/formats/);
# numbers are not grouped, so ids and counts print as they are.
FORMAT_MODULE_PATH = ["trial.formats"]
# The default zone of a new site; each request shows times in the user's site's
# zone (trial.middleware.SiteTimeZoneMiddleware).
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Form widgets are rendered from templates/ too (the VAS line widget).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# Reasons for a change are stored whole, however long (a text column, not varchar(100)).
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: with no broker configured, tasks run eagerly in the web process (the
# embedded default); REDIS_URL switches to a real worker and beat.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = TIME_ZONE

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="mlt-trial@localhost")
# The site's public address, for links in e-mails sent by background tasks.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# The trial's own configuration.
STUDY_ID_FORMAT = env.str("STUDY_ID_FORMAT", default="{prefix}-{number:03d}")
SCREENING_ID_FORMAT = env.str("SCREENING_ID_FORMAT", default="{prefix}-S{number:04d}")
ELIGIBLE_AGE_MIN = env.int("ELIGIBLE_AGE_MIN", default=18)
ELIGIBLE_AGE_MAX = env.int("ELIGIBLE_AGE_MAX", default=70)
ENROLMENT_TARGET = env.int("ENROLMENT_TARGET", default=120)
# Fernet keys for arms at rest (comma-separated; the first encrypts). Empty in
# local development: a key file .randomization.key is made beside the project.
RANDOMIZATION_KEYS = env.list("RANDOMIZATION_KEYS", default=[])
# HMAC keys that seal every audit line and the chain head (comma-separated; the
# first seals, all verify). Kept outside the database like RANDOMIZATION_KEYS and
# never the same value: whoever holds the database cannot re-seal a rewritten
# trail. Empty in local development: a key file .audit.key is made.
AUDIT_KEYS = env.list("AUDIT_KEYS", default=[])

# With DEBUG off the site refuses to start on a secret anyone could know: no key,
# the local default, a key published in this repository's examples, or one too
# short; and on keys left to the local files (keyring.configured_keys would only
# fail at the first write) or an audit key that is also a randomization key.
PUBLISHED_SECRET_KEYS = {"set-a-long-random-secret-key", "change-me", "build-only"}
PUBLISHED_SECRET_KEY_PREFIXES = ("local-development-only", "django-insecure")
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5  # as Django's own security.W009


def production_settings_problems(
    *, secret_key: str, randomization_keys: list[str], audit_keys: list[str]
) -> list[str]:
    """What keeps these settings from being safe with DEBUG off (empty: nothing)."""
    make_key = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
    problems = []
    if not secret_key.strip():
        problems.append(f"DJANGO_SECRET_KEY is not set. Set it to a new random key: {make_key}")
    elif secret_key in PUBLISHED_SECRET_KEYS or secret_key.startswith(
        PUBLISHED_SECRET_KEY_PREFIXES
    ):
        problems.append(
            "DJANGO_SECRET_KEY is a published example or the local development key. "
            f"Set it to a new random key: {make_key}"
        )
    elif len(secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"DJANGO_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters. "
            f"Set it to a new random key: {make_key}"
        )
    elif len(set(secret_key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        problems.append(
            "DJANGO_SECRET_KEY repeats too few characters to be random. "
            f"Set it to a new random key: {make_key}"
        )
    randomization = {key.strip() for key in randomization_keys if key.strip()}
    audit = {key.strip() for key in audit_keys if key.strip()}
    if not randomization:
        problems.append(
            "RANDOMIZATION_KEYS is not set. Set it to a key from `manage.py randomization_key` "
            '(or python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())") and keep it out of database backups.'
        )
    if not audit:
        problems.append(
            "AUDIT_KEYS is not set. Set it to a key from `manage.py audit_key` "
            '(or python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )
    if randomization & audit:
        problems.append(
            "AUDIT_KEYS shares a key with RANDOMIZATION_KEYS. Give AUDIT_KEYS a key of its "
            "own from `manage.py audit_key`."
        )
    return problems


if not DEBUG:
    _problems = production_settings_problems(
        secret_key=env.str("DJANGO_SECRET_KEY", default=""),
        randomization_keys=RANDOMIZATION_KEYS,
        audit_keys=AUDIT_KEYS,
    )
    if _problems:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is false, so the site refuses to start:\n- " + "\n- ".join(_problems)
        )

# The audit chain's head recorded outside the database (trial/anchor.py), daily
# and by manage.py audit_anchor: only such a record shows a trail deleted whole
# or swapped for an older genuine copy. A JSON line appended to
# AUDIT_ANCHOR_DIR/audit-anchors.jsonl (put it on storage the database's owner
# cannot write; empty: no file) and e-mailed to AUDIT_ANCHOR_EMAILS (e.g. the
# sponsor's mailbox). With AUDIT_TSA_URL an RFC 3161 time-stamping authority signs
# each record; AUDIT_TSA_CERT (PEM: the TSA's certificate and chain to its root)
# lets verify_audit check those signatures.
AUDIT_ANCHOR_DIR = env.str(
    "AUDIT_ANCHOR_DIR", default=str(BASE_DIR / "audit-anchors") if DEBUG else ""
)
AUDIT_ANCHOR_EMAILS = env.list("AUDIT_ANCHOR_EMAILS", default=[])
AUDIT_TSA_URL = env.str("AUDIT_TSA_URL", default="")
AUDIT_TSA_CERT = env.str("AUDIT_TSA_CERT", default="")
PACK_CODE_FORMAT = env.str("PACK_CODE_FORMAT", default="{number:03d}")
# Questionnaires: licensed wording from a content pack (a JSON file installed
# per deployment; questionnaires/content_packs/example.json shows the format),
# and the TICS version whose item maxima score the cognitive interview.
QUESTIONNAIRE_CONTENT_PACK = env.str("QUESTIONNAIRE_CONTENT_PACK", default="")
TICS_VERSION = env.str("TICS_VERSION", default="tics41")
TICS_ITEMS = env.json("TICS_ITEMS", default={})

# The visit schedule: the one declaration of the visits, their windows, what each
# collects and which are persistent-pain endpoints (JSON as
# questionnaires.schedule.schedule_from_config reads it; empty = the protocol's
# baseline, m1 ±7, m3 ±14, m6 ±14 days). Models, forms, follow-up, exports and the
# DSMB analysis all read it (questionnaires.visits). And how long after a window
# closes an uncontacted visit is marked missed.
FOLLOWUP_SCHEDULE = env.json("FOLLOWUP_SCHEDULE", default={})
FOLLOWUP_MISSED_AFTER_DAYS = env.int("FOLLOWUP_MISSED_AFTER_DAYS", default=30)
# Rules that bar a user from a participant everywhere (pages and services): each
# returns the reason, or '' (trial.selectors.check_participant_access).
PARTICIPANT_ACCESS_RULES = ["followup.selectors.assessor_exclusion_refusal"]
# Called inside baseline_save when a procedure date is recorded or changed.
PROCEDURE_DATE_HOOKS = ["followup.services.visits_schedule"]
CELERY_BEAT_SCHEDULE = {
    "visit-states-and-digests": {
        "task": "followup.tasks.daily_followup",
        "schedule": crontab(hour=env.int("DIGEST_HOUR", default=7), minute=0),
    },
    "purge-expired-downloads": {
        "task": "analysis.tasks.purge_expired_files",
        "schedule": crontab(hour=3, minute=30),
    },
    "anchor-audit-chain": {
        "task": "trial.tasks.anchor_audit_chain",
        "schedule": crontab(hour=2, minute=45),
    },
}

# Generated PDF reports and exports are kept for download this long.
REPORT_RETENTION_DAYS = env.int("REPORT_RETENTION_DAYS", default=7)

# seed_demo runs these after the participant core's own step, in order.
DEMO_STEPS = [
    "questionnaires.demo.seed_baseline_questionnaires",
    "randomization.demo.seed_randomization",
    "followup.demo.seed_followup",
    "analysis.demo.seed_analysis",
]

# Production hardening; ``check --deploy`` runs with DJANGO_DEBUG=false in CI.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content security policy: scripts only from this site (no inline scripts);
# styles also inline, because server-rendered SVG figures carry style elements.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Two-factor authentication (TOTP) for the unblinded roles and any code-break.
TWO_FACTOR_ENFORCED = env.bool("TWO_FACTOR_ENFORCED", default=True)
OTP_TOTP_ISSUER = "MLT trial"

# Rate limits, on top of the failed-login lockout.
RATELIMIT_VIEW = "trial.views.rate_limited"
RATELIMIT_IP_META_KEY = "trial.net.client_ip"
LOGIN_RATE = env.str("LOGIN_RATE", default="20/m")
RANDOMIZE_RATE = env.str("RANDOMIZE_RATE", default="10/m")
# django-ratelimit does not list Django's own RedisCache, which does support the
# atomic increments it needs (W001). A local-memory cache limits per process
# only (E003): acceptable for the embedded default; production uses Redis.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + (
    [] if REDIS_URL else ["django_ratelimit.E003"]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
