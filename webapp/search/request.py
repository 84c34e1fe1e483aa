"""What a search asks: the one request object every surface builds its search from.

Tra cứu, ``/api/v1/reports`` (GET and POST), the CSV/JSONL exports, the Atom feed, Thống kê,
saved searches and their alerts, Open311's list, the staff inbox and similar-report suggestions
all read their search parameters through ``SearchRequest``. It owns:

- parsing and checking the parameters (query args, a form or a JSON body) into a ``SearchQuery``,
  with a stable error code, a Vietnamese message and the field for anything unusable;
- which parameters a page, pager, feed, export and saved search keep (``KEPT_PARAMS`` …);
- the phone policy: a phone number only in a POST body (never in a URL, where server logs and
  browser histories keep it), matched exactly on the normalized number;
- the any-word policy: a search falls back to any-word matching when no report holds every word
  (the engine does it and says so); a scan (export, statistics) first probes with a search of one
  result and then scans with the same decision, so that it holds exactly what the page counted;
  suggestions match any word from the start.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from flask import current_app, g, session
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from indexer.query import MAX_PER_PAGE, SORTS, SearchQuery
from indexer.text import nfc, normalize_phone
from webapp import budgets
from webapp.clientip import client_key
from webapp.reports.codes import normalize_code
from webapp.reports.models import ReportType, Status
from webapp.search.services import ParamError, reference, run_search

# -- which parameters each surface keeps -------------------------------------------------------------
LIST_PARAMS = ("region", "field", "type", "status")          # repeatable (or comma-separated)
FILTER_PARAMS = ("q", *LIST_PARAMS, "from", "to")            # what is searched: stats, saved searches
KEPT_PARAMS = (*FILTER_PARAMS, "sort", "per_page")           # a shareable search: feed, export links
PAGE_PARAMS = (*KEPT_PARAMS, "page")                         # one page of it: pages, API, pager links

MAX_QUERY_LENGTH = 200
# Dates outside these years are typing mistakes, and the far ends overflow date arithmetic.
MIN_YEAR, MAX_YEAR = 1900, 2999
SIMILAR_SIZE = 5
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def kept_params(source: Mapping[str, Any], keys: tuple[str, ...] = KEPT_PARAMS) -> MultiDict:
    """The shareable parameters of a search (never the phone, never the CSRF token), non-empty,
    stripped, in the order of ``keys``."""
    kept: MultiDict = MultiDict()
    getlist = source.getlist if hasattr(source, "getlist") else (lambda k: [source[k]] if k in source else [])
    for key in keys:
        for value in getlist(key):
            if isinstance(value, str) and value.strip():
                kept.add(key, value.strip())
    return kept


def spend_phone_lookup() -> None:
    """Count one search by phone against the client's and the browser session's budget
    (``PHONE_LOOKUP_LIMIT``, default 10 an hour and 30 a day each); raise a 429 ``ParamError``
    when either is spent.

    Why: a public page shows a sender's number masked (``091*****78``, 10^5 candidates). Searching
    by phone tells whether a guess is right, so guesses must cost more than the number is worth:
    at 30 a day, trying every candidate from one client takes 100,000 / 30 ≈ 3,300 days, and half
    of them (the expected cost) about 4.5 years — far more than a month. (The API's general
    120/minute allowed it in 2.3 s.) Counted once per request, in the limiter's storage (Redis
    when configured, so every worker shares it).
    """
    if g.get("phone_lookup_counted"):
        return
    g.phone_lookup_counted = True
    if "lookup_id" not in session:
        session["lookup_id"] = secrets.token_urlsafe(12)
    wait = budgets.spend(current_app.config["PHONE_LOOKUP_LIMIT"], "phone-lookup",
                         f"ip:{client_key()}", f"session:{session['lookup_id']}")
    if wait is not None:
        raise ParamError("phone_lookup_limited", _(
            "Bạn đã tìm theo số điện thoại quá nhiều lần. Vui lòng thử lại sau %(m)d phút.",
            m=max(1, round(wait / 60))), "phone", status=429, retry_after=wait)


def phone_in_url_error(surface: str) -> ParamError:
    """The one refusal of a phone number in a URL, with the way to search by phone from there."""
    if surface == "api":
        message = _("Không gửi số điện thoại trên địa chỉ URL (nhật ký máy chủ sẽ lưu lại); hãy dùng POST "
                    "/api/v1/reports/search với phone trong thân JSON.")
    elif surface == "export":
        message = _("Không gửi số điện thoại trên địa chỉ URL; tải xuống không hỗ trợ tìm theo số điện thoại.")
    elif surface == "feed":
        message = _("Nguồn tin không hỗ trợ tìm theo số điện thoại.")
    else:  # a page
        message = _("Không đưa số điện thoại vào địa chỉ trang (nhật ký máy chủ và lịch sử trình duyệt sẽ lưu "
                    "lại); hãy nhập số vào ô “Tìm theo số điện thoại người gửi” trên trang Tra cứu.")
    return ParamError("phone_in_url", message, "phone")


@dataclass
class Probe:
    """The decision a scan runs with: the query (any-word or not, from page 1) and the page's total."""

    query: SearchQuery
    total: int
    any_words: bool


@dataclass
class SearchRequest:
    """One search as asked: its raw parameters, where they came from, and what they may hold.

    Build it with ``from_args`` (a URL: no phone), ``from_form``/``from_json`` (a POST body: the
    phone is allowed), ``from_saved`` (a saved search) or ``similar``; ``query()`` checks it.
    """

    source: Mapping[str, Any]
    keys: tuple[str, ...] = PAGE_PARAMS
    allow_phone: bool = False
    surface: str = "api"            # how a refusal is worded: api, export, feed or page
    names: Mapping[str, str] = field(default_factory=dict)   # our name → the caller's, for errors
    defaults: Mapping[str, str] = field(default_factory=dict)
    phone_in_url: bool = False
    suggest: bool = False           # similar-report suggestions: any word from the start

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def from_args(cls, args: Mapping[str, Any], keys: tuple[str, ...] = PAGE_PARAMS, surface: str = "api",
                  names: Mapping[str, str] | None = None,
                  defaults: Mapping[str, str] | None = None) -> SearchRequest:
        """The search of a URL's query string; a phone in it is refused (by ``query()``)."""
        names = dict(names or {})
        source: MultiDict = MultiDict()
        for key in keys:
            values = args.getlist(names.get(key, key)) if hasattr(args, "getlist") else \
                ([args[names.get(key, key)]] if names.get(key, key) in args else [])
            for value in values:
                if isinstance(value, str) and value.strip():
                    source.add(key, value.strip())
        return cls(source, keys=keys, surface=surface, names=names, defaults=dict(defaults or {}),
                   phone_in_url=names.get("phone", "phone") in args)

    @classmethod
    def from_form(cls, form: Mapping[str, Any], keys: tuple[str, ...] = PAGE_PARAMS) -> SearchRequest:
        """The search of a POSTed form (Tra cứu's phone box): the phone is read from the body."""
        source = kept_params(form, keys)
        phone = form.get("phone", "")
        if isinstance(phone, str) and phone.strip():
            source["phone"] = phone.strip()
        return cls(source, keys=keys, allow_phone=True, surface="page")

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SearchRequest:
        """The search of a JSON body (values may be lists or of any JSON type); the phone is allowed."""
        return cls(body, keys=PAGE_PARAMS, allow_phone=True)

    @classmethod
    def from_saved(cls, query_string: str) -> SearchRequest:
        """A saved search, from the query string ``query_string()`` stored."""
        return cls.from_args(MultiDict(parse_qsl(query_string or "", keep_blank_values=False)), FILTER_PARAMS)

    @classmethod
    def similar(cls, text: str) -> SearchRequest:
        """Reports like a text being typed (the send form's suggestions): any of its words."""
        return cls({"q": text[:MAX_QUERY_LENGTH]}, keys=("q",), suggest=True)

    # -- what it keeps ------------------------------------------------------------------------------
    @property
    def phone(self) -> str:
        """The phone as typed (only ever from a POST body)."""
        value = self.source.get("phone") if self.allow_phone else None
        return value.strip() if isinstance(value, str) else ""

    def params(self, keys: tuple[str, ...] | None = None) -> MultiDict:
        """The parameters to put in a link (never the phone): ``KEPT_PARAMS`` for a feed, export or
        page link, ``PAGE_PARAMS`` for a pager, ``FILTER_PARAMS`` for a saved search or statistics;
        by default the ones this request reads."""
        wanted = keys if keys is not None else self.keys
        return kept_params(self.source, tuple(k for k in wanted if k in self.keys))

    def tracking_code(self) -> str:
        """The tracking code the text box holds (any case, with or without dashes, spaces around),
        or ``""``: a code goes straight to its report (page, inbox) or is the single API result,
        instead of being searched as words."""
        raw = self.source.get("q") if "q" in self.keys else None
        return normalize_code(raw) if isinstance(raw, str) else ""

    def query_string(self) -> str:
        """What a saved search stores (``from_saved`` reads it back to the same request)."""
        return urlencode(list(self.params(FILTER_PARAMS).items(multi=True)))

    # -- checking -----------------------------------------------------------------------------------
    def _error(self, code: str, message: str, key: str) -> ParamError:
        return ParamError(code, message, self.names.get(key, key))

    def _values(self, key: str) -> list[str]:
        """All values of a parameter: repeated query args, a JSON list, or one value."""
        if key not in self.keys:
            return []
        if hasattr(self.source, "getlist"):
            raw: list[Any] = self.source.getlist(key)
        else:
            value = self.source.get(key)
            raw = value if isinstance(value, list) else ([] if value is None else [value])
        if not raw and key in self.defaults:
            raw = [self.defaults[key]]
        out = []
        for item in raw:
            text = str(item).strip()
            if text:
                out.extend(part.strip() for part in text.split(",") if part.strip())
        return out

    def _one(self, key: str) -> str:
        values = self._values(key)
        return values[0] if values else ""

    def _int(self, key: str, default: int) -> int:
        text = self._one(key)
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise self._error("invalid_parameter", _("'%(key)s' phải là số nguyên.", key=self.names.get(key, key)),
                              key) from None

    def _local_day(self, text: str, key: str) -> date:
        if not _DATE.match(text):
            raise self._error("bad_date", _("Ngày '%(value)s' không hợp lệ; dùng dạng NĂM-THÁNG-NGÀY, ví dụ "
                                            "2025-03-31.", value=text), key)
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise self._error("bad_date", _("Ngày '%(value)s' không tồn tại.", value=text), key) from None
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise self._error("bad_date", _("Ngày '%(value)s' nằm ngoài khoảng năm %(start)d–%(end)d.", value=text,
                                            start=MIN_YEAR, end=MAX_YEAR), key)
        return day

    def query(self) -> SearchQuery:
        """The checked ``SearchQuery``; raises ``ParamError`` for anything unusable."""
        if self.phone_in_url:
            raise phone_in_url_error(self.surface)
        ref = reference()
        query = SearchQuery()
        raw_q = (self.source.get("q") or "") if "q" in self.keys else ""
        if not isinstance(raw_q, str):
            raise self._error("invalid_parameter", _("'q' phải là chuỗi ký tự."), "q")
        query.q = nfc(raw_q)
        if len(query.q) > MAX_QUERY_LENGTH:
            raise self._error("query_too_long", _("Nội dung tìm kiếm dài quá %(n)d ký tự.", n=MAX_QUERY_LENGTH), "q")

        if self.allow_phone:
            # Exact match on the normalized number (+84/84 → 0, old 11-digit prefixes mapped), never a prefix.
            phone = self.source.get("phone") or ""
            if phone and not isinstance(phone, str):
                raise self._error("invalid_phone", _("Số điện thoại không hợp lệ."), "phone")
            if phone:
                normalized = normalize_phone(phone)
                if normalized is None:
                    raise self._error("invalid_phone", _("Số điện thoại không hợp lệ."), "phone")
                spend_phone_lookup()
                query.phone = normalized

        for value in self._values("region"):
            if not value.isdigit():
                raise self._error("unknown_region", _("Địa bàn '%(value)s' không tồn tại.", value=value), "region")
            code = int(value)
            if code in ref.provinces:
                query.provinces.append(code)
            elif code in ref.wards:
                query.wards.append(code)
            else:
                raise self._error("unknown_region", _("Địa bàn '%(value)s' không tồn tại.", value=value), "region")
        for value in self._values("field"):
            if value not in ref.fields:
                raise self._error("unknown_field", _("Lĩnh vực '%(value)s' không tồn tại.", value=value), "field")
            query.fields.append(value)
        for value in self._values("type"):
            if value not in (ReportType.PAKN, ReportType.IDEA):
                raise self._error("invalid_parameter", _("Loại '%(value)s' không hợp lệ (pakn hoặc idea).",
                                                         value=value), "type")
            query.types.append(value)
        valid_statuses = {s.value for s in Status}
        for value in self._values("status"):
            if value not in valid_statuses:
                raise self._error("invalid_parameter", _("Trạng thái '%(value)s' không hợp lệ.", value=value), "status")
            query.statuses.append(value)

        tz = ZoneInfo(current_app.config["TIMEZONE"])
        start = self._one("from")
        end = self._one("to")
        day_from = self._local_day(start, "from") if start else None
        day_to = self._local_day(end, "to") if end else None
        if day_from and day_to and day_from > day_to:
            raise self._error("date_range", _("Ngày bắt đầu phải trước hoặc bằng ngày kết thúc."), "from")
        if day_from:
            query.date_from = datetime.combine(day_from, time.min, tz)
        if day_to:
            query.date_to = datetime.combine(day_to + timedelta(days=1), time.min, tz)  # inclusive day

        sort = self._one("sort")
        if sort and sort not in SORTS:
            raise self._error("invalid_parameter", _("Cách sắp xếp '%(value)s' không hợp lệ.", value=sort), "sort")
        query.sort = sort
        query.page = self._int("page", 1)
        if query.page < 1:
            raise self._error("invalid_parameter", _("Số trang phải từ 1 trở lên."), "page")
        query.per_page = self._int("per_page", current_app.config["PAGE_SIZE"])
        if query.per_page < 1 or query.per_page > MAX_PER_PAGE:
            raise self._error("per_page_too_large" if query.per_page > MAX_PER_PAGE else "invalid_parameter",
                              _("Số kết quả mỗi trang phải từ 1 đến %(n)d.", n=MAX_PER_PAGE), "per_page")
        # Pages reach as far as a search counts and ranks (SEARCH_TOTAL_BOUND, at most Elasticsearch's
        # max_result_window, which from + size may not pass; huge offsets also overflow SQLite); the
        # first page is always there. Nobody reads further page by page: the exports give every result.
        query.total_bound = current_app.config["SEARCH_TOTAL_BOUND"]
        if query.page > 1 and query.page * query.per_page > query.total_bound:
            raise self._error("page_too_deep", _("Chỉ xem được %(n)d kết quả đầu tiên theo trang; hãy lọc hẹp hơn "
                                                 "hoặc tải tệp xuất (CSV, JSON).", n=query.total_bound), "page")
        if self.suggest:  # one small page, no facets
            query.any_words, query.per_page, query.facets = True, SIMILAR_SIZE, False
        return query

    # -- the any-word policy of a scan ----------------------------------------------------------------
    def probe(self, query: SearchQuery | None = None) -> Probe:
        """Search one result first (a bad parameter or an engine that is down fails here, before a
        file or a statistic is begun), then give the query a scan runs: from page 1, matching any
        word exactly when the page did (no report held every word)."""
        query = query if query is not None else self.query()
        # Counted exactly: an export's or a statistic's total is every match, past any bound.
        first = run_search(replace(query, page=1, per_page=1, facets=False, total_bound=None))
        return Probe(replace(query, any_words=first.any_words, page=1), first.total, first.any_words)


__all__ = ["SearchRequest", "Probe", "ParamError", "kept_params", "phone_in_url_error", "LIST_PARAMS",
           "FILTER_PARAMS", "KEPT_PARAMS", "PAGE_PARAMS", "MAX_QUERY_LENGTH"]
