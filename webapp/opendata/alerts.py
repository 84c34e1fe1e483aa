"""E-mail alerts of saved searches: the public reports that newly match, daily or at once.

``send_due`` is the job: ``tick`` receives the search package's ``documents_indexed`` signal, sent
after each outbox drain (the in-process runner, the RQ drain job and the worker's sweep), and
``flask alerts send`` does the same from cron. Each saved
search is handled in its own transaction: the mail is sent, then the reports in it are recorded
(``saved_search_hits``) and the search marked checked. A mail that fails leaves nothing recorded,
so the next run tries again; a report already recorded is never mailed again, so a job that runs
twice, or two workers at once, cannot send a report twice to the same search.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from werkzeug.datastructures import MultiDict

from indexer.engine import EngineUnavailable
from webapp.clock import now
from webapp.extensions import db
from webapp.jobs import after_commit
from webapp.mail import MailError, send_mail
from webapp.opendata.models import AlertFrequency, SavedSearch, SavedSearchHit
from webapp.search import services
from webapp.search.engines import get_engine
from webapp.search.request import SearchRequest
from webapp.search.signals import documents_indexed

log = logging.getLogger("webapp.alerts")
# Reports can be indexed a little after their publication time: each run looks back this far and
# skips what it already sent.
LOOKBACK = timedelta(days=1)
MAX_ITEMS = 50           # reports listed in one mail (the rest: "and N more", with a link)
HITS_KEPT = timedelta(days=30)


def params_of(saved: SavedSearch) -> MultiDict:
    """The parameters of a saved search, read back through the same request object that stored them."""
    return SearchRequest.from_saved(saved.query_string).params()


def is_due(saved: SavedSearch, at: datetime) -> bool:
    """Immediate searches are due at every run; daily ones once per local day, after the hour.
    Never before the address was confirmed by its owner."""
    if saved.email_confirmed_at is None:
        return False
    if saved.frequency == AlertFrequency.IMMEDIATE:
        return True
    if saved.frequency != AlertFrequency.DAILY:
        return False
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    local = at.astimezone(tz)
    if local.hour < current_app.config["ALERTS_DAILY_HOUR"]:
        return False
    return saved.checked_at is None or saved.checked_at.astimezone(tz).date() < local.date()


def new_matches(saved: SavedSearch, checked_at: datetime | None, sent: set[int]) -> list[dict[str, Any]]:
    """Public documents matching the search, published since it was saved (and since a little
    before the last check), not mailed before (``sent``). Calls the engine: no transaction open."""
    query = SearchRequest.from_saved(saved.query_string).query()
    since = max(saved.created_at, (checked_at or saved.created_at) - LOOKBACK)
    query = replace(query, published_after=since, sort="newest", facets=False)
    return [doc for doc in get_engine().scan(query) if doc["id"] not in sent]


def unsubscribe_token(saved: SavedSearch) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pakn-alerts").dumps(saved.id)


# -- confirming the address an alert goes to -------------------------------------------------------------
CONFIRM_DAYS = 7


def _confirm_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="pakn-alert-confirm")


def confirm_token(saved: SavedSearch) -> str:
    """A link token for this saved search and its current address (a changed address needs a new one)."""
    return _confirm_signer().dumps([saved.id, (saved.email or "").lower()])


def saved_from_confirm_token(token: str) -> SavedSearch | None:
    """The saved search whose current address the token confirms; None if invalid, old or changed."""
    try:
        saved_id, email = _confirm_signer().loads(token, max_age=CONFIRM_DAYS * 86400)
    except (BadSignature, ValueError, TypeError):
        return None
    saved = db.session.get(SavedSearch, saved_id) if isinstance(saved_id, int) else None
    if saved is None or (saved.email or "").lower() != email:
        return None
    return saved


def address_changed(saved: SavedSearch) -> None:
    """After the address of ``saved`` was set or changed: confirmed at once when the same user
    already confirmed it on another saved search, else a confirmation link is mailed (after commit)."""
    saved.email_confirmed_at = None
    if not saved.email:
        return
    db.session.flush()
    known = db.session.scalar(select(SavedSearch.id).where(
        SavedSearch.user_id == saved.user_id, SavedSearch.id != saved.id,
        func.lower(SavedSearch.email) == saved.email.lower(), SavedSearch.email_confirmed_at.is_not(None)))
    if known is not None:
        saved.email_confirmed_at = now()
        return
    after_commit("webapp.opendata.alerts:mail_confirmation", saved.id)


def mail_confirmation(saved_id: int) -> None:
    """Job: mail the confirmation link of a saved search's address (read, end, call out)."""
    saved = db.session.get(SavedSearch, saved_id)
    if saved is None or not saved.email or saved.email_confirmed_at is not None:
        return
    with links_context(), force_locale("vi"):
        link = url_for("opendata.confirm_email", token=confirm_token(saved), _external=True)
        email, name = saved.email, saved.name
        subject = _("Xác nhận địa chỉ nhận thư báo: %(name)s", name=name)
        text = "\n".join([
            _("Bạn (hoặc ai đó) vừa đăng ký nhận thư báo phản ánh mới cho tìm kiếm “%(name)s” tại địa chỉ này.",
              name=name),
            _("Bấm vào liên kết sau để xác nhận; thư báo chỉ được gửi sau khi xác nhận:"), link, "",
            _("Nếu không phải bạn, hãy bỏ qua thư này: sẽ không có thư nào khác."),
        ])
    db.session.commit()
    try:
        send_mail(email, subject, text)
    except MailError as exc:
        log.warning("confirmation of the address of saved search %s not sent: %s", saved_id, exc)


def saved_id_from_token(token: str) -> int | None:
    try:
        value = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pakn-alerts").loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def compose(saved: SavedSearch, docs: list[dict[str, Any]]) -> tuple[str, str]:
    """Subject and plain-text body (Vietnamese) of one alert."""
    params = params_of(saved)
    search_link = url_for("search.index", _external=True, **params.to_dict(flat=False))
    subject = _("[PAKN] %(n)d phản ánh mới: %(name)s", n=len(docs), name=saved.name)
    lines = [_("Tìm kiếm đã lưu \"%(name)s\" có %(n)d phản ánh mới được công khai:", name=saved.name, n=len(docs)), ""]
    for doc in docs[:MAX_ITEMS]:
        item = services.item_json(doc)
        lines.append(f"• {item['code']} — {item['title']}")
        place = ", ".join(p for p in (item["region"]["ward"], item["region"]["province"]) if p)
        lines.append(f"  {item['status']['label']} · {item['field']['name']} · {place}")
        lines.append(f"  {item['url']}")
        lines.append("")
    if len(docs) > MAX_ITEMS:
        lines.append(_("… và %(n)d phản ánh khác.", n=len(docs) - MAX_ITEMS))
        lines.append("")
    lines += [_("Xem tất cả kết quả: %(url)s", url=search_link),
              _("Quản lý tìm kiếm đã lưu: %(url)s", url=url_for("opendata.saved_list", _external=True)),
              _("Ngừng nhận thư này: %(url)s",
                url=url_for("opendata.unsubscribe", token=unsubscribe_token(saved), _external=True))]
    return subject, "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """What an alert run needs of a saved search, read in its claiming transaction."""

    id: int
    name: str
    query_string: str
    email: str | None
    created_at: datetime


def send_one(saved_id: int, at: datetime) -> int | None:
    """Mail the new matches of one saved search; returns how many reports were mailed, or None when
    it is not due (or another worker took this run).

    Three steps, none holding a transaction across a network call: claim the run (``checked_at``
    moves from what this run read to ``at``, so a second worker's claim fails) and read what the
    mail needs, in one short transaction; ask the engine and send the mail with none open; record
    the mailed reports in another. A failed engine or mail gives the run back (``checked_at`` as
    it was) for the next sweep.
    """
    saved = db.session.get(SavedSearch, saved_id)
    if saved is None or not is_due(saved, at):
        db.session.rollback()
        return None
    previous = saved.checked_at
    same = SavedSearch.checked_at.is_(None) if previous is None else SavedSearch.checked_at == previous
    claimed = db.session.execute(update(SavedSearch).where(SavedSearch.id == saved_id, same)
                                 .values(checked_at=at)).rowcount
    if not claimed:
        db.session.rollback()
        return None
    sent = set(db.session.scalars(select(SavedSearchHit.report_id).where(SavedSearchHit.saved_search_id == saved_id)))
    saved = Target(id=saved.id, name=saved.name, query_string=saved.query_string, email=saved.email,
                   created_at=saved.created_at)  # plain values: nothing reloads while the mail goes
    db.session.commit()
    try:
        docs = new_matches(saved, previous, sent)
        if docs and saved.email:
            with force_locale("vi"):
                subject, text = compose(saved, docs)
            unsubscribe = url_for("opendata.unsubscribe", token=unsubscribe_token(saved), _external=True)
            send_mail(saved.email, subject, text, headers={"List-Unsubscribe": f"<{unsubscribe}>"})
    except (MailError, EngineUnavailable, services.ParamError):
        db.session.rollback()
        db.session.execute(update(SavedSearch).where(SavedSearch.id == saved_id, SavedSearch.checked_at == at)
                           .values(checked_at=previous))
        db.session.commit()
        raise
    if not (docs and saved.email):
        return 0
    db.session.add_all(SavedSearchHit(saved_search_id=saved_id, report_id=doc["id"], sent_at=at) for doc in docs)
    db.session.execute(update(SavedSearch).where(SavedSearch.id == saved_id).values(last_sent_at=at))
    db.session.commit()
    return len(docs)


def links_context():  # noqa: ANN201 - a context manager
    """A request context on PUBLIC_URL, so that links in mail sent by a job point at the portal."""
    if has_request_context():
        return nullcontext()
    config = current_app.config
    base = config["PUBLIC_URL"] or f"http://{'127.0.0.1' if config['HOST'] in ('0.0.0.0', '') else config['HOST']}:{config['PORT']}"  # noqa: S104
    return current_app.test_request_context("/", base_url=base)


def send_due(at: datetime | None = None) -> dict[str, int]:
    """The job: every saved search that is due gets its mail. Returns counts for the CLI."""
    with links_context():
        return _send_due(at or now())


def _send_due(at: datetime) -> dict[str, int]:
    counts = {"checked": 0, "mailed": 0, "reports": 0, "failed": 0}
    ids = db.session.scalars(select(SavedSearch.id).where(
        SavedSearch.frequency.in_([AlertFrequency.IMMEDIATE, AlertFrequency.DAILY]))
        .order_by(SavedSearch.id)).all()
    db.session.rollback()
    for saved_id in ids:
        try:
            mailed = send_one(saved_id, at)
        except (MailError, EngineUnavailable) as exc:
            counts["failed"] += 1
            log.warning("alert of saved search %s not sent, next run retries: %s", saved_id, exc)
            continue
        except services.ParamError as exc:  # the reference data changed under a saved search
            _mark_checked(saved_id, at)
            log.warning("saved search %s no longer valid: %s", saved_id, exc.message)
            continue
        if mailed is None:
            continue
        counts["checked"] += 1
        counts["mailed"] += 1 if mailed else 0
        counts["reports"] += mailed
    db.session.execute(delete(SavedSearchHit).where(SavedSearchHit.sent_at < at - HITS_KEPT))
    db.session.commit()
    return counts


def _mark_checked(saved_id: int, at: datetime) -> None:
    db.session.execute(update(SavedSearch).where(SavedSearch.id == saved_id).values(checked_at=at))
    db.session.commit()


def install() -> None:
    """Subscribe to ``documents_indexed`` (idempotent; called by the app factory)."""
    documents_indexed.connect(_on_documents_indexed)


def _on_documents_indexed(sender: Any, **extra: Any) -> None:
    tick()


def tick() -> None:
    """Send the alerts that are due after a drain; never raises into the drain."""
    try:
        if db.session.scalar(select(SavedSearch.id).where(
                SavedSearch.frequency.in_([AlertFrequency.IMMEDIATE, AlertFrequency.DAILY])).limit(1)) is None:
            return
        send_due()
    except Exception:
        db.session.rollback()
        log.exception("alerts run failed; the next sweep retries")
