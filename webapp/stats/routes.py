"""Statistics (Thống kê): the page and GET /api/v1/stats."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("stats", __name__)
