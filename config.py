"""The one declared configuration schema of PAKN.

Every key has a type, a default and a one-line description. A key is read from the
environment variable ``PAKN_<KEY>``; values passed to ``create_app(config=...)`` win over
the environment. Values are checked at load time: a bad value stops start-up with a message
that names the key, and an unknown ``PAKN_*`` variable (usually a typo) is rejected too.
``docs/configuration.md`` is generated from this file (``flask config-doc``) and a test keeps
the two in sync.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "PAKN_"
PROJECT_ROOT = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A configuration value is missing, malformed or unknown; the message names the key."""


@dataclass(frozen=True)
class Setting:
    """One declared configuration key."""

    name: str
    type: str  # str | int | bool | url | choice | list
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    min_value: int | None = None
    schemes: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)


def _province_codes(value: list[str]) -> str | None:
    if not value:
        return "cần ít nhất một mã tỉnh/thành (at least one province code is required)"
    for code in value:
        if not code.isdigit():
            return f"'{code}' không phải mã tỉnh/thành dạng số (not a numeric province code)"
    return None


def _holidays(value: list[str]) -> str | None:
    from datetime import date

    for item in value:
        text = item.strip()
        try:
            date.fromisoformat(text if len(text) == 10 else f"2000-{text}")  # 2000: has 29 Feb
        except ValueError:
            return f"'{text}' không phải ngày dạng MM-DD hoặc YYYY-MM-DD (not an MM-DD or YYYY-MM-DD date)"
    return None


def rate_limit_problem(value: str) -> str | None:
    """None when ``value`` is a Flask-Limiter limit ("120/minute", "10/second;1000/hour")."""
    from limits import parse_many

    try:
        if parse_many(value):
            return None
    except ValueError:
        pass
    return f"'{value}' không phải giới hạn hợp lệ, ví dụ 120/minute (not a rate limit)"


SETTINGS: tuple[Setting, ...] = (
    Setting("INSTANCE_PATH", "str", "instance",
            "Folder holding everything local to one instance (SQLite database, embedded "
            "index, uploads, generated secret key, development SMS/mail files); relative "
            "paths are taken from the project folder."),
    Setting("SECRET_KEY", "str", "",
            "Key that signs sessions and CSRF tokens; empty = generated once into "
            "<instance>/secret_key."),
    Setting("DATABASE_URL", "url", "",
            "SQLAlchemy URL of the system-of-record database; empty = SQLite file "
            "<instance>/pakn.sqlite3.",
            schemes=("sqlite", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")),
    Setting("SQL_ECHO", "bool", False, "Log every SQL statement (debugging only)."),
    Setting("REDIS_URL", "url", "",
            "Redis for the RQ job queue; empty = jobs run in-process in a background thread.",
            schemes=("redis", "rediss", "unix")),
    Setting("SEARCH_ENGINE", "choice", "sqlite",
            "Search engine behind the search contract: 'sqlite' (embedded index file) or "
            "'elasticsearch'.", choices=("sqlite", "elasticsearch")),
    Setting("SEARCH_INDEX_PATH", "str", "",
            "File of the embedded SQLite search index; empty = <instance>/search.sqlite3."),
    Setting("SEARCH_CACHE_SIZE", "int", 256,
            "Results of recent searches each web process of the embedded engine keeps until the "
            "index changes (0 = none).", min_value=0),
    Setting("SEARCH_NATIVE_RANK", "bool", True,
            "Embedded engine: rank with its ranking function in C where it is built (make native; "
            "the same scores as FTS5's bm25(), about half the ranking time); false = FTS5's bm25()."),
    Setting("ELASTICSEARCH_URL", "url", "http://127.0.0.1:9200",
            "Elasticsearch node URL (used when SEARCH_ENGINE=elasticsearch).",
            schemes=("http", "https")),
    Setting("ELASTICSEARCH_USERNAME", "str", "", "Elasticsearch basic-auth user (optional)."),
    Setting("ELASTICSEARCH_PASSWORD", "str", "", "Elasticsearch basic-auth password (optional)."),
    Setting("ELASTICSEARCH_API_KEY", "str", "", "Elasticsearch API key (optional)."),
    Setting("ELASTICSEARCH_PLAIN_JSON", "bool", False,
            "OpenSearch-family servers (OpenSearch, osmem-server): send plain application/json "
            "instead of the 8.x compatibility mimetype and accept answers without the Elasticsearch "
            "product header. Off for a real Elasticsearch 8 cluster."),
    Setting("ELASTICSEARCH_INDEX_PREFIX", "str", "pakn",
            "Prefix of index and alias names in Elasticsearch."),
    Setting("ELASTICSEARCH_REPLICAS", "int", 0,
            "Replicas of each index shard (set at index creation and every rebuild): 0 for one "
            "node; 1 or more on a cluster so that losing a node loses no data.", min_value=0),
    Setting("PROVINCES", "list", ["80"],
            "Comma-separated codes (vietnam-provinces, 2025 structure) of the province(s) "
            "this deployment serves; 80 = Tây Ninh.", check=_province_codes),
    Setting("INDEXER_INLINE", "bool", True,
            "Without REDIS_URL, index in a background thread of the web process (off: only "
            "`flask index drain`/`sync` index)."),
    Setting("INDEXER_SWEEP_SECONDS", "int", 30,
            "How often the indexer thread or worker sweeps the outbox for entries left behind.",
            min_value=1),
    Setting("OTP_TTL_SECONDS", "int", 60, "Lifetime of an SMS one-time code, in seconds.",
            min_value=10),
    Setting("OTP_RESEND_SECONDS", "int", 60, "Wait before another code can be sent to the same number.",
            min_value=0),
    Setting("OTP_MAX_ATTEMPTS", "int", 5, "Wrong tries allowed per code.", min_value=1),
    Setting("OTP_MAX_PER_PHONE_HOUR", "int", 5, "Codes sent to one number per hour, at most.", min_value=1),
    Setting("OTP_MAX_PER_IP_HOUR", "int", 20, "Codes requested from one client IP per hour, at most.",
            min_value=1),
    Setting("OTP_LOCK_AFTER_FAILURES", "int", 100,
            "Consecutive wrong codes after which a number is locked until an officer unlocks it.",
            min_value=1),
    Setting("LOGIN_FREE_FAILURES", "int", 5,
            "Consecutive wrong passwords/TOTP codes on one account before each further try must wait "
            "(1 s, 2 s, 4 s… up to 5 minutes), whatever IP the tries come from.", min_value=1),
    Setting("LOGIN_LOCK_AFTER_FAILURES", "int", 20,
            "Consecutive failures after which an account is locked for LOGIN_LOCK_MINUTES; at five times "
            "this (100 by default, NIST 800-63B 5.2.2) it stays locked until an administrator unlocks it.",
            min_value=2),
    Setting("LOGIN_LOCK_MINUTES", "int", 60, "How long a temporary account lock lasts, in minutes.",
            min_value=1),
    Setting("PASSWORD_MIN_LENGTH", "int", 10, "Minimum password length.", min_value=8),
    Setting("SESSION_LIFETIME_HOURS", "int", 12, "Absolute lifetime of a login session, in hours.",
            min_value=1),
    Setting("SESSION_IDLE_MINUTES_STAFF", "int", 30, "Staff sessions end after this much inactivity.",
            min_value=1),
    Setting("SESSION_IDLE_MINUTES_CITIZEN", "int", 240,
            "Citizen sessions end after this much inactivity.", min_value=1),
    Setting("HTTPS", "bool", False,
            "The portal is served over HTTPS: Secure cookies and HSTS (set it in production)."),
    Setting("TRUSTED_PROXIES", "int", 0,
            "Number of reverse proxies in front of the portal that set X-Forwarded-For/-Proto/-Host "
            "(0: none; the client address is the connection's). With 1 behind nginx, limits count "
            "the real client, not the proxy.", min_value=0),
    Setting("OIDC_DVC_DISCOVERY_URL", "url", "",
            "Discovery URL of the national public-service portal's OpenID provider (empty hides its button).",
            schemes=("http", "https")),
    Setting("OIDC_DVC_CLIENT_ID", "str", "", "Client id at the public-service portal."),
    Setting("OIDC_DVC_CLIENT_SECRET", "str", "", "Client secret at the public-service portal."),
    Setting("OIDC_GOOGLE_DISCOVERY_URL", "url",
            "https://accounts.google.com/.well-known/openid-configuration",
            "Google's OpenID discovery URL.", schemes=("http", "https")),
    Setting("OIDC_GOOGLE_CLIENT_ID", "str", "", "Google client id (empty hides the Google button)."),
    Setting("OIDC_GOOGLE_CLIENT_SECRET", "str", "", "Google client secret."),
    Setting("RATE_LIMITS", "bool", True,
            "Per-client request limits on login endpoints and on /api/v1 and /open311 (Flask-Limiter; "
            "Redis storage when REDIS_URL is set)."),
    Setting("API_RATE_LIMIT", "str", "120/minute",
            "Limit of requests to /api/v1 and /open311 without an API key, per client IP (Flask-Limiter "
            "syntax, e.g. '120/minute' or '10/second;1000/hour'); a key has its own limit.",
            check=rate_limit_problem),
    Setting("PHONE_LOOKUP_LIMIT", "str", "10/hour;30/day",
            "Searches by a sender's phone number allowed per client (IPv6: per /64) and, separately, per "
            "browser session (a masked number has 10^5 candidates: at 30 a day, unmasking one takes years).",
            check=rate_limit_problem),
    Setting("JOBS_SYNC", "bool", False,
            "Run background jobs right after the commit in the same thread (tests only)."),
    Setting("SMS_BACKEND", "choice", "file",
            "How SMS are sent: 'console' (log), 'file' (JSON lines in SMS_FILE_PATH) or "
            "'http' (a provider).", choices=("console", "file", "http")),
    Setting("SMS_FILE_PATH", "str", "",
            "File the 'file' SMS backend appends to; empty = <instance>/sms.jsonl."),
    Setting("SMS_HTTP_URL", "url", "", "The 'http' SMS backend: provider endpoint (POST).",
            schemes=("http", "https")),
    Setting("SMS_HTTP_AUTH_HEADER", "str", "",
            "The 'http' SMS backend: Authorization header value, e.g. 'Bearer …'."),
    Setting("SMS_HTTP_BODY_TEMPLATE", "str", '{"to": "{to}", "text": "{text}"}',
            "The 'http' SMS backend: JSON body with {to} and {text} placeholders (values are JSON-escaped)."),
    Setting("SMS_SENDER_NAME", "str", "PAKN", "Name that starts every SMS text."),
    Setting("MAIL_BACKEND", "choice", "file",
            "How e-mail is sent: 'console', 'file' (JSON lines in MAIL_FILE_PATH) or 'smtp'.",
            choices=("console", "file", "smtp")),
    Setting("MAIL_FILE_PATH", "str", "",
            "File the 'file' mail backend appends to; empty = <instance>/mail.jsonl."),
    Setting("PUBLIC_URL", "url", "",
            "Address of the portal as citizens reach it (e.g. https://pakn.tayninh.gov.vn), used for "
            "links in e-mail sent by jobs; empty = http://HOST:PORT.", schemes=("http", "https")),
    Setting("MAIL_FROM", "str", "no-reply@pakn.local", "Sender address of the portal's e-mail."),
    Setting("MAIL_FROM_NAME", "str", "Cổng PAKN", "Sender name of the portal's e-mail."),
    Setting("MAIL_SMTP_HOST", "str", "", "The 'smtp' mail backend: server host."),
    Setting("MAIL_SMTP_PORT", "int", 587, "The 'smtp' mail backend: server port.", min_value=1),
    Setting("MAIL_SMTP_SECURITY", "choice", "starttls",
            "The 'smtp' mail backend: 'starttls', 'ssl' (implicit TLS, usually port 465) or 'none' "
            "(only for a relay on the same host).", choices=("starttls", "ssl", "none")),
    Setting("MAIL_SMTP_USERNAME", "str", "", "The 'smtp' mail backend: login (empty = no login)."),
    Setting("MAIL_SMTP_PASSWORD", "str", "", "The 'smtp' mail backend: password."),
    Setting("ALERTS_DAILY_HOUR", "int", 7,
            "Hour (in TIMEZONE) after which the daily e-mail of each saved search is sent.",
            min_value=0, check=lambda v: None if v <= 23 else "giờ phải từ 0 đến 23 (hour must be 0–23)"),
    Setting("UPLOAD_PATH", "str", "",
            "Folder for uploaded attachments, outside the web root; empty = <instance>/uploads."),
    Setting("UPLOAD_MAX_FILES", "int", 5, "Attachments per report, at most.", min_value=0),
    Setting("UPLOAD_MAX_MB", "int", 10, "Size of one attachment, at most, in MB.", min_value=1),
    Setting("UPLOAD_STAGED_QUOTA_MB", "int", 60,
            "Files one account may have uploaded but not yet sent with a report, at most, in MB "
            "(a full form is UPLOAD_MAX_FILES × UPLOAD_MAX_MB).", min_value=1),
    Setting("UPLOAD_STAGED_HOURS", "int", 24,
            "Uploaded files not sent with a report are deleted after this many hours (the periodic "
            "sweep and `flask uploads cleanup`).", min_value=1),
    Setting("SEND_RATE_LIMIT", "str", "20/hour;50/day",
            "Posts of the send forms and of POST /api/v1/reports per account (each try counts, "
            "also one refused for an error).", check=rate_limit_problem),
    Setting("IMAGE_MAX_PIXELS", "int", 40_000_000,
            "Largest image (width × height) decoded; bigger ones are refused as decompression bombs.",
            min_value=1_000_000),
    Setting("REOPEN_DAYS", "int", 30, "Days after an answer during which the sender may reopen a report.",
            min_value=0),
    Setting("HOLIDAYS", "list", ["01-01", "04-30", "05-01", "09-01", "09-02"],
            "Public holidays skipped when counting answer deadlines in working days: 'MM-DD' for "
            "every year, 'YYYY-MM-DD' for one date (add the lunar-calendar ones, Tết and Giỗ Tổ, "
            "each year).", check=_holidays),
    Setting("DEFAULT_LOCALE", "choice", "vi", "Language of the UI when the user chose none.",
            choices=("vi", "en")),
    Setting("TIMEZONE", "str", "Asia/Ho_Chi_Minh",
            "Time zone in which dates are shown and date filters are read."),
    Setting("HOST", "str", "127.0.0.1", "Address `make run` serves on."),
    Setting("PORT", "int", 5000, "Port `make run` serves on.", min_value=1),
    Setting("DEMO_REPORTS", "int", 3000,
            "Number of demo reports `make run` seeds into an empty database (0 = none).",
            min_value=0),
    Setting("PAGE_SIZE", "int", 20, "Items per page in public lists.", min_value=1),
    Setting("SEARCH_TOTAL_BOUND", "int", 10_000,
            "Matches a search counts and ranks, and pages reach; past it the total reads \"more than\" "
            "and the embedded engine ranks and counts facets within the newest this many "
            "(docs/search.md). Exports and statistics count every match. With Elasticsearch, keep it at "
            "or below the index's max_result_window (10,000 by default).", min_value=100),
    Setting("LOG_LEVEL", "choice", "INFO", "Log level of the application.",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Setting("TESTING", "bool", False, "Test mode (set by the test suite)."),
    Setting("WTF_CSRF_ENABLED", "bool", True,
            "Check CSRF tokens on forms (only the test suite turns this off)."),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(setting: Setting, raw: Any) -> Any:
    """Turn a raw value (a string from the environment, or a Python value) into the key's type."""
    key = setting.name
    if setting.type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{key}: '{raw}' không phải giá trị đúng/sai (expected true/false)")
    if setting.type == "int":
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ConfigError(f"{key}: '{raw}' không phải số nguyên (expected an integer)") from None
        if setting.min_value is not None and value < setting.min_value:
            raise ConfigError(
                f"{key}: {value} nhỏ hơn giá trị tối thiểu {setting.min_value} "
                f"(must be >= {setting.min_value})")
        return value
    if setting.type == "list":
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return [str(item).strip() for item in items if str(item).strip()]
    value = str(raw).strip()
    if setting.type == "choice" and value not in setting.choices:
        raise ConfigError(
            f"{key}: '{value}' không hợp lệ; chọn một trong {', '.join(setting.choices)} "
            f"(unknown value)")
    if setting.type == "url" and value:
        parts = urlsplit(value)
        if parts.scheme not in setting.schemes:
            raise ConfigError(
                f"{key}: '{value}' không phải URL hợp lệ; cần scheme "
                f"{', '.join(setting.schemes)} (bad URL)")
        if parts.scheme not in ("sqlite", "unix") and not parts.hostname:
            raise ConfigError(f"{key}: '{value}' thiếu tên máy chủ (bad URL: no host)")
        _check_port(value, key)
    return value


def _check_port(value: str, key: str) -> None:
    try:
        urlsplit(value).port  # noqa: B018 - raises ValueError on a non-numeric or out-of-range port
    except ValueError:
        raise ConfigError(f"{key}: '{value}' có cổng không hợp lệ (bad URL: bad port)") from None


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the checked configuration: defaults, then ``PAKN_*`` variables, then overrides."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    unknown_env = sorted(k for k in environ
                         if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):] not in SETTINGS_BY_NAME)
    if unknown_env:
        raise ConfigError(
            f"{unknown_env[0]}: biến môi trường không được khai báo trong config.py "
            f"(unknown setting; see docs/configuration.md)")
    unknown = sorted(k for k in overrides if k not in SETTINGS_BY_NAME)
    if unknown:
        raise ConfigError(f"{unknown[0]}: khóa cấu hình không được khai báo (unknown setting)")

    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            raw = overrides[setting.name]
        elif ENV_PREFIX + setting.name in environ:
            raw = environ[ENV_PREFIX + setting.name]
        else:
            raw = setting.default
        value = _coerce(setting, raw)
        if setting.check is not None:
            problem = setting.check(value)
            if problem:
                raise ConfigError(f"{setting.name}: {problem}")
        values[setting.name] = value

    _check_timezone(values["TIMEZONE"])
    return values


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE: '{name}' không phải múi giờ IANA (unknown time zone)") from None


def resolve_instance(values: dict[str, Any]) -> dict[str, Any]:
    """Fill the values that default to files inside the instance folder, creating it."""
    instance = Path(values["INSTANCE_PATH"])
    if not instance.is_absolute():
        instance = PROJECT_ROOT / instance
    instance.mkdir(parents=True, exist_ok=True)
    values["INSTANCE_PATH"] = str(instance)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'pakn.sqlite3'}"
    defaults = {"SEARCH_INDEX_PATH": "search.sqlite3", "SMS_FILE_PATH": "sms.jsonl",
                "MAIL_FILE_PATH": "mail.jsonl", "UPLOAD_PATH": "uploads"}
    for key, name in defaults.items():
        if not values[key]:
            values[key] = str(instance / name)
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    return values


def _instance_secret(path: Path) -> str:
    """Read the instance's secret key, generating it on first use (never a constant in code)."""
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            return secret
    secret = secrets.token_urlsafe(48)
    # Create with owner-only permissions; O_EXCL so that two processes starting together
    # agree on one key (the loser reads the winner's).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


def markdown_reference() -> str:
    """The configuration reference as Markdown (docs/configuration.md)."""
    lines = [
        "# Configuration",
        "",
        "Generated from `config.py` by `flask config-doc`; a test fails when the two differ.",
        "",
        "Every key is set by the environment variable `PAKN_<KEY>` (for example "
        "`PAKN_REDIS_URL`). Values are checked when the app starts: a bad value stops "
        "start-up with a message naming the key, and an unknown `PAKN_*` variable is "
        "rejected. Paths left empty default to files in the instance folder "
        "(`PAKN_INSTANCE_PATH`, default `instance/`).",
        "",
        "| Key | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        if s.type == "list":
            default = ",".join(s.default)
        elif s.type == "bool":
            default = "true" if s.default else "false"
        else:
            default = str(s.default)
        kind = s.type
        if s.choices:
            kind = "one of " + ", ".join(f"`{c}`" for c in s.choices)
        elif s.schemes:
            kind = "URL (" + ", ".join(s.schemes) + ")"
        lines.append(f"| `{s.name}` | {kind} | `{default}` | {s.description} |"
                     if default else f"| `{s.name}` | {kind} | (empty) | {s.description} |")
    return "\n".join(lines) + "\n"
