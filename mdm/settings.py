"""Settings for the MDM hub, read once from the environment (django-environ).

Embedded defaults make a first run need nothing: an SQLite file under
``var/`` and in-process Celery tasks. Production and the test suite set
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (broker for a real worker).
Any secret may be given as ``NAME_FILE`` pointing at a file instead.
"""
from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("MDM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    REDIS_URL=(str, ""),
    MDM_INGEST_MAX_BATCH=(int, 10_000),
    MDM_INGEST_PREPARERS=(int, 2),
    MDM_API_THROTTLE=(str, "6000/min"),
    MDM_WEBHOOK_CONNECT_TIMEOUT=(float, 3.0),
    MDM_WEBHOOK_READ_TIMEOUT=(float, 10.0),
    MDM_WEBHOOK_MAX_ATTEMPTS=(int, 8),
    MDM_WEBHOOK_BACKOFF_BASE=(float, 10.0),
    MDM_WEBHOOK_BACKOFF_FACTOR=(float, 4.0),
    MDM_WEBHOOK_BACKOFF_MAX=(float, 6 * 3600.0),
    MDM_WEBHOOK_LEASE=(float, 0.0),
    MDM_WEBHOOK_ETA_MAX=(float, 300.0),
    MDM_SWEEP_INTERVAL=(float, 15.0),
    MDM_MATCH_SWEEP_INTERVAL=(float, 300.0),
    MDM_MATCH_SWEEP_GRACE=(float, 900.0),
    MDM_AUTO_RETRAIN_BELOW=(int, 20_000),
    LOG_LEVEL=(str, "INFO"),
    MDM_RECOMPUTE_SLICES=(int, 2),
    MDM_SYNC_MARGIN=(float, 2.0),
)
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))


def _secret(name: str, default: str | None = None) -> str:
    """Read a secret from NAME or from the file NAME_FILE points at."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    if default is None:
        return env.str(name)
    return env.str(name, default=default)


DEBUG = env("DEBUG")
_INSECURE_DEV_KEY = "insecure-dev-key-only-for-local-runs-change-me"
SECRET_KEY = _secret("SECRET_KEY", default=_INSECURE_DEV_KEY if DEBUG else "")
if not SECRET_KEY:
    # A first run (make run) writes a random key to var/secret_key; production
    # sets SECRET_KEY or SECRET_KEY_FILE. Never fall back to a fixed key.
    _key_file = VAR_DIR / "secret_key"
    if _key_file.exists():
        SECRET_KEY = _key_file.read_text().strip()
    else:
        from django.core.management.utils import get_random_secret_key

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        SECRET_KEY = get_random_secret_key()
        _key_file.write_text(SECRET_KEY)
        _key_file.chmod(0o600)

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

# The blocking-key index carries the record id as an INCLUDE column on
# PostgreSQL (index-only candidate lookups); SQLite, the embedded default,
# simply indexes the key columns, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "mdm",
    "stewardship",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "mdm.urls"
WSGI_APPLICATION = "mdm.wsgi.application"

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
                "stewardship.permissions.context",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'mdm.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding: parameters travel separately instead of being quoted
    # into the SQL text in Python, which made bulk writes several times slower.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while an in-process task writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 30)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise warns on every request while the folder is missing (a fresh clone before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "stewardship" / "assets"] if (BASE_DIR / "stewardship" / "assets").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

LOGIN_URL = "stewardship:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "stewardship:login"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Served over HTTPS (directly or behind a proxy setting X-Forwarded-Proto): one switch for
# secure-only cookies, redirecting plain HTTP and HSTS. Off by default: `make run` is plain
# http://127.0.0.1. With it, `manage.py check --deploy` only asks about HSTS for subdomains and
# preloading, decisions about the whole domain left to the operator.
HTTPS = env.bool("MDM_HTTPS", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

# Throttle counters and other shared state: Redis when there is one, so every
# worker sees the same counts; process memory on a first run.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Celery -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "mdm"
# Webhook deliveries have a queue of their own: a first load queues match tasks
# for an hour, and deliveries behind them on one list would wait that hour (a
# worker reading both queues takes from each in turn); the pending-match
# sweeper counts the match queue alone, which a steady stream of deliveries
# would otherwise never let drain. A worker without -Q reads both; a site may
# give deliveries workers of their own (-Q mdm.deliveries).
MDM_DELIVERY_QUEUE = "mdm.deliveries"
# Each bound under its own routing key (otherwise both share the default queue's).
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, MDM_DELIVERY_QUEUE)]
CELERY_TASK_ROUTES = {task: {"queue": MDM_DELIVERY_QUEUE} for task in ("mdm.tasks.deliver", "mdm.tasks.deliver_many")}
# The sweeper is the safety net of publishing: deliveries whose worker died
# mid-send (lease expired) or whose task message was lost are re-enqueued.
CELERY_BEAT_SCHEDULE: dict = {
    "sweep-deliveries": {"task": "mdm.tasks.sweep_deliveries", "schedule": env("MDM_SWEEP_INTERVAL")},
    "sweep-pending-matches": {"task": "mdm.tasks.sweep_pending_matches",
                              "schedule": env("MDM_MATCH_SWEEP_INTERVAL")},
}
CELERY_TIMEZONE = TIME_ZONE

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mdm.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["mdm.api.auth.ApiClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_client": env("MDM_API_THROTTLE")},
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "mdm.api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Distributor MDM hub API",
    "DESCRIPTION": "Golden records, cross-references, ingestion, matching and steward tasks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets come from drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Hub behaviour ----------------------------------------------------------
MDM_INGEST_MAX_BATCH = env("MDM_INGEST_MAX_BATCH")
# Processes standardizing a large file's next chunks while the ingest writes the current one.
MDM_INGEST_PREPARERS = max(1, env("MDM_INGEST_PREPARERS"))
# A batch match recomputing more golden records than this hands them to the
# background recompute job (parallel slices, progress) instead of doing it inline.
MDM_MATCH_INLINE_RECOMPUTE = env.int("MDM_MATCH_INLINE_RECOMPUTE", default=5000)
MDM_ENTITY_CONFIG_DIR = BASE_DIR / "mdm" / "config" / "entities"
MDM_WEBHOOK_CONNECT_TIMEOUT = env("MDM_WEBHOOK_CONNECT_TIMEOUT")
MDM_WEBHOOK_READ_TIMEOUT = env("MDM_WEBHOOK_READ_TIMEOUT")
MDM_WEBHOOK_MAX_ATTEMPTS = env("MDM_WEBHOOK_MAX_ATTEMPTS")
# A rule change recomputes golden records in this many parallel slices (one
# per worker process is the useful maximum).
MDM_RECOMPUTE_SLICES = env("MDM_RECOMPUTE_SLICES")
# Retry n waits about base * factor**(n-1) seconds (capped, ±20 % jitter):
# 10 s, 40 s, 2m40, 10m40, 43 m, 2h50, 6 h with the defaults, ~10 h in all.
MDM_WEBHOOK_BACKOFF_BASE = env("MDM_WEBHOOK_BACKOFF_BASE")
MDM_WEBHOOK_BACKOFF_FACTOR = env("MDM_WEBHOOK_BACKOFF_FACTOR")
MDM_WEBHOOK_BACKOFF_MAX = env("MDM_WEBHOOK_BACKOFF_MAX")
# How long a claimed (sending) delivery belongs to its worker before the
# sweeper assumes the worker died; 0: connect + read timeout + 30 s.
MDM_WEBHOOK_LEASE = env("MDM_WEBHOOK_LEASE") or (MDM_WEBHOOK_CONNECT_TIMEOUT + MDM_WEBHOOK_READ_TIMEOUT + 30.0)
# Retries due within this many seconds are scheduled as Celery countdowns;
# later ones are left to the sweeper (a broker holding hour-long ETAs redelivers them).
MDM_WEBHOOK_ETA_MAX = env("MDM_WEBHOOK_ETA_MAX")
MDM_SWEEP_INTERVAL = env("MDM_SWEEP_INTERVAL")
# A record still waiting for matching this many seconds after it arrived lost
# its match task (a broker restarted, a task failed for good): the pending-match
# sweeper enqueues it again. Big loads queue for minutes, so not too eager.
MDM_MATCH_SWEEP_GRACE = env("MDM_MATCH_SWEEP_GRACE")
# Match models are retrained by the match task that finds a source with twice the records the model was
# trained on (a new source first of all); one trained on fewer records than this is still learning, and its
# retrain also re-decides what it linked. The dashboard shows which source starts the next. 0: no automatic
# retraining.
MDM_AUTO_RETRAIN_BELOW = env("MDM_AUTO_RETRAIN_BELOW")
# Seconds an API sync cursor stays behind the oldest open transaction (and
# now), for clock differences between application servers and the database.
MDM_SYNC_MARGIN = env("MDM_SYNC_MARGIN")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
