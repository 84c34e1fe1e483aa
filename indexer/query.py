"""The search contract's query and result types, and the query-side Vietnamese analysis.

Both engines receive a ``SearchQuery`` and return a ``SearchResult``; the analysis here (words,
folding, Telex repair, adjacent pairs) is shared so that both engines read a query the same way.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from indexer.text import fold, nfc

WORD = re.compile(r"\w+", re.UNICODE)
# Telex leftovers: tone keys (s f r x j) after a vowel, doubled vowels (aa ee oo dd), w after a/o/u.
_TELEX_HINT = re.compile(r"(dd|aa|ee|oo|aw|ow|uw|w|[aeiouy][a-z]*[sfrxj]$)")
FACETS = ("field", "region", "status", "type", "month")
SORTS = ("relevance", "newest", "oldest")
MAX_PER_PAGE = 100
# Searches count and rank at most this many matches, as Elasticsearch's track_total_hits does: a
# larger result says "more than TOTAL_BOUND" (``SearchResult.total_exact`` False) and is ranked
# among its TOTAL_BOUND newest matches, so a search's work stops growing with the index. Paging
# reaches the same number of results; exports, statistics and scans count every match.
TOTAL_BOUND = 10_000


@lru_cache(maxsize=4096)
def telex_repair(word: str) -> str | None:
    """The Vietnamese word a Telex-typed ``word`` meant ("nuwowcs" → "nước"), or None."""
    if not word.isascii() or not word.isalpha() or len(word) < 3 or not _TELEX_HINT.search(word):
        return None
    try:
        import bogo  # ~60 ms to import; loaded only once a word looks Telex-typed
    except ImportError:  # pragma: no cover - bogo is a pinned dependency
        return None
    converted = nfc(bogo.process_sequence(word))
    if converted == word or converted.isascii() or not WORD.fullmatch(converted):
        return None
    return converted.lower()


@dataclass(frozen=True)
class Term:
    """One query word: what was typed, and the forms it may match."""

    typed: str                 # lower-case NFC, as typed
    folded: tuple[str, ...]    # folded forms (the typed word's, and the Telex repair's)
    exact: tuple[str, ...]     # forms with diacritics worth ranking higher (may be empty)


def analyze(q: str) -> list[Term]:
    """Split a query into terms with their folded and exact (diacritic) forms."""
    terms = []
    for word in WORD.findall(nfc(q).lower()):
        folded = [fold(word)]
        exact = [word] if fold(word) != word else []
        repaired = telex_repair(word)
        if repaired:
            if fold(repaired) not in folded:
                folded.append(fold(repaired))
            exact.append(repaired)
        terms.append(Term(word, tuple(folded), tuple(exact)))
    return terms


def pairs(terms: list[Term]) -> list[str]:
    """Adjacent-syllable pairs of the query (folded), each as one token "ngap_nuoc"."""
    return [f"{a.folded[-1]}_{b.folded[-1]}" for a, b in zip(terms, terms[1:], strict=False)]


def text_pairs(text: str) -> list[str]:
    """Adjacent-syllable pairs of a document text (folded), matching ``pairs`` of a query."""
    words = [fold(w) for w in WORD.findall(text)]
    return [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


@dataclass
class SearchQuery:
    """What to search: words, exact phone, filters, sort and page. Values are already checked."""

    q: str = ""
    phone: str | None = None                 # normalized national form
    wards: list[int] = field(default_factory=list)
    provinces: list[int] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    date_from: datetime | None = None        # inclusive, UTC
    date_to: datetime | None = None          # exclusive, UTC
    units: tuple[int, ...] | None = None     # staff scope: documents assigned to any of these units
    deadline_before: datetime | None = None  # staff: documents whose deadline is before this (overdue)
    published_after: datetime | None = None  # documents published strictly after this (alerts)
    sort: str = ""                           # "" = relevance with q, newest without
    page: int = 1
    per_page: int = 20
    facets: bool = True
    any_words: bool = False                  # set by the fallback when all-words found nothing
    total_bound: int | None = TOTAL_BOUND    # count and rank at most this many matches; None: all

    @property
    def effective_sort(self) -> str:
        if self.sort:
            return "newest" if self.sort == "relevance" and not self.q.strip() else self.sort
        return "relevance" if self.q.strip() else "newest"

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass
class Hit:
    id: int
    score: float
    doc: dict[str, Any]
    highlight: dict[str, str] = field(default_factory=dict)  # field → escaped HTML with <mark>


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    any_words: bool = False  # True when no report held every word and any-word results are shown
    # False when more than ``total`` reports match (the query's total_bound was reached): the
    # total is then the bound, and the facets count the bound's newest matches (embedded engine)
    total_exact: bool = True
    facets_exact: bool = True  # False when the facets count only the bound's newest matches


# -- highlighting shared by the embedded engine ---------------------------------------------------
# Words of the texts shown repeat across a page and across searches: each is folded once.
_fold_word = lru_cache(maxsize=65536)(fold)


def highlight(text: str, terms: list[Term], fragment_words: int = 0) -> str | None:
    """Escape ``text`` and wrap words matching a term in <mark>; None when nothing matches.

    With ``fragment_words`` the result is a window of about that many words around the first
    match, with "…" where text was cut.
    """
    if not text or not terms:
        return None
    wanted = {f for t in terms for f in t.folded}
    matches = [m for m in WORD.finditer(text) if _fold_word(m.group()) in wanted]
    if not matches:
        return None
    start, end = 0, len(text)
    if fragment_words:
        words = list(WORD.finditer(text))
        index = next(i for i, w in enumerate(words) if w.start() == matches[0].start())
        first = max(0, index - fragment_words // 3)
        last = min(len(words) - 1, first + fragment_words)
        start = words[first].start() if first > 0 else 0
        end = words[last].end() if last < len(words) - 1 else len(text)
    out, pos = [], start
    for m in matches:
        if m.start() < start or m.end() > end:
            continue
        out.append(html.escape(text[pos:m.start()]))
        out.append(f"<mark>{html.escape(m.group())}</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    return ("…" if start > 0 else "") + "".join(out).strip() + ("…" if end < len(text) else "")


def plain_excerpt(text: str, words: int = 40) -> str:
    """The beginning of ``text``, escaped, cut at a word boundary."""
    parts = text.split()
    cut = " ".join(parts[:words])
    return html.escape(cut) + ("…" if len(parts) > words else "")
