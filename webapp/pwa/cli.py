"""``flask app icons``: remake the app icons from the one source image."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.pwa import icons

app_cli = AppGroup("app", help="The installable app (manifest icons).")


@app_cli.command("icons")
def make_icons() -> None:
    """Write the manifest's icons (webapp/static/app/*.png) from webapp/static/app/icon-source.png."""
    for path in icons.generate():
        click.echo(f"{path.name}")
