"""Flask extensions, created unbound; ``create_app`` binds them to an app."""

from collections.abc import Callable
from typing import NamedTuple

from flask import current_app
from flask_babel import Babel
from flask_limiter import ApplicationLimit, Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from webapp.clientip import client_key

# Deterministic constraint names so that Alembic migrations can drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()


class ApiLimit(NamedTuple):
    """How the API's shared limit is applied; the API-key feature registers one per app
    (``app.extensions["pakn_api_limit"]``, see ``webapp.opendata.apikeys.install``)."""

    limit: Callable[[], str]
    key: Callable[[], str]
    exempt: Callable[[], bool]


def _api_limit() -> ApiLimit | None:
    return current_app.extensions.get("pakn_api_limit")


def _api_rate_limit() -> str:
    return _api_limit().limit()  # type: ignore[union-attr] - only asked when not exempt


def _api_rate_key() -> str:
    return _api_limit().key()  # type: ignore[union-attr] - only asked when not exempt


def _not_api_request() -> bool:
    api_limit = _api_limit()
    return api_limit is None or api_limit.exempt()


# Every request to /api/v1 and /open311 (whichever blueprint serves it) counts against one shared
# limit: per API key with the key's own limit, else per client IP with API_RATE_LIMIT
# (webapp.opendata.apikeys). The login endpoints keep their own per-route limits as well.
limiter = Limiter(key_func=client_key, application_limits=[
    ApplicationLimit(_api_rate_limit, key_function=_api_rate_key, scope="api", exempt_when=_not_api_request)])


@limiter.request_filter
def _limits_off_in_this_app() -> bool:
    """One Limiter serves every app of the process (the tests build many), and its ``enabled`` flag
    is whatever the last ``init_app`` set: each app's own RATE_LIMITS decides for its requests."""
    return not current_app.config.get("RATE_LIMITS", True)
