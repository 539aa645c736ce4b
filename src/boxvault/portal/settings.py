"""The one settings module of the portal. Everything an operator may change comes from the environment
(see docs/operations.md). Nothing here writes files: importing it is always safe (tests, `manage check`)."""

from __future__ import annotations

import ipaddress
import json
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from boxvault.core.env import env_bool, env_int, env_list, env_opt, env_path, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("BOXVAULT_DATA", "./data")
SECRET_KEY_FILE = DATA_DIR / "secret_key"

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    # The CLI writes SECRET_KEY_FILE on first run (boxvault.core.bootstrap); a process that starts without
    # one (tests, a one-off `manage check`) gets a throw-away key rather than a hard-coded one.
    configured = env_opt("BOXVAULT_SECRET_KEY")
    if configured:
        return configured
    if SECRET_KEY_FILE.is_file():
        return SECRET_KEY_FILE.read_text(encoding="utf-8").strip()
    return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
# Key-encryption key for secrets kept in the database (repository passwords, Box tokens): env or file only.
BOXVAULT_KEK = env_opt("BOXVAULT_KEK")

_LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env_list("BOXVAULT_ALLOWED_HOSTS", _LOCAL_HOSTS)
# A public host name means the portal is reached over HTTPS (through a TLS proxy); loopback-only stays on HTTP
# so `boxvault serve` works out of the box on a laptop.
HTTPS = env_bool("BOXVAULT_HTTPS", any(h not in _LOCAL_HOSTS for h in ALLOWED_HOSTS))
CSRF_TRUSTED_ORIGINS = env_list("BOXVAULT_CSRF_TRUSTED_ORIGINS", [])
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("BOXVAULT_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("BOXVAULT_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("BOXVAULT_HSTS_PRELOAD", True)
# The address of the TLS proxy in front of waitress ("*" for any): waitress then takes the client address and
# scheme from its X-Forwarded-For/-Proto headers; from anyone else those headers are dropped.
BOXVAULT_TRUSTED_PROXY = env_opt("BOXVAULT_TRUSTED_PROXY")
BOXVAULT_TRUSTED_PROXY_COUNT = env_int("BOXVAULT_TRUSTED_PROXY_COUNT", 1)
# Proxies (addresses or CIDRs) whose X-Forwarded-For names the client (security.middleware); from anyone else
# forwarding headers are dropped. Replaces BOXVAULT_TRUSTED_PROXY's waitress handling when set.
BOXVAULT_TRUSTED_PROXIES = env_list("BOXVAULT_TRUSTED_PROXIES", [])
for _proxy in BOXVAULT_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"BOXVAULT_TRUSTED_PROXIES: {_proxy!r} is not an address or CIDR"
        ) from _exc
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No script reads either cookie: htmx, the browsable API and Swagger UI get the CSRF token from the page.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "boxvault.core.errorpages.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.openid_connect",
    "axes",
    "huey.contrib.djhuey",
    "boxvault.portal",
    "boxvault.accounts",
    "boxvault.security",
    "boxvault.billing",
    "boxvault.api",
    "boxvault.jobs",
    "boxvault.activity",
    "boxvault.backups",
    "boxvault.recovery",
    "boxvault.search",
    "boxvault.notifications",
]

MIDDLEWARE = [
    "boxvault.portal.middleware.HealthCheckMiddleware",
    "boxvault.security.middleware.ClientAddressMiddleware",  # before anything reads REMOTE_ADDR
    "django.middleware.security.SecurityMiddleware",
    "boxvault.portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
    "boxvault.security.middleware.SecurityPolicyMiddleware",  # IP allow-list, enforced 2FA, password expiry
]

ROOT_URLCONF = "boxvault.portal.urls"
WSGI_APPLICATION = "boxvault.portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "portal" / "templates"],  # ours before the apps (allauth layout)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "boxvault.portal.context_processors.shell",
            ],
        },
    },
]

# --- database: SQLite in the data directory unless DATABASE_URL points elsewhere
_database_url = env_opt("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "boxvault.sqlite3"),
            "OPTIONS": {
                # Web threads and queue workers share one file: WAL lets readers run beside the writer, and
                # IMMEDIATE transactions take the write lock up front instead of failing half-way ("locked").
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- task queue: SQLite next to the database by default, Redis when a URL is given (several machines)
_redis_url = env_opt("BOXVAULT_REDIS_URL")
HUEY: dict[str, object] = {
    "name": env_str("BOXVAULT_QUEUE_NAME", "boxvault"),
    "immediate": env_bool("BOXVAULT_QUEUE_IMMEDIATE", False),
    "results": True,
    "utc": True,
}
if _redis_url:
    HUEY.update({"huey_class": "huey.RedisHuey", "connection": {"url": _redis_url}})
else:
    # create_tables=False keeps settings import free of file writes; bootstrap.setup() creates the schema.
    HUEY.update(
        {"huey_class": "huey.SqliteHuey", "filename": str(DATA_DIR / "queue.sqlite3"), "create_tables": False}
    )

# --- authentication: allauth for the flows, axes in front of it for lock-out
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = True  # the activation e-mail's link activates the account in one click
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SIGNUP_FORM_CLASS = "boxvault.accounts.forms.SignupExtraForm"
ACCOUNT_FORMS = {
    "signup": "boxvault.accounts.signup.AtomicSignupForm",  # user + account in one transaction
    "change_password": "boxvault.security.forms.ChangePasswordForm",  # refuses the current password as new
}
ACCOUNT_ADAPTER = "boxvault.accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[boxvault] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
# django-axes owns lock-out after failed sign-ins; allauth's own failed-login limit would answer first.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
# Off by default so sign-up says plainly that an address is taken; an operator may prefer not to reveal it.
ACCOUNT_PREVENT_ENUMERATION = env_bool("BOXVAULT_PREVENT_ENUMERATION", False)
# Single sign-on: SAML apps are per account (Settings > Security); the adapter keeps every SSO sign-in inside
# the account that configured it.
SOCIALACCOUNT_ADAPTER = "boxvault.accounts.sso.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never link a sign-in to a user by e-mail across accounts
# A social sign-up still shows the form (names, data-center location): it creates an account like any other.
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_FORMS = {"signup": "boxvault.accounts.signup.AtomicSocialSignupForm"}
SOCIALACCOUNT_LOGIN_ON_GET = False  # a POST (with CSRF) starts every external sign-in


def _social_providers() -> dict[str, dict[str, object]]:
    """Google, Microsoft and a generic OpenID Connect provider, each only when the operator gave it a client
    id (allauth lists only configured providers, so unconfigured ones stay hidden)."""
    providers: dict[str, dict[str, object]] = {}
    google_id = env_opt("BOXVAULT_GOOGLE_CLIENT_ID")
    if google_id:
        providers["google"] = {
            "APPS": [{"client_id": google_id, "secret": env_str("BOXVAULT_GOOGLE_CLIENT_SECRET"), "key": ""}],
            "SCOPE": ["openid", "email", "profile"],
        }
    microsoft_id = env_opt("BOXVAULT_MICROSOFT_CLIENT_ID")
    if microsoft_id:
        providers["microsoft"] = {
            "APPS": [
                {
                    "client_id": microsoft_id,
                    "secret": env_str("BOXVAULT_MICROSOFT_CLIENT_SECRET"),
                    "settings": {"tenant": env_str("BOXVAULT_MICROSOFT_TENANT", "organizations")},
                }
            ]
        }
    oidc_url = env_opt("BOXVAULT_OIDC_SERVER_URL")
    if oidc_url:
        providers["openid_connect"] = {
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": env_str("BOXVAULT_OIDC_NAME", "OpenID Connect"),
                    "client_id": env_str("BOXVAULT_OIDC_CLIENT_ID"),
                    "secret": env_str("BOXVAULT_OIDC_CLIENT_SECRET"),
                    "settings": {"server_url": oidc_url},
                }
            ]
        }
    return providers


SOCIALACCOUNT_PROVIDERS = _social_providers()
# Networks a tenant-supplied URL (IdP metadata) may reach although private or local (CIDRs, operator only).
BOXVAULT_EGRESS_ALLOW = env_list("BOXVAULT_EGRESS_ALLOW", [])
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "boxvault"

AXES_FAILURE_LIMIT = env_int("BOXVAULT_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("BOXVAULT_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "boxvault.accounts.adapter.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# --- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "boxvault.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "boxvault.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "boxvault.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "boxvault API",
    "DESCRIPTION": "Backup and recovery for Box. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # several models have a `status`; each choice set gets its own schema name
    "ENUM_NAME_OVERRIDES": {
        "AuditStatusEnum": "boxvault.security.models.AuditEvent.Status",
        "JobStatusEnum": "boxvault.jobs.models.Job.Status",
        "ReportFrequencyEnum": "boxvault.notifications.models.NotificationSettings.Frequency",
        "TaskFrequencyEnum": "boxvault.backups.models.Task.Frequency",
        "ReportFormatEnum": "boxvault.notifications.models.NotificationSettings.ReportFormat",
        "ReportDeliveryEnum": "boxvault.notifications.models.NotificationSettings.Delivery",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "boxvault.core.openapi.add_error_responses",
    ],
}

# --- e-mail: console unless an SMTP host is configured
_smtp_host = env_opt("BOXVAULT_SMTP_HOST")
if _smtp_host:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _smtp_host
    EMAIL_PORT = env_int("BOXVAULT_SMTP_PORT", 25)
    EMAIL_HOST_USER = env_str("BOXVAULT_SMTP_USER")
    EMAIL_HOST_PASSWORD = env_str("BOXVAULT_SMTP_PASSWORD")
    EMAIL_USE_TLS = env_bool("BOXVAULT_SMTP_STARTTLS", False)
    EMAIL_USE_SSL = env_bool("BOXVAULT_SMTP_SSL", False)
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("BOXVAULT_FROM_EMAIL", "boxvault <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- static files: served by whitenoise straight from the apps (no collectstatic step, no CDN)
STATIC_URL = "/static/"
# Only for operators who prefer `boxvault manage collectstatic` behind their own web server.
STATIC_ROOT = env_opt("BOXVAULT_STATIC_ROOT")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
SESSION_COOKIE_AGE = env_int("BOXVAULT_SESSION_HOURS", 12) * 3600


# --- the product
def _locations() -> dict[str, dict[str, str]]:
    raw = env_opt("BOXVAULT_LOCATIONS")
    if not raw:
        return {"local": {"label": "Local storage (this server)", "url": str(DATA_DIR / "repositories")}}
    try:
        parsed = json.loads(raw)
        return {str(k): {"label": str(v["label"]), "url": str(v["url"])} for k, v in parsed.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ImproperlyConfigured(
            'BOXVAULT_LOCATIONS must be JSON like {"eu": {"label": "Europe", "url": "s3:https://..."}}'
        ) from exc


# Data-center locations a new account chooses from at sign-up: id -> label and repository location.
BOXVAULT_LOCATIONS = _locations()
BOXVAULT_TRIAL_DAYS = env_int("BOXVAULT_TRIAL_DAYS", 14)
# Egress (DESIGN.md "Egress", docs/operations.md): networks a tenant-supplied endpoint may resolve into
# although they are not public (loopback, private, ...), as CIDRs. Empty: tenants reach public addresses only.
BOXVAULT_EGRESS_ALLOW = env_list("BOXVAULT_EGRESS_ALLOW", [])
try:
    _egress_networks = [ipaddress.ip_network(n, strict=False) for n in BOXVAULT_EGRESS_ALLOW]
except ValueError as _exc:
    raise ImproperlyConfigured(f"BOXVAULT_EGRESS_ALLOW: {_exc} (CIDRs such as 10.0.0.0/8)") from _exc
BOXVAULT_REMOVAL_GRACE_DAYS = env_int("BOXVAULT_REMOVAL_GRACE_DAYS", 7)
# Support page channels; an empty one is not shown.
BOXVAULT_SUPPORT = {
    "email": env_list("BOXVAULT_SUPPORT_EMAIL", ["support@localhost"]),
    "phone": env_list("BOXVAULT_SUPPORT_PHONE", []),
    "ticket_url": env_str("BOXVAULT_SUPPORT_TICKET_URL", ""),
    "chat_url": env_str("BOXVAULT_SUPPORT_CHAT_URL", ""),
    "kb_url": env_str("BOXVAULT_SUPPORT_KB_URL", "/api/docs/"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("BOXVAULT_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "huey": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}
# Absolute links in e-mails sent outside a request (CLI, queue workers).
BOXVAULT_BASE_URL = env_str("BOXVAULT_BASE_URL", "http://127.0.0.1:8000")
BOXVAULT_SIGNUP_OPEN = env_bool("BOXVAULT_SIGNUP_OPEN", True)

# --- billing (docs/operations.md "Billing"): off by default; a self-hoster who charges nobody sees none.
BOXVAULT_BILLING = env_bool("BOXVAULT_BILLING", False)


def _json_env(name: str, default: object) -> object:
    raw = env_opt(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be JSON") from exc


# Prices per backed-up Box user, per currency: {"USD": {"monthly": "3.00", "annual": "30.00"}, ...}
BOXVAULT_BILLING_PRICES = _json_env(
    "BOXVAULT_BILLING_PRICES", {"USD": {"monthly": "3.00", "annual": "30.00"}}
)
# Tax rates in percent by ISO country code: {"DE": "19", "IL": "17"}; countries absent pay none.
BOXVAULT_BILLING_TAX_RATES = _json_env("BOXVAULT_BILLING_TAX_RATES", {})
BOXVAULT_BILLING_TAX_ID_COUNTRIES = env_list("BOXVAULT_BILLING_TAX_ID_COUNTRIES", ["IL"])
# The seller printed on invoices: {"name": ..., "address": [lines], "tax_id": ..., "email": ...}
BOXVAULT_BILLING_SELLER = _json_env("BOXVAULT_BILLING_SELLER", {"name": "boxvault", "address": []})
BOXVAULT_BILLING_READ_ONLY_AFTER_DAYS = env_int("BOXVAULT_BILLING_READ_ONLY_AFTER_DAYS", 14)
BOXVAULT_BILLING_REMOVE_AFTER_DAYS = env_int("BOXVAULT_BILLING_REMOVE_AFTER_DAYS", 60)
BOXVAULT_STRIPE_SECRET_KEY = env_opt("BOXVAULT_STRIPE_SECRET_KEY")
BOXVAULT_STRIPE_PUBLISHABLE_KEY = env_opt("BOXVAULT_STRIPE_PUBLISHABLE_KEY")
BOXVAULT_STRIPE_WEBHOOK_SECRET = env_opt("BOXVAULT_STRIPE_WEBHOOK_SECRET")
# Only for tests and staging (a local Stripe emulator); never set in production.
BOXVAULT_STRIPE_API_BASE = env_opt("BOXVAULT_STRIPE_API_BASE")

# Notifications: an exceptions e-mail waits until no failure came for QUIET seconds (and no backup runs),
# or its oldest failure has waited MAX seconds (docs/notifications.md).
BOXVAULT_NOTIFY_BATCH_QUIET_SECONDS = env_int("BOXVAULT_NOTIFY_BATCH_QUIET_SECONDS", 120)
BOXVAULT_NOTIFY_BATCH_MAX_SECONDS = env_int("BOXVAULT_NOTIFY_BATCH_MAX_SECONDS", 3600)
