"""``flask seed-demo``: realistic Vietnamese demo data."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.demo.seed import seed as seed_data


@click.command("seed-demo")
@click.option("--reports", "count", type=click.IntRange(min=0), default=None,
              help="Number of reports and ideas (default: DEMO_REPORTS).")
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has reports.")
@with_appcontext
def seed_demo(count: int | None, seed: int, if_empty: bool) -> None:
    """Create demo units, staff accounts and reports (deterministic for a given seed)."""
    if count is None:
        count = current_app.config["DEMO_REPORTS"]
    with click.progressbar(length=count, label="Đang tạo phản ánh mẫu", file=sys.stderr,
                           show_pos=True) as bar:
        seed_data(count=count, seed_value=seed, if_empty=if_empty, echo=click.echo,
                  progress=bar.update)
