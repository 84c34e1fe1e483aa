"""The search contract every engine implements, and the factory that picks one from the config."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from indexer.query import SearchQuery, SearchResult, analyze


class EngineUnavailable(RuntimeError):  # noqa: N818 - reads as a state, used across the code base
    """The search engine cannot be reached or refused to work; the caller degrades with a message."""


def falls_back(query: SearchQuery) -> bool:
    """Whether ``query``, finding nothing, is run again matching any word (``SearchEngine.search``):
    an engine may then skip the facets and the page of its empty first answer."""
    return not query.any_words and len(analyze(query.q)) > 1


class SearchEngine(ABC):
    """Index of public report documents (built by ``indexer.documents``)."""

    name: str = "?"

    @abstractmethod
    def ensure_index(self) -> None:
        """Create the index (behind its alias) if it does not exist yet."""

    @abstractmethod
    def bulk_upsert(self, docs: list[dict[str, Any]]) -> int:
        """Write documents, each versioned by its ``revision`` (external version).

        A document whose stored revision is the same or newer is left alone and counts as
        success, so deliveries that repeat or arrive out of order change nothing. Returns the
        number of documents written or already current.
        """

    @abstractmethod
    def delete(self, items: Iterable[tuple[int, int]]) -> int:
        """Remove documents given as (report id, revision at which it stopped being public).

        A document holding a newer revision is kept; the deletion is remembered so that a late
        delivery of an older revision does not bring the document back. Missing ones are fine.
        Returns how many were removed.
        """

    def search(self, query: SearchQuery) -> SearchResult:
        """Hits, facets and highlights for ``query``.

        All words must match; only when that finds nothing, and the query has several words,
        is it run again matching any word, and the result says so (``any_words``).
        """
        result = self._search(query)
        if result.total == 0 and falls_back(query):
            result = self._search(replace(query, any_words=True))
        return result

    @abstractmethod
    def _search(self, query: SearchQuery) -> SearchResult:
        """One search as asked (one round trip where the engine allows)."""

    def scan(self, query: SearchQuery, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every document matching ``query`` (not one page), in the query's order, as a stream.

        Pages, facets and highlights are ignored; the any-word fallback is the caller's to ask for
        (``query.any_words``), so that an export holds exactly the rows the search page counted.
        Documents are fetched ``batch`` at a time, so memory does not grow with the result, and a
        slow reader never blocks writers.
        """
        yield from self._scan(query, batch)

    @abstractmethod
    def _scan(self, query: SearchQuery, batch: int) -> Iterator[dict[str, Any]]:
        """The engine's ``scan``."""

    @abstractmethod
    def revisions(self) -> Iterator[tuple[int, int]]:
        """Every (report id, revision) in the index, for reconcile."""

    @abstractmethod
    def count(self) -> int:
        """Number of documents in the index."""

    @abstractmethod
    def rebuild(self, docs: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None) -> int:
        """Build a new index from ``docs``, swap it in atomically and drop the old one.

        Searches keep answering from the old index until the swap. Returns the document count.
        """

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """Engine name, reachability and whatever else helps an operator."""

    @abstractmethod
    def drop(self) -> None:
        """Remove the index entirely (tests and tools)."""


SCOPES = ("public", "staff")


def engine_from_config(config: dict[str, Any], scope: str = "public") -> SearchEngine:
    """The engine the configuration asks for (not connected yet), for one of two indices.

    ``public`` holds the documents anyone may search; ``staff`` holds every report for the staff
    inbox (built by ``build_staff_document``). They never share an index, so nothing staff-only can
    be matched by a public search.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown search scope {scope!r}")
    # The engines import this module (their base class): importing them here, at call time, is
    # a genuine cycle, and loads only the configured engine's client.
    if config["SEARCH_ENGINE"] == "elasticsearch":
        from indexer.elastic import ElasticsearchEngine

        prefix = config["ELASTICSEARCH_INDEX_PREFIX"] + ("-staff" if scope == "staff" else "")
        return ElasticsearchEngine(
            url=config["ELASTICSEARCH_URL"], prefix=prefix,
            username=config["ELASTICSEARCH_USERNAME"], password=config["ELASTICSEARCH_PASSWORD"],
            api_key=config["ELASTICSEARCH_API_KEY"], plain_json=config["ELASTICSEARCH_PLAIN_JSON"],
            replicas=config["ELASTICSEARCH_REPLICAS"])
    from indexer.sqlite_fts import SqliteEngine

    path = config["SEARCH_INDEX_PATH"]
    if scope == "staff":
        root, dot, ext = str(path).rpartition(".")
        path = f"{root}-staff.{ext}" if dot else f"{path}-staff"
    return SqliteEngine(path, cache_size=config.get("SEARCH_CACHE_SIZE", 256),
                        native=None if config.get("SEARCH_NATIVE_RANK", True) else False)
