"""Flask extensions, created unbound; ``create_app`` binds them to an app."""

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


def _api_rate_limit() -> str:
    from webapp.opendata.apikeys import request_rate_limit

    return request_rate_limit()


def _api_rate_key() -> str:
    from webapp.opendata.apikeys import request_rate_key

    return request_rate_key()


def _not_api_request() -> bool:
    from webapp.opendata.apikeys import not_api_request

    return not_api_request()


# Every request to /api/v1 and /open311 (whichever blueprint serves it) counts against one shared
# limit: per API key with the key's own limit, else per client IP with API_RATE_LIMIT
# (webapp.opendata.apikeys). The login endpoints keep their own per-route limits as well.
limiter = Limiter(key_func=client_key, application_limits=[
    ApplicationLimit(_api_rate_limit, key_function=_api_rate_key, scope="api", exempt_when=_not_api_request)])


@limiter.request_filter
def _limits_off_in_this_app() -> bool:
    """One Limiter serves every app of the process (the tests build many), and its ``enabled`` flag
    is whatever the last ``init_app`` set: each app's own RATE_LIMITS decides for its requests."""
    from flask import current_app

    return not current_app.config.get("RATE_LIMITS", True)
