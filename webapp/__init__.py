"""PAKN web application: the app factory and its ``register_*`` helpers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from sqlalchemy import event

from config import PROJECT_ROOT, load_config, resolve_instance


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a configured app; ``config`` overrides environment values (checked the same way)."""
    values = resolve_instance(load_config(config))
    app = Flask(__name__, instance_path=values["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(values)
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(values["DATABASE_URL"])
    app.config["SQLALCHEMY_ECHO"] = values["SQL_ECHO"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    app.config["BABEL_DEFAULT_LOCALE"] = values["DEFAULT_LOCALE"]
    app.config["BABEL_DEFAULT_TIMEZONE"] = values["TIMEZONE"]
    # The whole request may carry every attachment; one file is checked against UPLOAD_MAX_MB.
    app.config["MAX_CONTENT_LENGTH"] = (values["UPLOAD_MAX_FILES"] * values["UPLOAD_MAX_MB"] + 2) * 1024 * 1024
    app.logger.setLevel(values["LOG_LEVEL"])
    logging.getLogger("webapp").setLevel(values["LOG_LEVEL"])

    register_hardening(app)  # first: the id converter must be in place before any route is added
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_cli(app)
    return app


def sqlalchemy_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def select_locale() -> str:
    """The user's chosen language (``?lang=`` or the session), else the configured default."""
    chosen = (request.args.get("lang") or session.get("lang")) if has_request_context() else None
    if chosen in ("vi", "en"):
        return chosen
    return current_app.config["DEFAULT_LOCALE"]


# The register_* helpers import the features when an app is built, not when ``webapp`` is imported:
# every feature imports ``webapp.<module>`` (which runs this file first), so importing them here at
# module level would load the whole app, in a cycle, for any import of any module.


def register_extensions(app: Flask) -> None:
    from webapp import models  # noqa: F401 - every model must be known to Alembic and the mapper
    from webapp.access import unauthorized
    from webapp.extensions import babel, csrf, db, login_manager, migrate
    from webapp.search import outbox

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True,
                     compare_type=True)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories="translations")
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.unauthorized_handler(unauthorized)  # login page with next, or 401 JSON on the API
    login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
    login_manager.login_message_category = "error"
    login_manager.session_protection = None  # sessions are server-side (webapp.auth.services)
    outbox.install()

    @login_manager.user_loader
    def load_user(user_id: str):  # noqa: ANN202 - Flask-Login callback
        from webapp.auth.services import current_session_user  # a feature: see the register_* note

        return current_session_user(user_id)  # only while the server-side session is valid

    from webapp import jobs
    from webapp.auth import oidc
    from webapp.opendata import alerts
    from webapp.reports import services as report_services

    jobs.install(app)
    alerts.install()  # saved-search alerts run after each outbox drain
    report_services.install_upload_cleanup()  # and stale uploads are deleted (hourly)
    oidc.register(app)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # SQLite enforces foreign keys only when asked, per connection.
        with app.app_context():
            engine = db.engine

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
            # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that
            # SAVEPOINT and transactional DDL work (SQLAlchemy's documented pysqlite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        # IMMEDIATE transactions, deferred ones for read-only requests (webapp.db explains why).
        from webapp.db import install_sqlite_transactions

        install_sqlite_transactions(engine, testing=app.testing)


def _migrations_dir():  # noqa: ANN202

    return PROJECT_ROOT / "migrations"


def register_hardening(app: Flask) -> None:
    from webapp.hardening import register

    register(app)


def register_security(app: Flask) -> None:
    from webapp.security import register

    register(app)


def register_blueprints(app: Flask) -> None:
    from webapp.api.openapi import bp as api_doc_bp
    from webapp.api.routes import bp as api_bp
    from webapp.auth.api import bp as auth_api_bp
    from webapp.auth.routes import bp as auth_bp
    from webapp.main.routes import bp as main_bp
    from webapp.open311.routes import bp as open311_bp
    from webapp.opendata.routes import bp as opendata_bp
    from webapp.pwa.routes import bp as pwa_bp
    from webapp.reports.routes import bp as reports_bp
    from webapp.search.routes import bp as search_bp
    from webapp.staff.routes import bp as staff_bp
    from webapp.stats.routes import bp as stats_bp
    from webapp.warnings.routes import bp as warnings_bp
    from webapp.workflow.routes import bp as workflow_bp

    for bp in (main_bp, auth_bp, reports_bp, search_bp, warnings_bp, api_bp, auth_api_bp, staff_bp, workflow_bp,
               stats_bp, opendata_bp, open311_bp, api_doc_bp, pwa_bp):
        app.register_blueprint(bp)


def register_errorhandlers(app: Flask) -> None:
    from webapp.main.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from webapp.main.helpers import register

    register(app)


def register_cli(app: Flask) -> None:
    from webapp.cli import register

    register(app)
