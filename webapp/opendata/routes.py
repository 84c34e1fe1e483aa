"""Open data for the public: exports and feeds of any search, saved searches with alerts."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("opendata", __name__)
