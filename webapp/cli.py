"""Flask CLI commands: demo data, legacy import/export, configuration reference."""

from __future__ import annotations

from flask import Flask

from webapp.auth.cli import users_cli
from webapp.demo.cli import seed_demo
from webapp.main.cli import config_doc, serve
from webapp.opendata.apikeys_cli import apikeys_cli
from webapp.opendata.cli import alerts_cli
from webapp.pwa.cli import app_cli
from webapp.reports.cli import reports_cli, uploads_cli
from webapp.search.cli import index_cli, worker_command


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(users_cli)
    app.cli.add_command(reports_cli)
    app.cli.add_command(uploads_cli)
    app.cli.add_command(config_doc)
    app.cli.add_command(serve)
    app.cli.add_command(index_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(apikeys_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(app_cli)
