"""Every Atom feed (and Open311's XML) is valid XML whatever a report, a warning or ``q`` contains."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from webapp.feeds import Entry, atom, xml_text

ATOM = "{http://www.w3.org/2005/Atom}"
# What a title or text may carry that breaks hand-built XML. NUL and lone surrogates cannot be stored
# by either database; they are tried on the builder directly below.
HOSTILE = ["Đường A & B", "<b>đậm</b> <script>alert(1)</script>", "]]> <![CDATA[ x ]]>", "a\x01b\x08c\x1bd\x1fe",
           "x\ufffey\uffff", "&amp; &#0; &lt;", "\"'\tx"]


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 - our own output; that it parses is what is tested


def visible(text: str) -> str:
    """``text`` as it can appear in XML: without the characters XML 1.0 cannot carry."""
    return xml_text(text)


def test_xml_text_drops_exactly_what_xml_cannot_carry():
    assert xml_text("a\x00b\x01\x08\x0b\x0c\x0e\x1f\ud800\udfff\ufffe\uffffc") == "abc"
    assert xml_text("tab\tline\ncr\r đ & < ]]> 😀") == "tab\tline\ncr\r đ & < ]]> 😀"


def test_the_atom_builder_escapes_everything_even_nul_and_lone_surrogates():
    nasty = "A & B < C ]]> \x00\x01 \ud800 \udfff \ufffe end"
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    data = atom(feed_id="http://x/feed?q=" + nasty, title=nasty, self_url="http://x/feed?a=1&b=2",
                alternate_url="http://x/", updated=at, entries=[Entry(
                    id="http://x/1", title=nasty, link="http://x/1?a=1&b=2", updated=at, published=at, author=nasty,
                    summary=nasty + "\n" + nasty, category=(nasty, nasty))])
    feed = parse(data)
    assert feed.findtext(f"{ATOM}title") == "A & B < C ]]>     end"
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "A & B < C ]]>     end"
    assert entry.find(f"{ATOM}link").get("href") == "http://x/1?a=1&b=2"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_search_feed_stays_valid_with_hostile_reports_and_q(client, session, search, make_report, hostile):
    report = make_report(title=f"Phản ánh {hostile} ngập", content=f"Nội dung {hostile} ngập nước",
                         address=f"Số 1 {hostile}", sender_name=f"Người {hostile}")
    search.index()
    for q in ("", "ngập", f"ngập {hostile}"):
        response = client.get("/tra-cuu/feed.atom", query_string={"q": q})
        assert response.status_code == 200 and response.mimetype == "application/atom+xml"
        feed = parse(response.get_data())
        if q:
            assert visible(q) in feed.findtext(f"{ATOM}title")  # reflected, as text, not as markup
    feed = parse(client.get("/tra-cuu/feed.atom").get_data())
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == visible(f"{report.code}: Phản ánh {' '.join(hostile.split())} ngập")
    assert entry.findtext(f"{ATOM}author/{ATOM}name").startswith("Người")


def test_search_feed_reflects_a_hostile_q_only_as_text(client, session, search):
    q = "</title><entry>&x;]]>\x01"
    feed = parse(client.get("/tra-cuu/feed.atom", query_string={"q": q}).get_data())
    assert feed.findall(f"{ATOM}entry") == []
    assert "</title><entry>&x;]]>" in feed.findtext(f"{ATOM}title")
    assert "q=" in feed.find(f"{ATOM}link[@rel='self']").get("href")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_warnings_feed_stays_valid_with_hostile_warnings(client, session, hostile):
    from webapp.auth.models import Unit, User
    from webapp.warnings import services
    from webapp.warnings.models import PublicWarning

    unit = session.scalar(select(Unit).where(Unit.slug == "tiep-nhan")) or Unit(name="Bộ phận tiếp nhận",
                                                                                 slug="tiep-nhan", is_intake=True)
    author = User(username="tacgia", full_name="Tác giả", kind="staff", status="active", password_hash="x")
    now = services.now()
    for ends in (now + timedelta(hours=5), now - timedelta(hours=1)):  # one in force, one in the archive
        session.add(PublicWarning(unit=unit, title=f"Cảnh báo {hostile}", content=f"Tránh {hostile} ven sông",
                                  state="approved", starts_at=now - timedelta(hours=2), ends_at=ends, created_by=author))
    session.flush()
    response = client.get("/canh-bao/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    entries = parse(response.get_data()).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [visible(f"Cảnh báo {hostile}")] * 2
    assert entries[0].findtext(f"{ATOM}summary").startswith(visible(f"Tránh {hostile} ven sông"))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_open311_xml_stays_valid_with_hostile_reports(client, session, make_report, hostile):
    report = make_report(title=f"Phản ánh {hostile}", content=f"Nội dung {hostile}", address=f"Số 1 {hostile}",
                         submitted_at=datetime.now(UTC) - timedelta(hours=1))
    response = client.get(f"/open311/v2/requests/{report.code}.xml")
    assert response.status_code == 200
    element = parse(response.get_data())
    assert element.findtext("request/description") == visible(f"Nội dung {hostile}")
