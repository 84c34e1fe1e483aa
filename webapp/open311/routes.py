"""Open311 GeoReport v2 at /open311/v2."""

from __future__ import annotations

from flask import Blueprint

from webapp.extensions import csrf

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)  # a machine API: POST is authorised by an API key, not a session cookie
