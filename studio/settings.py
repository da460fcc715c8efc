"""Django settings for Cadenza.

Everything that differs between a laptop and a deployment comes from environment variables
with safe local defaults (see README "Configuration"). Values are read through the typed
helpers in ``studio.env``, which raise ImproperlyConfigured on a malformed value.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from generation.ml import engines as _engines
from studio.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STUDIO_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
HTTPS = env_bool("DJANGO_HTTPS", False)


def _local_secret_key() -> str:
    """A per-checkout random key kept in var/, so a local run needs no configuration and
    sessions survive restarts. Deployments set DJANGO_SECRET_KEY."""
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


SECRET_KEY = env_str("DJANGO_SECRET_KEY") or _local_secret_key()
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters long")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # before channels: its runworker command (DoorbellWorker) shadows channels' own
    "generation",
    "channels",
    "csp",
    "axes",
    "accounts",
    "studio",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's LocaleMiddleware, after authentication so that a logged-in user's saved
    # language wins over the cookie and Accept-Language (we use no i18n_patterns, so it
    # need not come before CommonMiddleware)
    "accounts.middleware.UserLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # a request that finds Redis down answers 503 "try again shortly", not 500
    "studio.middleware.RedisUnavailableMiddleware",
    # last, as django-axes asks: it turns a lockout into a response
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "accounts.backends.LoginAddressLimit",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"

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
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
# SQLite by default, in WAL mode with a busy timeout: daphne and the workers write at once.
_SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises plain ValueError/KeyError
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(_SQLITE_PATH)}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {}).update({
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
    # A file, not memory, so that worker processes and daphne started by tests share it.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ----------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6385/0", ["redis", "rediss", "unix"])
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # socket_timeout None: redis-py 8 otherwise times out the layer's 5 s blocking
            # pop, which makes runworker exit when idle (channels_redis issue 422).
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            "capacity": env_int("STUDIO_CHANNEL_CAPACITY", 100, minimum=1),
            "expiry": env_int("STUDIO_CHANNEL_EXPIRY", 60, minimum=1),
        },
    },
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("STUDIO_CACHE_PREFIX", "cadenza"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    },
}

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Login throttling, counted in the shared Redis cache so the limits hold across daphne
# processes. django-axes locks the pair (username, address): a stranger cannot lock an account
# by naming it, nor can people behind one proxy lock each other out. One address failing with
# any usernames is paused at a higher limit (accounts.backends.LoginAddressLimit).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "default"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "studio.clientip.client_ip"
STUDIO_LOGIN_FAILURES_PER_IP = env_int("STUDIO_LOGIN_FAILURES_PER_IP", 50, minimum=1)
# How many reverse proxies of ours append to X-Forwarded-For in front of daphne; 0 (the
# default): the header is ignored and the address is the connection's (studio.clientip).
STUDIO_TRUSTED_PROXY_COUNT = env_int("STUDIO_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True

# --- Email -----------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cadenza <noreply@localhost>")
# With mail configured, a new account confirms its address before its first job.
STUDIO_REQUIRE_VERIFIED_EMAIL = env_bool("STUDIO_REQUIRE_VERIFIED_EMAIL", bool(EMAIL_HOST))

# --- I18n ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# English and Simplified Chinese; the catalogs live in locale/ (compiled .mo files are
# committed so that no gettext tools are needed at run time: `make messages` rebuilds them)
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Generated and uploaded files: "local" keeps them under MEDIA_ROOT; "s3" puts them in an
# S3-compatible bucket (generation/storage.py), so web processes and workers on different
# machines share no disk (MEDIA_ROOT then holds only a worker's staging folders).
STUDIO_STORAGE = env_choice("STUDIO_STORAGE", "local", ["local", "s3"])
# How long a signed download URL works (seconds): a track made private, or a share link
# revoked, stops working for a URL handed out before at most this long after.
STUDIO_SIGNED_URL_SECONDS = env_int("STUDIO_SIGNED_URL_SECONDS", 60, minimum=5, maximum=3600)


def s3_storage() -> dict:
    """The STORAGES["default"] entry for STUDIO_STORAGE=s3, read from the environment."""
    bucket = env_str("STUDIO_S3_BUCKET")
    if not bucket:
        raise ImproperlyConfigured("STUDIO_STORAGE=s3 needs STUDIO_S3_BUCKET (the bucket's name)")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": s3_endpoint_url(),
            # empty: boto3's own chain (AWS_* variables, instance role, ~/.aws)
            "access_key": env_str("STUDIO_S3_ACCESS_KEY") or None,
            "secret_key": env_str("STUDIO_S3_SECRET_KEY") or None,
            "region_name": env_str("STUDIO_S3_REGION", "us-east-1"),
            "location": env_str("STUDIO_S3_PREFIX", ""),
            "addressing_style": "path",  # one origin for the CSP below
            "signature_version": "s3v4",
            "default_acl": None,  # the bucket stays private; reads go through signed URLs
            "file_overwrite": True,
            "querystring_expire": STUDIO_SIGNED_URL_SECONDS,
        },
    }


def s3_endpoint_url() -> str:
    """The object store's URL (STUDIO_S3_ENDPOINT_URL; AWS itself when unset)."""
    return env_url("STUDIO_S3_ENDPOINT_URL", "https://s3.amazonaws.com", ["http", "https"])


if STUDIO_STORAGE == "s3":
    STORAGES["default"] = s3_storage()
MEDIA_URL = "/media/"  # never served as a listing; files go through an access-checking view
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 5_242_880

# --- Security --------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Content-Security-Policy: no inline scripts or styles anywhere; websockets to this host only
# ('self' covers ws:// and wss:// to the page's own host and port in CSP level 3 browsers;
# where a browser refuses the socket, the progress page polls instead).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

if STUDIO_STORAGE == "s3":
    # downloads redirect to signed URLs on the object store: let pages load them from there
    _store_origin = "/".join(s3_endpoint_url().split("/")[:3])
    # (scores and timemaps, which the page fetches, are answered by the view itself)
    for _directive in ("img-src", "media-src"):
        CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive].append(_store_origin)

# --- The studio ------------------------------------------------------------------------------
STUDIO_DEVICE = env_choice("STUDIO_DEVICE", "auto", ["auto", "cpu", "cuda"])
SOUNDFONT_PATH = env_str("SOUNDFONT_PATH")
# the system account that owns the example tracks of a new install (manage.py seed_examples)
STUDIO_EXAMPLES_ACCOUNT = env_str("STUDIO_EXAMPLES_ACCOUNT", "cadenza-examples")
STUDIO_MAX_UPLOAD_BYTES = env_int("STUDIO_MAX_UPLOAD_BYTES", 1_000_000, minimum=1024)
# Every other request body (forms, JSON); studio.bodylimit answers 413 beyond either limit.
STUDIO_MAX_BODY_BYTES = env_int("STUDIO_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
STUDIO_MAX_ACTIVE_JOBS_PER_USER = env_int("STUDIO_MAX_ACTIVE_JOBS_PER_USER", 3, minimum=1)
STUDIO_USER_STORAGE_MB = env_int("STUDIO_USER_STORAGE_MB", 200, minimum=1)
STUDIO_MAX_QUEUE = env_int("STUDIO_MAX_QUEUE", 50, minimum=1)
# Seconds of worker time each user's jobs may use per day (UTC); submit refuses beyond it.
STUDIO_DAILY_COMPUTE_SECONDS = env_int("STUDIO_DAILY_COMPUTE_SECONDS", 1800, minimum=1)
# New accounts per client address per hour (accounts.services.take_signup_slot).
STUDIO_SIGNUPS_PER_IP = env_int("STUDIO_SIGNUPS_PER_IP", 5, minimum=1)
# Days an API token works after it is made (a password change ends it sooner).
STUDIO_API_TOKEN_DAYS = env_int("STUDIO_API_TOKEN_DAYS", 90, minimum=1)
# Password-reset mails per hour: to one email address, and asked for from one client address.
STUDIO_RESET_MAILS_PER_EMAIL = env_int("STUDIO_RESET_MAILS_PER_EMAIL", 3, minimum=1)
STUDIO_RESET_MAILS_PER_IP = env_int("STUDIO_RESET_MAILS_PER_IP", 10, minimum=1)
STUDIO_MAX_ATTEMPTS = env_int("STUDIO_MAX_ATTEMPTS", 3, minimum=1)
# Each job's work runs in a child process of its worker (generation/job_process.py): its wall
# deadline in seconds (past it the child is killed and the job fails) and its address-space
# cap in MB (applied when the engine runs on the CPU).
STUDIO_JOB_DEADLINE_SECONDS = env_int("STUDIO_JOB_DEADLINE_SECONDS", 900, minimum=5)
STUDIO_JOB_MEMORY_MB = env_int("STUDIO_JOB_MEMORY_MB", 6144, minimum=512)
# MIDI parse children at once per server process (beyond: 503 "busy"), and uploads/inspects
# per user per minute (beyond: 429).
STUDIO_MAX_PARALLEL_PARSES = env_int("STUDIO_MAX_PARALLEL_PARSES", 2, minimum=1)
STUDIO_MIDI_PARSES_PER_MINUTE = env_int("STUDIO_MIDI_PARSES_PER_MINUTE", 20, minimum=1)
# Recovery timings (seconds); tests shorten them.
STUDIO_HEARTBEAT_SECONDS = env_int("STUDIO_HEARTBEAT_SECONDS", 5, minimum=1)
STUDIO_STALE_WORKER_SECONDS = env_int("STUDIO_STALE_WORKER_SECONDS", 30, minimum=2)
STUDIO_RESEND_AFTER_SECONDS = env_int("STUDIO_RESEND_AFTER_SECONDS", 60, minimum=1)
STUDIO_RECOVERY_INTERVAL_SECONDS = env_int("STUDIO_RECOVERY_INTERVAL_SECONDS", 5, minimum=1)
STUDIO_AUDIO_FORMAT = env_choice("STUDIO_AUDIO_FORMAT", "mp3", ["mp3", "ogg"])
# The composition model new jobs use, by version name (generation/ml/engines.py: v1, v2);
# empty = the version the engine serves by default (engines.SERVED).
STUDIO_MODEL = env_str("STUDIO_MODEL", "")
# A/B: the versions the workers serve and each one's share of new jobs, "v1=50,v2=50";
# empty = STUDIO_MODEL (or engines.SERVED) for every job. A job's version is drawn when it is
# submitted and recorded in its parameters ("model"); "regenerate" keeps it.
try:
    STUDIO_MODEL_SHARES = _engines.parse_shares(
        env_str("STUDIO_MODEL_SHARES", "") or STUDIO_MODEL
    )
except ValueError as _exc:
    raise ImproperlyConfigured(
        f"STUDIO_MODEL_SHARES (or STUDIO_MODEL): {_exc}") from None
MOOD_RATE_LIMIT_PER_MINUTE = env_int("STUDIO_MOOD_RATE_PER_MINUTE", 60, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
