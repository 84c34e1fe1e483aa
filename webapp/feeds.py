"""Atom feeds and XML text, built by a library that escapes (feedgen on lxml), never by templates.

A feed stays valid XML whatever a report or a warning contains (``&``, ``<``, ``]]>``, control
characters, lone surrogates): the library escapes markup, and ``xml_text`` is the one helper that
drops the characters XML 1.0 cannot carry at all. Open311's XML uses ``xml_text`` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

# Everything outside XML 1.0's Char production: C0 controls but tab, LF and CR; lone surrogates;
# U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: object) -> str:
    """``value`` as text that XML 1.0 can carry: characters it cannot hold are dropped."""
    return _NOT_XML.sub("", str(value))


def shorten(text: str, limit: int = 600) -> str:
    """At most ``limit`` characters, cut at a word boundary with "…"."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip() + "…"


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str
    updated: datetime
    published: datetime | None = None
    author: str | None = None
    summary: str | None = None
    category: tuple[str, str] | None = None  # (term, label)


def atom(*, feed_id: str, title: str, self_url: str, alternate_url: str, updated: datetime,
         entries: Iterable[Entry], language: str = "vi") -> bytes:
    """An Atom 1.0 document (UTF-8 bytes) with ``entries`` in the order given."""
    feed = FeedGenerator()
    feed.id(xml_text(feed_id))
    feed.title(xml_text(title))
    feed.link(href=xml_text(self_url), rel="self", type="application/atom+xml")
    feed.link(href=xml_text(alternate_url), rel="alternate", type="text/html")
    feed.updated(updated)
    feed.language(language)
    feed.generator("PAKN")
    for item in entries:
        entry = feed.add_entry(order="append")
        entry.id(xml_text(item.id))
        entry.title(xml_text(item.title))
        entry.link(href=xml_text(item.link), rel="alternate", type="text/html")
        entry.updated(item.updated)
        if item.published is not None:
            entry.published(item.published)
        if item.author:
            entry.author({"name": xml_text(item.author)})
        if item.category is not None:
            entry.category({"term": xml_text(item.category[0]), "label": xml_text(item.category[1])})
        if item.summary is not None:
            entry.summary(xml_text(item.summary), type="text")
    return feed.atom_str(pretty=True, encoding="utf-8")
