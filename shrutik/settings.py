"""Shrutik settings: one module, driven by environment variables.

With no variable set the app runs in its *embedded* shape (SQLite, filesystem
storage and a filesystem Celery broker, all under ``var/``). Setting
``DATABASE_URL``, ``REDIS_URL``/``CELERY_BROKER_URL`` and ``AWS_*`` switches the
same code to PostgreSQL, Redis and S3-compatible storage. ``.env.example`` lists
every variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development; real deployments pass variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("SHRUTIK_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

# Every value read through secret(): the logs, health answers and error pages
# never show them (shrutik/redaction.py). Named so that Django's own error
# reports hide the setting itself.
SECRET_VALUES: set[str] = set()


def secret_is_set(name: str) -> bool:
    return bool(os.environ.get(name) or os.environ.get(f"{name}_FILE"))


def secret(name: str, default: str | None = None) -> str:
    """A secret setting: ``NAME``, or the contents of the file named by ``NAME_FILE``.

    Docker and Kubernetes mount secrets as files, which keeps them out of the
    process environment (``docker inspect``, ``/proc/<pid>/environ``, crash
    dumps). One trailing line break, as ``echo`` leaves, is not part of the
    value. Setting both is a mistake: which one wins would be a guess.
    """
    file_var = f"{name}_FILE"
    path = os.environ.get(file_var, "")
    if path and os.environ.get(name):
        raise ImproperlyConfigured(
            f"Both {name} and {file_var} are set; keep one ({file_var} for a secret "
            "mounted as a file)."
        )
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ImproperlyConfigured(
                f"{file_var} names {path}, which cannot be read: {reason}."
            ) from None
    elif default is None:
        value = env.str(name)
    else:
        value = env.str(name, default=default)
    _remember_secret(value)
    return value


def _remember_secret(value: str) -> None:
    # Shorter values could not be told from ordinary words in a log line, and
    # are not secrets worth the name; a URL's password also appears on its own
    # (decoded) in connection settings and driver messages.
    candidates = {value}
    if "://" in value:
        password = urlsplit(value).password
        if password:
            candidates |= {password, unquote(password)}
    SECRET_VALUES.update(c for c in candidates if len(c) >= 8)


# The embedded shape is "nothing configured": no external database means one
# machine, where generating and keeping a local secret is safe. Anywhere else a
# missing SECRET_KEY must stop the process instead of silently using a weak key.
EMBEDDED = not secret_is_set("DATABASE_URL")


def _embedded_secret_key() -> str:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if "SECRET_KEY" in env or "SECRET_KEY_FILE" in env:
    SECRET_KEY = secret("SECRET_KEY")
elif EMBEDDED:
    SECRET_KEY = _embedded_secret_key()
else:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set the SECRET_KEY environment variable, or SECRET_KEY_FILE "
        "to a file holding it (a long random string, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`); "
        "only the embedded default (no DATABASE_URL) generates one by itself."
    )

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A styled, translated page that says what to do (reload, allow cookies).
CSRF_FAILURE_VIEW = "shrutik.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "storages",
    "django_prometheus",
    "axes",
    "csp",
    "shrutik",
    "contributors",
    "recordings",
    "transcriptions",
    "consensus",
    "exports",
    "dashboard",
    "live",
    "campaigns",
]

MIDDLEWARE = [
    # First and last: request metrics time everything in between.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "shrutik.logging.RequestIdMiddleware",
    # /healthz, /healthz/live, /healthz/ready: before the host check and the
    # HTTPS redirect, which probes to a pod's address would fail.
    "shrutik.views.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "shrutik.csp.ShrutikCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout flagged during authentication into its response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "shrutik.urls"
WSGI_APPLICATION = "shrutik.wsgi.application"
ASGI_APPLICATION = "shrutik.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shrutik.context_processors.roles",
                "shrutik.context_processors.licence",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
if EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Web and worker processes share the file. Write-ahead logging lets
            # readers (task requests, the lock-free half of a decision) go on
            # while one writer commits; without it a burst of submissions
            # answered 503 "database is locked". A writer waits up to 20 s for
            # another rather than failing, and takes the write lock up front.
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000"
                ),
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
else:
    # One psycopg pool per process and database (web process, worker child), so
    # a process never holds more than DB_POOL_MAX_SIZE connections to a server
    # however many threads serve it: under ASGI every request runs in a thread
    # of its own, and persistent per-thread connections piled up until
    # PostgreSQL refused clients. docs/operations.md adds the processes up
    # against max_connections. Django closes each request's or task's
    # connection back into the pool, which is why persistent connections must
    # stay off.
    def _pooled(url: str) -> dict:
        database = env.db_url_config(url)
        database["CONN_MAX_AGE"] = 0
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=4),
            # A request that waits longer for a free connection gets a 503 (and a
            # task a retry) instead of queueing without bound.
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
            # Idle connections above min_size are closed after this long.
            "max_idle": env.float("DB_POOL_MAX_IDLE", default=300.0),
        }
        # The pool checks a connection before handing it out, so one dropped by
        # the server (restart, failover) is replaced instead of failing its request.
        database["CONN_HEALTH_CHECKS"] = True
        return database

    DATABASES = {"default": _pooled(secret("DATABASE_URL"))}
    # A streaming replica for the heavy reads: statistics, dashboards, export
    # planning and the nightly re-estimation (shrutik/db.py routes them).
    # Everything else, and every read inside a transaction, stays on the
    # primary: leases and submissions must see the writes just made.
    if secret_is_set("DATABASE_REPLICA_URL"):
        DATABASES["replica"] = _pooled(secret("DATABASE_REPLICA_URL"))
        DATABASE_ROUTERS = ["shrutik.db.ReplicaRouter"]
# Export planning waits this long for the replica to replay what the primary
# had committed when the export was asked for, then plans on the primary.
REPLICA_CATCH_UP_SECONDS = env.float("REPLICA_CATCH_UP_SECONDS", default=10.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "contributors.User"

# Lockout check first: a locked-out username and address never reach the password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "profile"
LOGOUT_REDIRECT_URL = "home"

# --- Cache (throttles, worker heartbeat) ----------------------------------------
REDIS_URL = secret("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Degrades to misses while Redis is down (shrutik/cache.py).
            "BACKEND": "shrutik.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="shrutik"),
            # Bounded: a hung Redis must not hang requests.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # File-based so that the web and worker processes of the embedded shape share
    # throttle counters and the worker heartbeat.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("bn", "বাংলা")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and storage ---------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
STORAGE_BACKEND = "s3" if AWS_STORAGE_BUCKET_NAME else "filesystem"
if STORAGE_BACKEND == "s3":
    # Imported only here: botocore is large, and the embedded shape never uses it.
    from botocore.config import Config as BotoConfig

    _default_storage = {
        "BACKEND": "shrutik.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            # Where browsers reach the same storage, when not at endpoint_url
            # (compose: through nginx); signed URLs are made for it.
            "public_endpoint_url": env.str("AWS_S3_PUBLIC_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": secret("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": secret("AWS_SECRET_ACCESS_KEY", default="") or None,
            # Recordings are personal data: objects are private and reached only
            # through short-lived signed URLs.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=600),
            "file_overwrite": False,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            # Bounded timeouts: a dead endpoint must become a quick 503, not a
            # request that hangs for botocore's default minute per attempt.
            "client_config": BotoConfig(
                connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}
            ),
        },
    }
else:
    # Private by construction: MEDIA_ROOT is never served directly; audio goes out
    # through authenticated views.
    MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = secret("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings; kombu's default is a folder in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    _visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=60)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # acks_late leaves a task's message in Redis's unacked set until the
        # task is done; any worker puts back a message left there this long.
        # Live workers refresh the messages they hold every quarter of it
        # (shrutik.worker.UnackedHeartbeat), so a long task is never handed to
        # a second worker, and a killed worker's work resumes within about a
        # minute and a half: the timeout plus one restore interval.
        "visibility_timeout": _visibility_timeout,
        "unacked_restore_interval": max(1, min(10, _visibility_timeout // 4)),
        "unacked_restore_throttle": 1,
        # An unreachable broker fails an enqueue in seconds (the upload is kept
        # and the sweeper enqueues it later) instead of holding the request.
        "socket_connect_timeout": 5,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "recordings.*": {"queue": "audio"},
    "consensus.*": {"queue": "consensus"},
    "exports.*": {"queue": "exports"},
}
CELERY_WORKER_QUEUES = env.list(
    "CELERY_WORKER_QUEUES", default=["default", "audio", "consensus", "exports"]
)
# A worker (and beat) keeps trying to reach the broker for as long as it is
# gone, at start and after losing it; shrutik.worker.Consumer keeps the loss
# itself from stopping the worker. Tasks running when the connection dropped
# cannot be acknowledged any more: they are stopped, and their messages run
# again once redelivered.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_CONSUMER = "shrutik.worker:Consumer"
# On SIGTERM a worker stops taking tasks and lets the running ones finish; after
# this many seconds it stops them and puts their messages back on the queue
# (shrutik.worker.requeue_after_grace). Keep it under the orchestrator's grace
# period. 0: wait for the tasks however long they take.
WORKER_SHUTDOWN_GRACE_SECONDS = env.float("WORKER_SHUTDOWN_GRACE_SECONDS", default=0.0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic task, in one table: name → (task, seconds between runs).
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": seconds}
    for name, (task, seconds) in {
        # Proof of life for /healthz (WORKER_HEARTBEAT_MAX_AGE).
        "worker-heartbeat": ("shrutik.heartbeat", 30.0),
        # Recordings stuck in processing (RECORDING_STUCK_AFTER_SECONDS).
        "recordings-sweep": ("recordings.sweep", 300.0),
        # Erased contributors' audio past ERASURE_GRACE_DAYS.
        "recordings-erased-audio-sweep": ("recordings.erased_audio_sweep", 3600.0),
        # Chunks whose decision message was lost (CONSENSUS_STUCK_AFTER_SECONDS).
        "consensus-sweep": ("consensus.sweep", 300.0),
        # Chunks nobody is left to answer (CONSENSUS_IDLE_HOURS, CONSENSUS_ACTIVE_DAYS).
        "consensus-finish-unanswerable": ("consensus.finish_unanswerable", 3600.0),
        # The nightly joint re-estimation of reliabilities, then re-scoring.
        "consensus-reestimate": ("consensus.reestimate", 24 * 3600.0),
        # Live sessions abandoned past their expiry.
        "live-expire": ("live.expire", 300.0),
        # Exports with no live attempt (EXPORT_STALL_SECONDS).
        "exports-sweep": ("exports.sweep", 300.0),
    }.items()
}
WORKER_HEARTBEAT_MAX_AGE = 120
# /healthz/ready answers within this many seconds, whatever hangs.
HEALTH_TIMEOUT_SECONDS = env.float("HEALTH_TIMEOUT_SECONDS", default=3.0)

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "contributors.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # DRF's parsers, refusing what they would fail on or garble: deeply nested
    # JSON, form text that is not UTF-8.
    "DEFAULT_PARSER_CLASSES": [
        "shrutik.parsers.JSONParser",
        "shrutik.parsers.FormParser",
        "shrutik.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "shrutik.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "shrutik.api.AutoSchema",
    "EXCEPTION_HANDLER": "shrutik.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        "register": env.str("THROTTLE_REGISTER", default="5/min"),
        "token_refresh": env.str("THROTTLE_TOKEN_REFRESH", default="30/min"),
        "upload": env.str("THROTTLE_UPLOAD", default="30/hour"),
        "submit": env.str("THROTTLE_SUBMIT", default="600/hour"),
        # Join codes are guessed one try per request: a few a minute per client
        # makes guessing a live campaign's code hopeless (campaigns/codes.py).
        "campaign_join": env.str("THROTTLE_CAMPAIGN_JOIN", default="10/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": secret("JWT_SIGNING_KEY", default="") or SECRET_KEY,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Shrutik API",
    "DESCRIPTION": "Crowdsourced speech datasets: record, transcribe, decide, export.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
}

# --- E-mail (password reset) ----------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587, smtp+tls://..., smtp+ssl://...) or the
# EMAIL_HOST family; with neither, the embedded shape prints messages on the
# console, where `make run` shows them, and a deployment tries an SMTP server on
# localhost (a failed send is logged; the reset page answers as usual).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Shrutik <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The URL and the password are secrets (EMAIL_URL_FILE, EMAIL_HOST_PASSWORD_FILE).
_email_url = secret("EMAIL_URL", default="")
if _email_url:
    _email = environ.Env.email_url_config(_email_url)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
    EMAIL_PORT = _email.get("EMAIL_PORT", 25)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
elif env.str("EMAIL_HOST", default="") or not EMBEDDED:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = secret("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# A bounded wait: a dead mail server must not hold a request for minutes.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Reset links work this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 3600)
# Reset e-mails one address (and one client address) may ask for per hour:
# the form is open to anyone, and must not become a way to flood an inbox.
PASSWORD_RESET_PER_HOUR = env.int("PASSWORD_RESET_PER_HOUR", default=5)

# --- Product settings -----------------------------------------------------------
# Registering requires accepting this version of the contributor agreement; bumping
# it asks existing contributors to consent again before they contribute. Its text
# is templates/contributors/agreement/<version>.html (a check says if it is missing).
CONSENT_VERSION = env.str("CONSENT_VERSION", default="2026-11")
# A script is withdrawn from reading once this many contributors reported it
# (typo, offensive, wrong language, hard to read); admins review the reports.
SCRIPT_REPORTS_TO_WITHDRAW = env.int("SCRIPT_REPORTS_TO_WITHDRAW", default=3)
ROLE_GROUPS = ("contributor", "reviewer", "researcher", "organiser")

# --- Security -------------------------------------------------------------------
# A deployment is served over HTTPS, usually by a proxy that terminates TLS and
# says so in X-Forwarded-Proto (deploy/nginx.conf sets it). Plain-HTTP setups
# (the local docker compose) opt out explicitly; the embedded shape is local only.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not EMBEDDED)
# Prometheus scrapes metrics over plain HTTP inside the network (health probes
# are answered before the redirect: shrutik.views.HealthMiddleware).
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not EMBEDDED)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not EMBEDDED)
# Sent on HTTPS responses only, so it never affects a plain-HTTP setup.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if EMBEDDED else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy for every page: scripts, styles and fonts from this
# site only (no inline code), audio from this site, recorder blobs and the
# object store (added per request by ShrutikCSPMiddleware, with the WebSocket
# origin of live recording).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "media-src": ["'self'", "blob:", *env.list("CSP_MEDIA_ORIGINS", default=[])],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Login protection (django-axes): this many failed logins for one username from
# one address locks that pair out for AXES_COOLOFF_MINUTES, on the web login, the
# admin login and the token API alike. Admins lift a lockout early in the admin
# ("Access attempts") or with `manage.py axes_reset_username <name>`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "contributors.lockout.lockout_response"
# The client address is the one the nearest trusted proxy appended to
# X-Forwarded-For (one proxy in front by default when deployed, as
# SECURE_PROXY_SSL_HEADER assumes). Without a proxy the header is the client's
# own say-so and is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0 if EMBEDDED else 1)
AXES_CLIENT_IP_CALLABLE = "contributors.lockout.client_ip"
# The username tried, not the password, goes to the log.
AXES_SENSITIVE_PARAMETERS = ["password"]
# Failed attempts are kept (until the cool-off ends) to decide lockouts; a
# history of every successful login would be personal data with no use here.
AXES_DISABLE_ACCESS_LOG = True
# No "AXES: BEGIN ..." banner at the start of every process and command.
AXES_VERBOSE = False

# --- Logs and metrics -----------------------------------------------------------
# JSON lines (one object per record, with the request id) where logs are collected
# by machines; readable text on the embedded default. shrutik/logging.py.
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("text" if EMBEDDED else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "shrutik.logging.RequestIdFilter"},
        "redact_secrets": {"()": "shrutik.redaction.RedactSecretsFilter"},
        "client_error": {"()": "shrutik.logging.ClientErrorFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["request_id", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Only through the handler above: Django's own defaults would also
        # print errors, unformatted and unredacted, to stderr when DEBUG is on.
        "django": {"handlers": [], "propagate": True},
        # A 403 or 404 is one line, without a traceback.
        "django.request": {"filters": ["client_error"]},
    },
}
# Error reports (the DEBUG page, admin mails) without the configured secrets.
DEFAULT_EXCEPTION_REPORTER = "shrutik.redaction.SecretRedactingExceptionReporter"
if EMBEDDED:
    # A terminal a person reads (`make run`): no line per task received and
    # succeeded (the heartbeat alone makes two a minute); failures still show.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}
    LOGGING["loggers"]["celery.worker.strategy"] = {"level": "WARNING"}
if CELERY_BROKER_URL == "filesystem://":
    # The filesystem broker's URL has no host, which kombu warns about on every
    # connection; that is its only warning for this transport.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
# Workers log through the same handlers (JSON, request ids) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# GET /metrics (shrutik/metrics.py): a bearer token for Prometheus, addresses
# allowed without one, or a staff login. Nothing else can read it.
METRICS_TOKEN = secret("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Database aggregates behind the product metrics are recomputed at most this often.
METRICS_CACHE_SECONDS = env.int("METRICS_CACHE_SECONDS", default=30)

# --- Recordings -----------------------------------------------------------------
RECORDING_MAX_BYTES = env.int("RECORDING_MAX_BYTES", default=200 * 1024 * 1024)
# A reading may take this many times the script's estimate (plus the slack) before
# it is refused: slow readers and pauses are normal, an hour for one sentence is not.
RECORDING_MAX_DURATION_FACTOR = env.float("RECORDING_MAX_DURATION_FACTOR", default=3.0)
RECORDING_DURATION_SLACK_SECONDS = env.float("RECORDING_DURATION_SLACK_SECONDS", default=30.0)
RECORDING_MIN_DURATION_FACTOR = env.float("RECORDING_MIN_DURATION_FACTOR", default=0.35)
RECORDING_ABSOLUTE_MAX_SECONDS = env.float("RECORDING_ABSOLUTE_MAX_SECONDS", default=2 * 3600)
RECORDING_STUCK_AFTER_SECONDS = env.int("RECORDING_STUCK_AFTER_SECONDS", default=15 * 60)
# recordings.process: a soft limit to reject the reading with a reason, then
# the hard one. An attempt may be alive until the hard limit, so the sweeper
# leaves a recording in processing alone until it has passed.
RECORDING_PROCESS_SOFT_TIME_LIMIT = 1200
RECORDING_PROCESS_TIME_LIMIT = 1260
RECORDING_MAX_ATTEMPTS = env.int("RECORDING_MAX_ATTEMPTS", default=5)
CHUNK_TRANSCRIPTIONS_REQUIRED = env.int("CHUNK_TRANSCRIPTIONS_REQUIRED", default=2)
SIGNED_URL_SECONDS = env.int("SIGNED_URL_SECONDS", default=600)
# An open chunk holding every transcription it asked for, untouched this long,
# lost the message asking for its decision: the sweep asks again.
CONSENSUS_STUCK_AFTER_SECONDS = env.int("CONSENSUS_STUCK_AFTER_SECONDS", default=10 * 60)
CONSENSUS_SWEEP_BATCH = env.int("CONSENSUS_SWEEP_BATCH", default=10_000)
# An open chunk that waited this long for its next answer, when every
# volunteer active in its language within CONSENSUS_ACTIVE_DAYS has already
# answered, skipped or recorded it, is finished with what it has.
CONSENSUS_IDLE_HOURS = env.float("CONSENSUS_IDLE_HOURS", default=24.0)
CONSENSUS_ACTIVE_DAYS = env.float("CONSENSUS_ACTIVE_DAYS", default=14.0)
# An erased contributor's audio is deleted this many days after the erasure
# (at once if they ask); the hourly sweep does it, and is safe to repeat.
ERASURE_GRACE_DAYS = env.int("ERASURE_GRACE_DAYS", default=30)

# --- Live recording (WebSocket) ---------------------------------------------------
# Sockets share a Redis channel layer across web processes when Redis is there;
# the embedded shape keeps it in memory (one machine, and a session taken over
# from another process is still safe: appends are conditional on the sequence).
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # Longer than the layer's 5 s blocking pop: redis-py's default read
                # timeout (5 s) would otherwise break every idle socket's receive.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": env.str("CACHE_KEY_PREFIX", default="shrutik") + ":asgi",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
LIVE_FRAME_MAX_BYTES = env.int("LIVE_FRAME_MAX_BYTES", default=256 * 1024)
LIVE_IDLE_SECONDS = env.int("LIVE_IDLE_SECONDS", default=30 * 60)
LIVE_MAX_SESSIONS_PER_USER = env.int("LIVE_MAX_SESSIONS_PER_USER", default=2)
LIVE_STAGING_MAX_BYTES = env.int("LIVE_STAGING_MAX_BYTES", default=2 * 1024**3)
# One reader's share of it, across their sessions in progress: over two hours of
# the record page's 64 kbit/s Opus, and it takes 32 readers to fill the whole.
LIVE_STAGING_MAX_BYTES_PER_USER = env.int("LIVE_STAGING_MAX_BYTES_PER_USER", default=64 * 1024**2)
# Bytes a stream may be ahead of the audio its decoder has produced (live/decoder.py):
# room for a container header and what is still being decoded when the next frame comes.
LIVE_UNDECODED_MAX_BYTES = env.int("LIVE_UNDECODED_MAX_BYTES", default=512 * 1024)
LIVE_STATUS_POLL_SECONDS = env.float("LIVE_STATUS_POLL_SECONDS", default=1.0)
LIVE_STATUS_FOLLOW_SECONDS = env.int("LIVE_STATUS_FOLLOW_SECONDS", default=15 * 60)

# --- Campaigns --------------------------------------------------------------------
# How often each web process looks for a campaign's new events (one indexed
# query per watched campaign) and, when there are some, pushes the progress to
# its sockets: the most messages a watcher gets per second is its inverse.
CAMPAIGN_PUSH_SECONDS = env.float("CAMPAIGN_PUSH_SECONDS", default=0.5)
CAMPAIGN_EVENTS_SHOWN = env.int("CAMPAIGN_EVENTS_SHOWN", default=10)
CAMPAIGN_TOP_PARTICIPANTS = env.int("CAMPAIGN_TOP_PARTICIPANTS", default=5)

# --- Transcription tasks --------------------------------------------------------
LEASE_SECONDS = env.int("LEASE_SECONDS", default=600)
LEASE_MAX_COUNT = env.int("LEASE_MAX_COUNT", default=20)

# --- Consensus ------------------------------------------------------------------
# Every threshold of the consensus engine is a field of EngineConfig
# (consensus/engine/schema.py); unset ones keep the defaults chosen on the
# CrowdSpeech dev splits (docs/consensus.md).
# JSON object of overrides, e.g. CONSENSUS_CONFIG='{"max_transcripts": 4, "audit_rate": 0.05}'.
CONSENSUS_CONFIG = env.json("CONSENSUS_CONFIG", default={})
# Chunks a language's reviewers clear in a day. While its review queue holds
# more, the engine asks one more volunteer (or settles for the crowd's text)
# instead of sending a chunk to review. REVIEWS_PER_DAY_BY_LANGUAGE overrides it
# per language code, e.g. '{"bn": 200}'.
REVIEWS_PER_DAY = env.int("REVIEWS_PER_DAY", default=50)
REVIEWS_PER_DAY_BY_LANGUAGE = env.json("REVIEWS_PER_DAY_BY_LANGUAGE", default={})
if not isinstance(REVIEWS_PER_DAY_BY_LANGUAGE, dict) or not all(
    isinstance(n, int) and n >= 0 for n in REVIEWS_PER_DAY_BY_LANGUAGE.values()
):
    raise ImproperlyConfigured(
        'REVIEWS_PER_DAY_BY_LANGUAGE must map language codes to counts, e.g. {"bn": 200}.'
    )
STATS_CACHE_SECONDS = env.int("STATS_CACHE_SECONDS", default=60)

# --- Exports --------------------------------------------------------------------
# Exported speaker ids are HMAC-SHA256 of the pseudonymous speaker_id under this
# key. Empty derives one from SECRET_KEY; set it explicitly so that rotating
# SECRET_KEY does not rename every speaker in later exports.
EXPORT_SPEAKER_KEY = secret("EXPORT_SPEAKER_KEY", default="")
# Chunks fetched, written and uploaded per step: bounds the worker's memory
# (about EXPORT_BATCH_SIZE clips in flight) whatever the export size.
EXPORT_BATCH_SIZE = env.int("EXPORT_BATCH_SIZE", default=128)
EXPORT_IO_THREADS = env.int("EXPORT_IO_THREADS", default=8)
EXPORT_PARQUET_SHARD_ROWS = env.int("EXPORT_PARQUET_SHARD_ROWS", default=2000)
EXPORT_WEBDATASET_SHARD_BYTES = env.int("EXPORT_WEBDATASET_SHARD_BYTES", default=256 * 1024**2)
# Single-archive downloads stream through a web process: only for small exports.
EXPORT_ARCHIVE_MAX_BYTES = env.int("EXPORT_ARCHIVE_MAX_BYTES", default=2 * 1024**3)
EXPORT_DOWNLOAD_URL_SECONDS = env.int("EXPORT_DOWNLOAD_URL_SECONDS", default=900)
# A running export's message is kept from other workers by its worker's
# heartbeat (shrutik.worker.UnackedHeartbeat), whatever this limit.
EXPORT_TIME_LIMIT_SECONDS = env.int("EXPORT_TIME_LIMIT_SECONDS", default=10000)
EXPORT_MAX_ATTEMPTS = env.int("EXPORT_MAX_ATTEMPTS", default=3)
# An export with no progress for this long has no live attempt (its worker was
# killed or its message lost); the sweeper starts it again.
EXPORT_STALL_SECONDS = env.int("EXPORT_STALL_SECONDS", default=1800)
EXPORT_LICENCE = env.str("EXPORT_LICENCE", default="CC-BY-4.0")
# Empty: "Shrutik contributors (<year>). Shrutik speech dataset, version <label>."
EXPORT_CITATION = env.str("EXPORT_CITATION", default="")
# Researchers accept this version of the data terms when they ask for access
# (templates/exports/data_terms.html); the version is stored with each request.
DATA_TERMS_VERSION = env.str("DATA_TERMS_VERSION", default="2026-12")
# The export API reuses the chunk status, gender and age-range vocabularies as
# filters; one schema name per choice set keeps generated clients tidy.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "ChunkStatusEnum": "recordings.models.ChunkStatus",
        "GenderEnum": "contributors.models.Gender",
        "AgeRangeEnum": "contributors.models.AgeRange",
        "ExportStatusEnum": "exports.models.ExportStatus",
        "NoiseSourceEnum": "exports.processing.NOISE_SOURCES",
        # Keeps its name now that export noise options also have a "source".
        "SourceEnum": "transcriptions.models.TranscriptionSource",
        "RecordingStatusEnum": "recordings.models.RecordingStatus",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "TranscriptionFlagEnum": "transcriptions.models.Flag",
        "ScriptReportReasonEnum": "recordings.models.ScriptReportReason",
        # A lease's mode, and what a task request may ask for (adds "auto").
        "TaskModeEnum": "recordings.models.TaskMode",
        "TaskRequestModeEnum": "transcriptions.api.TASK_REQUEST_MODES",
    }
)

# Nightly joint re-estimation of contributor reliabilities (EM over recent decisions).
RELIABILITY_REESTIMATE_CHUNKS = env.int("RELIABILITY_REESTIMATE_CHUNKS", default=50_000)
