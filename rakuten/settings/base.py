"""Settings shared by every environment, read from the environment (django-environ).
``.env.example`` lists every variable. Environment modules (local, test, production)
only override what differs."""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"  # git-ignored: SQLite files, media, model artefacts, caches

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# --- Core ---------------------------------------------------------------------------
# SECRET_KEY: set by each environment module (production has no default).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "axes",
    "django_prometheus",
    "accounts",
    "audit",
    "catalog",
    "ml",
]

MIDDLEWARE = [
    # First and last: request counts by view and status, latency histograms (/metrics).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (below)
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a lock-out into a 429 response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "rakuten.urls"
WSGI_APPLICATION = "rakuten.wsgi.application"

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
                "ml.context_processors.model_alerts",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Strict mode: MySQL refuses bad data instead of silently truncating it.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        }
    )
    DATABASES["default"]["TEST"] = {
        "CHARSET": "utf8mb4",
        "COLLATION": "utf8mb4_unicode_ci",
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"  # noqa: E501
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username+IP before any password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- I18N ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Largest accepted upload (a product photo), in bytes.
PRODUCT_IMAGE_MAX_BYTES = env.int("PRODUCT_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
# A photo's pixel budget and the most elongated shape accepted (longer side / shorter
# side), judged from the header before anything is decoded: a 200-byte PNG can declare
# 2 x 20,000 or 1 x 39,000,000 pixels. The ML core's own ceilings
# (ml.core.transforms.MAX_IMAGE_PIXELS, MAX_IMAGE_ASPECT_RATIO) have the same values:
# raising these lets a photo in that the image branch will then ignore.
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=25_000_000)
IMAGE_MAX_ASPECT_RATIO = env.float("IMAGE_MAX_ASPECT_RATIO", default=10.0)
# Sellers' listing imports (catalog.listing_files): every limit is checked before
# anything is stored. The zip's total uncompressed size is checked on the sizes its
# directory declares, and again on the bytes actually read (a zip bomb can lie).
LISTING_IMPORT_MAX_ROWS = env.int("LISTING_IMPORT_MAX_ROWS", default=5000)
LISTING_IMPORT_MAX_CSV_BYTES = env.int(
    "LISTING_IMPORT_MAX_CSV_BYTES", default=10 * 1024 * 1024
)
LISTING_IMPORT_MAX_ZIP_BYTES = env.int(
    "LISTING_IMPORT_MAX_ZIP_BYTES", default=500 * 1024 * 1024
)
LISTING_IMPORT_MAX_PHOTO_BYTES = env.int(
    "LISTING_IMPORT_MAX_PHOTO_BYTES", default=5 * 1024 * 1024
)
LISTING_IMPORT_MAX_UNZIPPED_BYTES = env.int(
    "LISTING_IMPORT_MAX_UNZIPPED_BYTES", default=1024 * 1024 * 1024
)
# A row whose first suggestion is at least this probable (calibrated) is pre-accepted;
# the others are flagged for the seller first.
LISTING_IMPORT_THRESHOLD = env.float("LISTING_IMPORT_THRESHOLD", default=0.9)
# An import not confirmed within this many hours expires; its photos are deleted.
LISTING_IMPORT_EXPIRY_HOURS = env.int("LISTING_IMPORT_EXPIRY_HOURS", default=48)
# The confirmation writes products this many rows per transaction.
LISTING_IMPORT_CONFIRM_CHUNK = env.int("LISTING_IMPORT_CONFIRM_CHUNK", default=500)

# --- Celery -------------------------------------------------------------------------
# With no broker server the default is kombu's SQLAlchemy transport on a SQLite file, so
# a real worker process still runs on a fresh machine. Production and CI use redis://.
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
# Task outcomes go to the database (django-celery-results: the admin's "Task
# results"), with their name, arguments and worker; tasks run eagerly
# (CELERY_TASK_ALWAYS_EAGER) are recorded too.
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_STORE_EAGER_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# The watchdog (stale and unsent training runs) has a queue of its own, so that it never
# waits behind queued training runs; every other ml task goes to the ml queue. A worker
# must consume default, ml and watchdog (run_platform's does), and one the batch queue.
CELERY_TASK_ROUTES = {
    "ml.tasks.training_runs_requeue_stale": {"queue": "watchdog"},
    # batch prediction chunks: their own queue (a worker of their own, or GPU
    # machines that consume it alone), so batch work never delays training or the web
    "ml.tasks.batch_chunk_run": {"queue": "batch"},
    # a seller's listing import starts its batch job there too (never behind training)
    "ml.tasks.listing_import_suggest": {"queue": "batch"},
    "ml.tasks.*": {"queue": "ml"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message not acknowledged within this time is delivered again: longer than the
# training tasks' hard time limit (ml.tasks.TRAINING_TIME_LIMIT, 3 h 05; a test
# checks), so a run is never delivered twice while it trains. A run whose worker died
# does not wait for it: the restarted worker or the watchdog queues it again.
REDIS_VISIBILITY_TIMEOUT = 4 * 3600
if CELERY_BROKER_URL.startswith("redis"):
    # kombu's SQLAlchemy transport hands every option to create_engine(), so it gets
    # none.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT only: no session or basic authentication, so the API cannot be used
    # without a token (and there is no switch to turn authentication off).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, refusing tokens revoked by a password change or a log-out.
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "rakuten.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "rakuten.drf.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rakuten.drf.Pagination",
    "PAGE_SIZE": 20,
    # Counted in the shared cache (CACHES below), keyed by the user or by the client
    # address of rakuten.clientip (TRUSTED_PROXY_COUNT). Views with a
    # ``throttle_scope`` (predict, token, training_runs) also get that scope's rate;
    # the Django views decorated with rakuten.throttling.rate_limit (suggestions,
    # signup, training_runs) use the same rates.
    "DEFAULT_THROTTLE_CLASSES": [
        "rakuten.throttling.AnonRateThrottle",
        "rakuten.throttling.UserRateThrottle",
        "rakuten.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": "60/minute",
        "user": env("API_THROTTLE_USER", default="1000/minute"),
        "predict": env("API_THROTTLE_PREDICT", default="60/minute"),
        "token": "20/minute",
        "suggestions": env("THROTTLE_SUGGESTIONS", default="60/minute"),
        "signup": env("THROTTLE_SIGNUP", default="10/hour"),
        "training_runs": env("THROTTLE_TRAINING_RUNS", default="10/hour"),
    },
}
# --- Shared cache and trusted proxies ----------------------------------------------
# Throttles count here, shared by every web process: Redis when CACHE_URL is set
# (redis://HOST:6379/1: a database of its own, not the broker's, since clearing the
# cache empties its whole database), else a table of the database (created after each
# migrate: rakuten.cache).
CACHE_URL = env("CACHE_URL", default="")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "rakuten",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "rakuten_cache",
            # Past MAX_ENTRIES Django deletes a third of the entries (throttle counts
            # included): far above the default 300, so counts are not reset early.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
# How many reverse proxies in front of the platform append to X-Forwarded-For (0: the
# header is ignored, the client is REMOTE_ADDR). One value for DRF's throttles, the page
# throttles and django-axes (rakuten.clientip.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT

# A JSON body may carry a photo in base64 (4/3 of its size): let the largest photo
# through, so that image_check, not Django, answers "too large".
DATA_UPLOAD_MAX_MEMORY_SIZE = PRODUCT_IMAGE_MAX_BYTES * 4 // 3 + 1024 * 1024
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        minutes=env.int("JWT_ACCESS_MINUTES", default=5)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Log-in throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username
# (from any address) or from one client address (for any username), the web log-in,
# the admin log-in and ``token/`` refuse even the right password until the cool-off
# time has passed since the failure that locked. Failures during a lock-out are not
# recorded, so they cannot extend it: AXES_COOLOFF_TIME is the cap. The client address
# is rakuten.clientip's (TRUSTED_PROXY_COUNT), as for the API's throttles.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "rakuten.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The lock-out page: styled, with the navigation, saying when to try again.
AXES_LOCKOUT_CALLABLE = "rakuten.views.lockout"

SPECTACULAR_SETTINGS = {
    "TITLE": "Rakuten product categorisation API",
    "DESCRIPTION": "Category suggestions, products, metrics and model operations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a ``status`` field: give each enum a readable name.
    "ENUM_NAME_OVERRIDES": {
        "ModelVersionStatusEnum": "ml.models.ModelVersion.Status",
        "TrainingRunStatusEnum": "ml.models.TrainingRun.Status",
        "ListingImportStatusEnum": "catalog.models.ListingImport.Status",
        "BatchJobStatusEnum": "ml.models.BatchJob.Status",
        "BatchJobScopeEnum": "ml.models.BatchJob.Scope",
        # the scopes a batch job may be started with over the API
        "BatchJobCreateScopeEnum": ["all", "categories", "unlabelled", "products"],
    },
}

# --- Content-Security-Policy (django-csp) -------------------------------------------
# Every page may run scripts and load stylesheets, images, fonts and XHR from this
# origin only: the vendored files (static/vendor/, the admin's, the API docs'
# sidecar) and the platform's own static/js and static/css. No inline script, no
# event-handler attribute, no eval, no <style> element, no CDN, no frame. Allowed
# beyond that: images as data: URIs (Bootstrap's and Swagger UI's CSS icons) and style
# attributes (style-src-attr: progress bar widths and the confusion matrix's shades,
# which are data; an attribute styles its own element and runs nothing).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Machine learning ---------------------------------------------------------------
# Called by catalog's listing_create when a listing confirms a stored prediction: the
# one place catalog reaches ml, named here so that catalog never imports ml.
LISTING_PREDICTION_CONFIRM = "ml.services.predictions.prediction_attach"
# The same for a listing import: called in each confirmation chunk's transaction with
# the confirmed rows and their products, it records one prediction per row (the
# suggestions the seller reviewed, the model version, the seller's choice).
LISTING_IMPORT_PREDICTIONS_RECORD = (
    "ml.services.listing_suggestions.listing_import_predictions_record"
)
ML_ARTIFACTS_DIR = env.path("ML_ARTIFACTS_DIR", default=str(VAR_DIR / "ml"))
# Local file with torchvision's VGG16 ImageNet weights (optional; none downloaded).
ML_VGG16_WEIGHTS_PATH = env("ML_VGG16_WEIGHTS_PATH", default="")
# Ranks of a full training run: above 1, its worker launches torchrun on its machine
# (one per GPU on a GPU worker; ml.services.training_distributed). The linear text
# branches learn from at most ML_TRAIN_LINEAR_MAX_ROWS products (their memory grows).
ML_TRAIN_PROCESSES = env.int("ML_TRAIN_PROCESSES", default=1)
ML_TRAIN_LINEAR_MAX_ROWS = env.int("ML_TRAIN_LINEAR_MAX_ROWS", default=10_000)
# The self-improving loop. Live metrics are snapshotted over this many days; an alert
# opens when the live weighted F1 is more than ML_ALERT_MARGIN below the validation
# figure, on at least ML_ALERT_MIN_PRODUCTS products (per category: that category's
# validation F1, on at least ML_ALERT_MIN_CATEGORY_SUPPORT products).
ML_METRICS_WINDOW_DAYS = env.int("ML_METRICS_WINDOW_DAYS", default=7)
ML_ALERT_MARGIN = env.float("ML_ALERT_MARGIN", default=0.05)
ML_ALERT_MIN_PRODUCTS = env.int("ML_ALERT_MIN_PRODUCTS", default=50)
ML_ALERT_MIN_CATEGORY_SUPPORT = env.int("ML_ALERT_MIN_CATEGORY_SUPPORT", default=20)
# An opened alert queues an incremental retraining (one per alert).
ML_ALERT_TRIGGERS_RETRAINING = env.bool("ML_ALERT_TRIGGERS_RETRAINING", default=False)
# A running training run whose heartbeat is older than this is queued again (once) by
# the watchdog (every minute); a run beats every 30 s while it trains.
ML_STALE_RUN_SECONDS = env.int("ML_STALE_RUN_SECONDS", default=120)
# Batch prediction jobs (ml.services.batch; docs/batch.md): products per chunk (one
# Celery task on the batch queue), products per forward pass, and how long a running
# job may go without progress before the watchdog queues its pending chunks again.
BATCH_CHUNK_SIZE = env.int("BATCH_CHUNK_SIZE", default=500)
BATCH_PREDICT_BATCH_SIZE = env.int("BATCH_PREDICT_BATCH_SIZE", default=256)
BATCH_STALE_SECONDS = env.int("BATCH_STALE_SECONDS", default=600)
# int8 dynamic quantisation of the BiGRU for batch jobs (faster on CPU; its cost in
# accuracy is measured by bench/batch.py, docs/benchmarks.md).
BATCH_QUANTIZE = env.bool("BATCH_QUANTIZE", default=False)
# The same for serving (Sell page, predict/, file evaluations; bench/latency.py).
PREDICT_QUANTIZE = env.bool("PREDICT_QUANTIZE", default=True)
# A worker consuming the batch queue loads the active model when it starts, so that
# its first chunk does not pay the load (seconds; ml.tasks).
BATCH_WARM_ON_START = env.bool("BATCH_WARM_ON_START", default=True)
# A candidate is promoted automatically only if its weighted F1 on the evaluation
# slice, and on the slice's recent window (products confirmed since the active model
# was made, within ML_METRICS_WINDOW_DAYS; checked from ML_GATE_MIN_RECENT_PRODUCTS
# products), is at least the active model's plus this margin, and no category loses
# more than ML_PROMOTION_MAX_CATEGORY_DROP of F1 on the slice.
ML_PROMOTION_MARGIN = env.float("ML_PROMOTION_MARGIN", default=0.0)
ML_PROMOTION_MAX_CATEGORY_DROP = env.float(
    "ML_PROMOTION_MAX_CATEGORY_DROP", default=0.10
)
ML_GATE_MIN_RECENT_PRODUCTS = env.int("ML_GATE_MIN_RECENT_PRODUCTS", default=20)
# The category-drop rule judges the categories with at least this many slice products
# (1: every category, as specified; on a small slice one product can move F1 by 0.1+).
ML_GATE_MIN_CATEGORY_SUPPORT = env.int("ML_GATE_MIN_CATEGORY_SUPPORT", default=1)
# A model validated on fewer products than this shows "not enough data" instead of
# its validation F1 and accuracy (the numbers are kept, in the API and the admin's
# metrics); below ML_VALIDATION_INTERVAL_BELOW products each figure shows its 95 %
# interval.
ML_MIN_VALIDATION_PRODUCTS = env.int("ML_MIN_VALIDATION_PRODUCTS", default=30)
ML_VALIDATION_INTERVAL_BELOW = env.int("ML_VALIDATION_INTERVAL_BELOW", default=200)
# Anomalies (the seller's confirmed category is not the model's first suggestion):
# an incremental retraining weights their samples this much in the loss (1.0: off).
ML_ANOMALY_WEIGHT = env.float("ML_ANOMALY_WEIGHT", default=1.0)
# The label-quality guard: a seller with at least ML_LABEL_GUARD_MIN_LISTINGS linked
# listings, of which at least ML_LABEL_GUARD_MAX_RATE contradict a confident model
# (first suggestion's probability >= ML_LABEL_GUARD_CONFIDENCE), is flagged to staff;
# their listings leave the training data until staff clear the review.
ML_LABEL_GUARD_CONFIDENCE = env.float("ML_LABEL_GUARD_CONFIDENCE", default=0.8)
ML_LABEL_GUARD_MIN_LISTINGS = env.int("ML_LABEL_GUARD_MIN_LISTINGS", default=20)
ML_LABEL_GUARD_MAX_RATE = env.float("ML_LABEL_GUARD_MAX_RATE", default=0.5)
# The review queue: a batch job applies a result whose probability reaches the
# threshold at which the model's validation precision is ML_REVIEW_TARGET_PRECISION
# (its fusion report's precision curve; this probability itself when the version has
# no curve); below it, the product waits for staff. A taxonomy split asks staff to
# label ML_MIGRATION_SAMPLE_PER_CATEGORY products per new category, least certain
# first.
ML_REVIEW_TARGET_PRECISION = env.float("ML_REVIEW_TARGET_PRECISION", default=0.95)
ML_MIGRATION_SAMPLE_PER_CATEGORY = env.int(
    "ML_MIGRATION_SAMPLE_PER_CATEGORY", default=5
)

# --- MLflow and TensorBoard ---------------------------------------------------------
# The MLflow mirror (ml.services.mlflow_mirror): unset, nothing imports mlflow. Set
# (http://mlflow:5000, sqlite:////abs/mlflow.db), every training run and model version
# is mirrored there after it commits, and the alias follows the active version; the
# database stays the source of truth (an MLflow outage is retried every ten minutes).
MLFLOW_TRACKING_URI = env("MLFLOW_TRACKING_URI", default="")
MLFLOW_EXPERIMENT_NAME = env("MLFLOW_EXPERIMENT_NAME", default="rakuten-training")
MLFLOW_REGISTERED_MODEL = env("MLFLOW_REGISTERED_MODEL", default="rakuten-categoriser")
MLFLOW_ACTIVE_ALIAS = env("MLFLOW_ACTIVE_ALIAS", default="active")
# Where a TensorBoard serving ML_ARTIFACTS_DIR/runs answers (`make tensorboard`: its
# --logdir is that folder), e.g. http://127.0.0.1:6006; set, the staff training page
# links each run to its curves. Empty: no link.
TENSORBOARD_URL = env("TENSORBOARD_URL", default="")

# --- Prometheus metrics (/metrics) -------------------------------------------------
# /metrics answers a client whose address (rakuten.clientip) is in one of these networks
# (CIDRs), or a request with "Authorization: Bearer <METRICS_TOKEN>"; anyone else gets
# 403. Both empty (the default): /metrics is closed.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# The Celery queues whose depth /metrics reports (messages waiting in the broker).
METRICS_CELERY_QUEUES = env.list(
    "METRICS_CELERY_QUEUES", default=["default", "ml", "watchdog", "batch"]
)
# A Celery worker serves its own metrics on this port (0: off); with
# PROMETHEUS_MULTIPROC_DIR set (prometheus-client's multiprocess mode, shared by web
# and workers) the web's /metrics shows the workers' figures as well.
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
# django-prometheus: no migration gauges (they query the database at start-up).
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- E-mail and logging -------------------------------------------------------------
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="rakuten@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "filters": {
        # A refused request (403, 404, ...) is one WARNING line, not a traceback.
        "client_error_without_traceback": {
            "()": "rakuten.log_filters.ClientErrorWithoutTraceback"
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django.request": {"filters": ["client_error_without_traceback"]},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
