"""CitySafety settings: one module, configured by environment variables.

Development defaults work with no environment at all; every value read from
the environment is parsed strictly and a bad one stops the process with a
message naming it (``DEBUG=maybe`` is an error, not False).
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_bool(name: str, *, default: bool) -> bool:
    """django-environ reads any unknown word as False; a typo must not turn DEBUG off silently."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


# --- Core -----------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=True)
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production-0123456789"  # noqa: S105 - development only
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "leaflet",
    "pgtrigger",
    "pghistory",
    "organisation",
    "notifications",
    "monitoring",
    "warning",
    "dispatch",
    "surroundings",
    "dashboard",
    "reports",
    "demo",
    "audit",
]

MIDDLEWARE = [
    "citysafety.middleware.DrainUnreadBodyMiddleware",
    # Before every middleware that reads or writes the body: it compresses last.
    "citysafety.middleware.ApiCompressionMiddleware",
    # Outside every middleware that may refuse a request with an HTML page.
    "citysafety.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after the person is known: everything after it may read the database.
    "citysafety.middleware.DatabaseUnavailableMiddleware",
    # Names the signed-in person in the audit events the request writes.
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "citysafety.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "citysafety.urls"
WSGI_APPLICATION = "citysafety.wsgi.application"
ASGI_APPLICATION = "citysafety.asgi.application"

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
                "dashboard.context_processors.roles",
                "notifications.context_processors.unread",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default="postgis://postgres@127.0.0.1:5432/citysafety",
        engine="django.contrib.gis.db.backends.postgis",
    ),
}
# Anything but PostGIS would lose the geometry columns silently.
if DATABASES["default"]["ENGINE"] != "django.contrib.gis.db.backends.postgis":
    DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Seconds a process keeps its database connection between requests (or
# Celery tasks) instead of connecting for each. 0 by default, and always 0
# under daphne (asgi.py): under ASGI each request runs its sync code on a
# thread of its own that ends with the request, so a kept connection is never
# reused and is left open (Django's documentation: persistent connections
# should be disabled with ASGI; ticket #33497). gunicorn's sync workers
# (gunicorn.conf.py) and the Celery worker (scripts/run.sh,
# docker-compose.yml) keep theirs.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
# A kept connection that the server closed meanwhile (restart, idle timeout)
# is found and replaced before a request uses it, not by that request failing.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast when the database is away so the API can answer 503 promptly.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, Channels ----------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An enqueue while Redis is down must not hang the ingest request: the
# readings are already committed and the periodic sweep evaluates them later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Audit events older than AUDIT_RETENTION_DAYS are dropped (the only deletion of the trail).
    "prune-audit-trail": {
        "task": "audit.tasks.prune_audit_trail",
        "schedule": 24 * 3600.0,
    },
    "evaluate-pending-readings": {
        "task": "warning.tasks.evaluate_pending_sensors",
        "schedule": env.float("EVALUATION_SWEEP_SECONDS", default=30.0),
    },
    # Silences that ended are lifted (their sensors' latest readings
    # evaluated); flapping marks of quiet warnings cleared.
    "lift-silences": {
        "task": "warning.tasks.lift_silences",
        "schedule": env.float("SILENCE_SWEEP_SECONDS", default=30.0),
    },
    "mark-offline-sensors": {
        "task": "monitoring.tasks.mark_offline_sensors",
        "schedule": 60.0,
    },
    "warn-silent-sensors": {
        "task": "warning.tasks.warn_silent_sensors",
        "schedule": env.float("NO_DATA_SWEEP_SECONDS", default=60.0),
    },
    # Partitions ahead, retention by dropping whole partitions, the default
    # partition emptied. Hourly: a week of partitions is made ahead.
    "maintain-partitions": {
        "task": "monitoring.tasks.maintain_partitions",
        "schedule": env.float("PARTITION_MAINTENANCE_SECONDS", default=3600.0),
    },
    "roll-up-readings": {
        "task": "monitoring.tasks.roll_up_readings",
        "schedule": env.float("ROLLUP_SECONDS", default=60.0),
    },
    "mark-overdue-work-orders": {
        "task": "dispatch.tasks.mark_overdue_work_orders",
        "schedule": 30.0,
    },
    # E-mails and SMS of notifications made while the broker was down.
    "send-missed-notifications": {
        "task": "notifications.tasks.send_missed_notifications",
        "schedule": env.float("NOTIFICATION_SWEEP_SECONDS", default=60.0),
    },
    # Reminders and escalations of orders past a deadline (dispatch.EscalationStep).
    "escalate-overdue-work-orders": {
        "task": "dispatch.tasks.escalate_overdue_work_orders",
        "schedule": env.float("ESCALATION_SWEEP_SECONDS", default=30.0),
    },
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [env.str("CHANNEL_LAYER_REDIS_URL", default=REDIS_URL)]},
    },
}

# --- Auth -----------------------------------------------------------------

# Password policy, lockout, idle timeout and second factor: "Sign-in" at the end.
# Messages in the session, not a cookie: the admin shows a new gateway token
# in one, and it must not travel in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation -------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
if not DEBUG:
    # Serves collected static files when DEBUG is off (daphne serves none).
    # Right after SecurityMiddleware, as whitenoise asks.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# --- REST API -------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "citysafety.api.AutoSchema",
    "EXCEPTION_HANDLER": "citysafety.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CitySafety API",
    "DESCRIPTION": "City safety risk monitoring and early-warning platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the package: the docs page must work without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models share field names with different choices (status, level).
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "warning.models.Level",
        "WarningStatusEnum": "warning.models.WarningStatus",
        "WorkOrderStatusEnum": "dispatch.models.WorkOrderStatus",
        "SensorStatusEnum": "monitoring.models.SensorStatus",
        "TransitionKindEnum": "warning.models.TransitionKind",
        "WorkOrderEventKindEnum": "dispatch.models.WorkOrderEventKind",
        "DirectionEnum": "warning.models.Direction",
        "FalseAlarmReasonEnum": "warning.models.FalseAlarmReason",
        "VerificationStatusEnum": "warning.models.VerificationStatus",
    },
}

# --- Domain ---------------------------------------------------------------

# Largest batch a gateway may post in one request.
INGEST_MAX_BATCH = env.int("INGEST_MAX_BATCH", default=1000)
# How far ahead of the server clock a reading's timestamp may lie.
INGEST_MAX_FUTURE_SECONDS = env.int("INGEST_MAX_FUTURE_SECONDS", default=300)
# How old a reading may be: a gateway's buffer, not a clock stuck in 1970.
INGEST_MAX_AGE_DAYS = env.int("INGEST_MAX_AGE_DAYS", default=30)
# Overload: while the oldest unevaluated reading has waited longer than this,
# gateways are told to come back later (429 with Retry-After) instead of
# piling up more than evaluation can see to.
INGEST_MAX_EVALUATION_LAG_SECONDS = env.int("INGEST_MAX_EVALUATION_LAG_SECONDS", default=60)
# The duty officer's page says that evaluation lags once it is this far behind.
EVALUATION_LAG_NOTICE_SECONDS = env.int("EVALUATION_LAG_NOTICE_SECONDS", default=10)
# A batch that waits this long for its sensors' locks, or for a statement,
# is answered 503 with Retry-After at once rather than left to hang.
INGEST_LOCK_TIMEOUT_MS = env.int("INGEST_LOCK_TIMEOUT_MS", default=5000)
INGEST_STATEMENT_TIMEOUT_MS = env.int("INGEST_STATEMENT_TIMEOUT_MS", default=15000)
# Readings, minute and hour roll-ups older than this many days are dropped,
# a whole day's (a month's for hours) partition at a time (0 keeps them all).
READING_RETENTION_DAYS = env.int("READING_RETENTION_DAYS", default=0)
# A rule's backtest in the admin reads this many days at most, and refuses
# to read more readings than this into memory (about 40 bytes each).
BACKTEST_MAX_DAYS = env.int("BACKTEST_MAX_DAYS", default=90)
BACKTEST_MAX_READINGS = env.int("BACKTEST_MAX_READINGS", default=10_000_000)
MINUTE_ROLLUP_RETENTION_DAYS = env.int("MINUTE_ROLLUP_RETENTION_DAYS", default=0)
HOUR_ROLLUP_RETENTION_DAYS = env.int("HOUR_ROLLUP_RETENTION_DAYS", default=0)
# Days of reading partitions made ahead of the clock (pg_partman's premake).
READING_PARTITIONS_AHEAD = env.int("READING_PARTITIONS_AHEAD", default=7)
if READING_PARTITIONS_AHEAD < 1:
    raise ImproperlyConfigured("READING_PARTITIONS_AHEAD must be at least 1 (days of partitions made ahead).")
# A sensor's chart reads the readings themselves up to this span, the hour
# roll-ups beyond it.
READING_CHART_RAW_MAX_HOURS = env.int("READING_CHART_RAW_MAX_HOURS", default=24)
# Base map tiles; empty means the district polygons alone form the base map.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="")
# How long a live socket trusts the rights it looked up: a person moved to
# another department, stripped of a role or deactivated stops hearing what
# they no longer may within this time, without reconnecting.
LIVE_RIGHTS_TTL_SECONDS = env.float("LIVE_RIGHTS_TTL_SECONDS", default=30.0)
# A warning's new value (no change of level) reaches the duty officers'
# screens at most once per warning per this many seconds, however often it reads.
WARNING_VALUE_PUSH_SECONDS = env.float("WARNING_VALUE_PUSH_SECONDS", default=1.0)
# An episode found in readings evaluated late (a gateway's back-fill, an
# archive) that was over this long before it was evaluated is recorded as a
# historical warning: in the history, never dispatched (warning.history).
WARNING_HISTORICAL_AFTER_MINUTES = env.int("WARNING_HISTORICAL_AFTER_MINUTES", default=60)
# A recovered warning that fires again within this many seconds of its
# recovery comes back (reactivated); later, the old one closes and a new one
# opens. 0: no limit, it always comes back.
WARNING_REACTIVATION_WINDOW_SECONDS = env.int("WARNING_REACTIVATION_WINDOW_SECONDS", default=0)
# More recoveries and reactivations than this within an hour mark a warning
# flapping; its changes are then pushed coalesced. 0: never marked.
WARNING_FLAP_LIMIT = env.int("WARNING_FLAP_LIMIT", default=4)
# Warnings opened within this distance and time of each other group into one
# incident (warnings on sensors of one asset always do). 0 metres: by asset only.
WARNING_INCIDENT_DISTANCE_METRES = env.float("WARNING_INCIDENT_DISTANCE_METRES", default=0.0)
WARNING_INCIDENT_WINDOW_SECONDS = env.int("WARNING_INCIDENT_WINDOW_SECONDS", default=600)
MQTT_URL = env.str("MQTT_URL", default="mqtt://127.0.0.1:1883")
# Gateways publish to <prefix>/<gateway code>/readings, replies go to …/results.
MQTT_TOPIC_PREFIX = env.str("MQTT_TOPIC_PREFIX", default="citysafety/gateways")
# Bridges subscribe as one MQTT v5 shared subscription of this group, so the
# broker hands each message to one of them; empty: a plain subscription, for a
# broker without shared subscriptions (then run a single bridge).
MQTT_SHARE_GROUP = env.str("MQTT_SHARE_GROUP", default="citysafety")
if any(char in MQTT_SHARE_GROUP for char in "/+#"):
    raise ImproperlyConfigured(f"MQTT_SHARE_GROUP={MQTT_SHARE_GROUP!r} may not contain '/', '+' or '#'.")
# How long the broker keeps a bridge's session (its subscription and the
# messages queued or unacknowledged for it) after the bridge disconnects: long
# enough to ride out a restart or a deploy. Not 0: the messages a bridge had
# taken but not finished would die with its connection.
MQTT_SESSION_EXPIRY_SECONDS = env.int("MQTT_SESSION_EXPIRY_SECONDS", default=24 * 3600)
if not 1 <= MQTT_SESSION_EXPIRY_SECONDS <= 0xFFFFFFFF:
    raise ImproperlyConfigured(
        f"MQTT_SESSION_EXPIRY_SECONDS={MQTT_SESSION_EXPIRY_SECONDS} must lie between 1 and 4294967295 (MQTT's limit)."
    )
# Report photos: stored under MEDIA_ROOT and served only through a view that
# checks who may see the work order (never as static files).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
WORK_ORDER_PHOTO_MAX_BYTES = env.int("WORK_ORDER_PHOTO_MAX_BYTES", default=10 * 1024 * 1024)
WORK_ORDER_MAX_PHOTOS = 6
# A report photo whose EXIF places it farther than this from the sensor is flagged (docs/photos.md).
WORK_ORDER_PHOTO_FAR_METRES = env.int("WORK_ORDER_PHOTO_FAR_METRES", default=1000)

# --- Notifications ----------------------------------------------------------

# Links in e-mails point here.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="citysafety@localhost")
# The SMS provider's backend (notifications.sms); none is bundled.
SMS_BACKEND = env.str("SMS_BACKEND", default="notifications.sms.ConsoleSmsBackend")
# A notification's e-mail or SMS the broker did not take is sent by the sweep
# once the notification is this old (the committing process hands the newest
# over itself), and no longer once it is older than the hours below.
NOTIFICATION_HANDOVER_GRACE_SECONDS = env.int("NOTIFICATION_HANDOVER_GRACE_SECONDS", default=60)
NOTIFICATION_SEND_MISSED_HOURS = env.int("NOTIFICATION_SEND_MISSED_HOURS", default=12)
# A webhook is tried this many times in all, waiting base, 2 x base, 4 x base…
# seconds (with jitter) between attempts.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
if WEBHOOK_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("WEBHOOK_MAX_ATTEMPTS must be at least 1.")
# Webhooks are refused private, loopback, link-local and reserved addresses
# (notifications/outbound.py); a network listed here (CIDR, comma-separated)
# is allowed all the same — an intranet system a department really uses.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network such as 10.20.0.0/16 or fd00::/8 ({_exc})."
        ) from _exc

# The audit trail's triggers (on the tracked tables of every app, and the
# append-only guard on the event tables) are installed after each migrate by
# audit/installation.py, not by migrations: the tracked apps then carry no
# migration for a concern that is audit's, and auth's user table, whose
# migrations are Django's, is tracked the same way.
PGTRIGGER_MIGRATIONS = False
PGTRIGGER_INSTALL_ON_MIGRATE = False
# Triggers are not pruned: another tool's triggers must not vanish at the next migrate.
PGTRIGGER_PRUNE_ON_INSTALL = False

# The audit trail (audit/) is kept this many days. 等保 2.0 asks for at least
# six months, so anything shorter stops the process.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=200)
if AUDIT_RETENTION_DAYS < 183:
    raise ImproperlyConfigured(
        f"AUDIT_RETENTION_DAYS={AUDIT_RETENTION_DAYS}: the audit trail must be kept at least six months (183 days)."
    )

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (31.82, 117.23),
    "DEFAULT_ZOOM": 10,
    "TILES": [(str(_("Base map")), MAP_TILE_URL, {"attribution": MAP_TILE_ATTRIBUTION})] if MAP_TILE_URL else [],
    "RESET_VIEW": False,
    # Added to the map widgets of forms (the admin's sensor and district
    # maps), after Leaflet.draw: Leaflet's own texts in the page's language.
    "PLUGINS": {"forms": {"js": ["js/leaflet_i18n.js"]}},
}

# --- Security (checked by ``manage.py check --deploy``) -------------------

if not DEBUG:
    # Production is reached over HTTPS only, through a TLS proxy. HTTPS_ONLY=0
    # serves plain http with DEBUG still off, as `make run` does on this
    # machine: a browser on http://127.0.0.1 gets no redirect to a TLS port
    # that does not exist and sends its session cookie back. `check --deploy`
    # warns about such settings, rightly.
    HTTPS_ONLY = env_bool("HTTPS_ONLY", default=True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
    if HTTPS_ONLY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = HTTPS_ONLY
    CSRF_COOKIE_SECURE = HTTPS_ONLY
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000) if HTTPS_ONLY else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
    SECURE_HSTS_PRELOAD = HTTPS_ONLY
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
else:
    X_FRAME_OPTIONS = "SAMEORIGIN"

# GeoDjango on Debian 12's GDAL 3.6 warns that it is older than Django would
# like; it works for everything this project does.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# --- Logging --------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config gives "django" a console handler of its own;
        # propagating as well would print every line twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Operations: health, heartbeats, metrics, logs --------------------------

# The project package keeps the background processes' heartbeats (models.py).
INSTALLED_APPS += ["citysafety"]
# Each background process (worker, beat, MQTT bridge) writes its heartbeat
# this often; readiness calls it stale once it is older than the second value.
HEARTBEAT_SECONDS = env.float("HEARTBEAT_SECONDS", default=15.0)
HEARTBEAT_STALE_SECONDS = env.float("HEARTBEAT_STALE_SECONDS", default=60.0)
if HEARTBEAT_SECONDS <= 0 or HEARTBEAT_STALE_SECONDS <= HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("HEARTBEAT_SECONDS must be positive and below HEARTBEAT_STALE_SECONDS.")
# Checks whose failure makes /readyz answer 503; the others are reported only.
READINESS_CHECKS = ("database", "redis", "broker", "worker", "beat", "mqtt_bridge")
READINESS_REQUIRED = env.list("READINESS_REQUIRED", default=list(READINESS_CHECKS))
if unknown := set(READINESS_REQUIRED) - set(READINESS_CHECKS):
    raise ImproperlyConfigured(
        f"READINESS_REQUIRED names unknown checks {sorted(unknown)}; known: {', '.join(READINESS_CHECKS)}."
    )
# /metrics: Prometheus reads it with this bearer token, or from these
# networks (CIDR, comma-separated); with neither set it is refused to all.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(network.strip(), strict=False)
        for network in env.list("METRICS_ALLOWED_NETWORKS", default=[])
    ]
except ValueError as _error:
    raise ImproperlyConfigured(
        f"METRICS_ALLOWED_NETWORKS: {_error} (write networks like 10.0.0.0/8,127.0.0.1)."
    ) from None
# Each app's contribution to /metrics, read from the database at scrape time.
METRICS_COLLECTORS = [
    "citysafety.metrics.platform_metrics",
    "monitoring.metrics.collect",
    "warning.metrics.collect",
    "dispatch.metrics.collect",
    "notifications.metrics.collect",
    "dispatch.live_metrics.collect",
]
# First of all: every log line of a request carries its id; the probes and
# /metrics answer before the host check and the HTTPS redirect.
MIDDLEWARE[:0] = ["citysafety.request_id.RequestIdMiddleware", "citysafety.probes.ProbeMiddleware"]
# Log lines: "plain" text for a person at a terminal, or "json" (one object a
# line, with the request id) for a log collector.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json.")
LOGGING["formatters"]["json"] = {"()": "citysafety.logformat.JsonFormatter"}
LOGGING.setdefault("filters", {})["request_id"] = {"()": "citysafety.request_id.RequestIdFilter"}
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
LOGGING["handlers"]["console"]["filters"] = ["request_id"]

# --- Sign-in (等保 2.0 level 3: failure handling, session timeout, second factor) ---

INSTALLED_APPS += ["axes", "django_otp", "django_otp.plugins.otp_totp"]
# Axes first: it refuses a locked-out person before any password is checked.
AUTHENTICATION_BACKENDS = ["organisation.backends.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
# After messages (the idle sign-out leaves one); the idle check before the
# second factor: a stale session is signed out, not asked for a code.
_messages = MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware")
MIDDLEWARE[_messages + 1 : _messages + 1] = [
    "django_otp.middleware.OTPMiddleware",
    "organisation.idle.IdleTimeoutMiddleware",
    "organisation.second_factor.SecondFactorMiddleware",
]
# Last, so it sees what the login views answered.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")

# Failed sign-ins before a lockout, and how long it lasts (every failure
# while locked restarts it). Locked by the pair (username, address): a
# person's typos do not lock out colleagues behind the operations centre's
# one NAT address, and nobody elsewhere can lock the duty officer out during
# an emergency by guessing at their name. AXES_LOCKOUT_PARAMETERS=user_or_address
# locks each separately instead (stricter, but open to that denial of service).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=30)
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be at least 1.")
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
_LOCKOUT_PARAMETERS = {
    "user_and_address": [["username", "ip_address"]],
    "user_or_address": ["username", "ip_address"],
}
_lockout_by = env.str("AXES_LOCKOUT_PARAMETERS", default="user_and_address")
if _lockout_by not in _LOCKOUT_PARAMETERS:
    raise ImproperlyConfigured(f"AXES_LOCKOUT_PARAMETERS={_lockout_by!r}: use user_and_address or user_or_address.")
AXES_LOCKOUT_PARAMETERS = _LOCKOUT_PARAMETERS[_lockout_by]
# Failures are forgotten after the whole sign-in, second factor included
# (organisation.signin.signin_completed), not after the password alone.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "organisation.views.locked_out"
# The address is REMOTE_ADDR (django-ipware is not installed): a header the
# client could forge never decides whose failures count. Behind a proxy every
# client shares its address, which the pair above makes harmless.
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)

# A session unused this long is signed out on its next request (0: never).
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)

# Password policy: Django's validators, a minimum length and two kinds of
# character (letters, digits, other signs).
PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=10)
PASSWORD_MIN_CHARACTER_CLASSES = env.int("PASSWORD_MIN_CHARACTER_CLASSES", default=2)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {
        "NAME": "organisation.passwords.CharacterClassValidator",
        "OPTIONS": {"min_classes": PASSWORD_MIN_CHARACTER_CLASSES},
    },
]

# Roles that sign in with a TOTP code as well (organisation.roles names).
# Administrators and duty officers in production; nobody in development and
# the demo (scripts/run.sh sets it empty) unless set.
_otp_roles = os.environ.get("OTP_REQUIRED_ROLES")
if _otp_roles is None:
    OTP_REQUIRED_ROLES = [] if DEBUG else ["administrator", "duty_officer"]
else:
    OTP_REQUIRED_ROLES = [role.strip() for role in _otp_roles.split(",") if role.strip()]
_unknown_roles = set(OTP_REQUIRED_ROLES) - {"administrator", "duty_officer", "department_staff"}
if _unknown_roles:
    raise ImproperlyConfigured(f"OTP_REQUIRED_ROLES names unknown roles: {', '.join(sorted(_unknown_roles))}.")
# The issuer shown in the authenticator app.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="CitySafety")
# Wrong codes count towards axes' lockout; django-otp's own growing delay
# would refuse the right code after a typo with no message to say why.
OTP_TOTP_THROTTLE_FACTOR = 0
