"""The Elasticsearch engine (official ``elasticsearch`` 8.x client), one round trip per search.

Index settings and mappings are in ``schemas/elasticsearch/reports.json`` (built-in analyzers
only). Real indices are versioned names (``<prefix>-reports-<timestamp>``) behind the alias
``<prefix>-reports``; a rebuild fills a new index and swaps the alias atomically.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError, Urllib3HttpNode
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from indexer.engine import EngineUnavailable, SearchEngine
from indexer.query import Hit, SearchQuery, SearchResult, Term, analyze

log = logging.getLogger("indexer.elastic")
MAPPING_PATH = Path(__file__).resolve().parent.parent / "schemas" / "elasticsearch" / "reports.json"
TEXT_WEIGHTS = {"title": 3.0, "content": 1.0, "address": 1.5, "answer": 0.5, "sender_name": 2.0}
PAIR_BOOST = 2.0
EXACT_BOOST = 1.0
FACET_FIELDS = {"field": "field", "region": "ward_code", "status": "status", "type": "type",
                "month": "month"}
FACET_SIZE = {"field": 50, "region": 500, "status": 20, "type": 5, "month": 240}
_COMPAT = "application/vnd.elasticsearch+"


class PlainJsonNode(Urllib3HttpNode):
    """The one compatibility shim for OpenSearch-family servers (OpenSearch 2.x, osmem-server).

    On only when configured (``ELASTICSEARCH_PLAIN_JSON``); a real Elasticsearch 8 cluster needs
    none of it. It does two things the 8.x client would otherwise trip over:
    sends ``application/json`` / ``application/x-ndjson`` instead of the 8.x compatibility
    mimetypes (``application/vnd.elasticsearch+json; compatible-with=8``, which OpenSearch refuses
    with 406), and marks answers without the ``X-Elastic-Product: Elasticsearch`` header as if
    they had it (the client's product check refuses every 2xx answer of a server that lacks it).
    """

    def perform_request(self, method, target, body=None, headers=None, request_timeout=None, **kw):  # noqa: ANN001, ANN201
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and value.startswith(_COMPAT):
                    headers[name] = "application/" + value[len(_COMPAT):].split(";")[0].strip()
        if request_timeout is None:
            response = super().perform_request(method, target, body=body, headers=headers, **kw)
        else:
            response = super().perform_request(method, target, body=body, headers=headers,
                                               request_timeout=request_timeout, **kw)
        if "x-elastic-product" not in response.meta.headers:
            response.meta.headers["X-Elastic-Product"] = "Elasticsearch"
        return response


def _mapping() -> dict[str, Any]:
    return json.loads(MAPPING_PATH.read_text(encoding="utf-8"))


class ElasticsearchEngine(SearchEngine):
    name = "elasticsearch"

    def __init__(self, url: str, prefix: str = "pakn", username: str = "", password: str = "",
                 api_key: str = "", plain_json: bool = False, timeout: float = 10.0,
                 replicas: int = 0) -> None:
        options: dict[str, Any] = {"request_timeout": timeout, "max_retries": 1, "retry_on_timeout": False}
        if username:
            options["basic_auth"] = (username, password)
        if api_key:
            options["api_key"] = api_key
        if plain_json:
            options["node_class"] = PlainJsonNode
        self.client = Elasticsearch(url, **options)
        self.alias = f"{prefix}-reports"
        self.url = url
        self.replicas = replicas
        self._ensured = False  # the alias is known to exist: searches need no extra round trip

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TransportConnectionError, TransportError) as exc:
            self._ensured = False  # a cluster that comes back may have lost the index
            raise EngineUnavailable(f"không kết nối được Elasticsearch: {exc}") from exc
        except ApiError as exc:
            if getattr(exc, "status_code", 500) >= 500:
                self._ensured = False
                raise EngineUnavailable(f"Elasticsearch báo lỗi: {exc}") from exc
            raise

    def _on_index(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """Call ``fn(index=alias, ...)``; if the alias is gone (a cluster restarted empty, an index
        dropped by hand), create it again and retry once: an empty index, not an error."""
        try:
            return self._call(fn, index=self.alias, **kwargs)
        except NotFoundError:
            self._ensured = False
            self.ensure_index()
            return self._call(fn, index=self.alias, **kwargs)

    # -- index lifecycle --------------------------------------------------------------------
    def _new_index_name(self) -> str:
        return f"{self.alias}-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 1_000_000:06d}"

    def _create_index(self, name: str) -> None:
        body = _mapping()
        body["settings"]["number_of_replicas"] = self.replicas
        self._call(self.client.indices.create, index=name, settings=body["settings"],
                   mappings=body["mappings"])

    def _alias_targets(self) -> list[str]:
        try:
            return list(self._call(self.client.indices.get_alias, name=self.alias).body)
        except NotFoundError:
            return []

    def _stray_index(self) -> list[dict[str, Any]]:
        """Alias actions that remove a concrete index holding the alias's name, if there is one.

        A write to the alias's name after the index was lost creates one (this engine's writes did
        before they required the alias; an external-version delete still can): it has none of our
        mapping and blocks the alias, so it goes, atomically with the swap. Its documents are a
        projection of the database: reconcile writes them again.
        """
        if not self._call(self.client.indices.exists, index=self.alias):
            return []
        log.warning("index %s is a concrete index, not our alias: replacing it", self.alias)
        return [{"remove_index": {"index": self.alias}}]

    def ensure_index(self) -> None:
        if self._ensured:
            return
        if not self._alias_targets():
            name = self._new_index_name()
            self._create_index(name)
            self._call(self.client.indices.update_aliases,
                       actions=[*self._stray_index(), {"add": {"index": name, "alias": self.alias}}])
        else:
            # An index made before a field was added to the schema (the mapping is strict): add the
            # new fields in place. Changed ones need `flask index rebuild`; the engine says so.
            try:
                self._call(self.client.indices.put_mapping, index=self.alias,
                           properties=_mapping()["mappings"]["properties"])
            except ApiError as exc:
                log.warning("index %s: mapping not updated in place (%s); run a rebuild", self.alias, exc)
        self._ensured = True

    def drop(self) -> None:
        for name in self._alias_targets():
            self._call(self.client.indices.delete, index=name, ignore_unavailable=True)
        self._ensured = False

    # -- writing ----------------------------------------------------------------------------
    def bulk_upsert(self, docs: list[dict[str, Any]]) -> int:
        if not docs:
            return 0
        self.ensure_index()

        def actions() -> Iterator[dict[str, Any]]:
            return ({"_op_type": "index", "_index": self.alias, "_id": str(d["id"]),
                     "version": d["revision"], "version_type": "external", "_source": d} for d in docs)

        try:
            # require_alias: a write never creates a mapping-less index in place of the alias.
            return self._bulk(actions(), require_alias=True)
        except _IndexMissing:
            self._ensured = False
            self.ensure_index()
            return self._bulk(actions(), require_alias=True)

    def delete(self, items: Iterable[tuple[int, int]]) -> int:
        items = list(items)
        if not items:
            return 0
        # Checked every time, not cached: an external-version delete can create a missing index
        # itself (without our mapping). One extra round trip per batch.
        self._ensured = False
        self.ensure_index()
        actions = ({"_op_type": "delete", "_index": self.alias, "_id": str(doc_id),
                    "version": revision, "version_type": "external"} for doc_id, revision in items)
        return self._bulk(actions, count_missing=False)

    def _bulk(self, actions: Iterable[dict[str, Any]], count_missing: bool = True, **params: Any) -> int:
        done = 0
        failures = []
        stream = self._call(helpers.streaming_bulk, self.client, actions, raise_on_error=False,
                            raise_on_exception=False, refresh="wait_for", chunk_size=500, **params)
        try:
            for ok, item in stream:
                info = next(iter(item.values()))
                status = info.get("status", 500)
                if ok or status == 409:  # 409: the index already holds this or a newer revision
                    done += 1
                elif (info.get("error") or {}).get("type") == "index_not_found_exception":
                    raise _IndexMissing(self.alias)
                elif status == 404:
                    done += 1 if count_missing else 0
                else:
                    failures.append(info)
        except (TransportConnectionError, TransportError) as exc:
            self._ensured = False
            raise EngineUnavailable(f"không kết nối được Elasticsearch: {exc}") from exc
        if failures:
            raise EngineUnavailable(f"Elasticsearch từ chối {len(failures)} tài liệu: {failures[0]}")
        return done

    def rebuild(self, docs: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None) -> int:
        old = self._alias_targets()
        name = self._new_index_name()
        self._create_index(name)
        try:
            self._call(self.client.indices.put_settings, index=name,
                       settings={"index": {"refresh_interval": "-1"}})
            count = 0

            def actions() -> Iterator[dict[str, Any]]:
                for d in docs:
                    yield {"_op_type": "index", "_index": name, "_id": str(d["id"]),
                           "version": d["revision"], "version_type": "external", "_source": d}

            for ok, _item in helpers.streaming_bulk(self.client, actions(), chunk_size=1000,
                                                     raise_on_error=True):
                count += 1 if ok else 0
                if progress:
                    progress(1)
            self._call(self.client.indices.put_settings, index=name,
                       settings={"index": {"refresh_interval": "1s"}})
            self._call(self.client.indices.refresh, index=name)
        except Exception:
            self._call(self.client.indices.delete, index=name, ignore_unavailable=True)
            raise
        swap = [{"remove": {"index": o, "alias": self.alias}} for o in old] or self._stray_index()
        swap.append({"add": {"index": name, "alias": self.alias}})
        self._call(self.client.indices.update_aliases, actions=swap)  # atomic
        for o in old:
            self._call(self.client.indices.delete, index=o, ignore_unavailable=True)
        return count

    # -- reading ----------------------------------------------------------------------------
    def count(self) -> int:
        self.ensure_index()
        self._on_index(self.client.indices.refresh)
        return int(self._on_index(self.client.count)["count"])

    def revisions(self) -> Iterator[tuple[int, int]]:
        self.ensure_index()
        self._on_index(self.client.indices.refresh)
        try:
            for hit in helpers.scan(self.client, index=self.alias, _source=["revision"],
                                    query={"query": {"match_all": {}}}, size=1000):
                yield int(hit["_id"]), int(hit["_source"]["revision"])
        except (TransportConnectionError, TransportError) as exc:
            raise EngineUnavailable(f"không kết nối được Elasticsearch: {exc}") from exc

    def health(self) -> dict[str, Any]:
        try:
            info = self._call(self.client.info)
            documents = self.count()
            return {"engine": self.name, "ok": True, "url": self.url, "alias": self.alias,
                    "indices": self._alias_targets(), "version": info["version"]["number"],
                    "documents": documents, "cluster": self._cluster_health()}
        except EngineUnavailable as exc:
            return {"engine": self.name, "ok": False, "url": self.url, "error": str(exc)}

    def _cluster_health(self) -> dict[str, Any] | None:
        """Health of this index's shards: green (every copy assigned), yellow (a replica is missing:
        all data still served, less redundancy), red (a primary is missing). None if not told."""
        try:
            h = self._call(self.client.cluster.health, index=self.alias, timeout="5s")
        except ApiError:
            return None
        return {"status": h["status"], "nodes": h["number_of_nodes"], "replicas": self.replicas,
                "unassigned_shards": h["unassigned_shards"],
                "initializing_shards": h["initializing_shards"]}

    # -- search -----------------------------------------------------------------------------
    @staticmethod
    def _facet_filters(query: SearchQuery) -> dict[str, dict[str, Any]]:
        """Filters that belong to a facet (applied after the query, ignored by their own facet)."""
        out: dict[str, dict[str, Any]] = {}
        if query.wards or query.provinces:
            should = []
            if query.wards:
                should.append({"terms": {"ward_code": query.wards}})
                should.append({"terms": {"legacy_wards": query.wards}})  # a legacy place mapped to them
            if query.provinces:
                should.append({"terms": {"province_code": query.provinces}})
            out["region"] = {"bool": {"should": should, "minimum_should_match": 1}}
        if query.fields:
            out["field"] = {"terms": {"field": query.fields}}
        if query.types:
            out["type"] = {"terms": {"type": query.types}}
        if query.statuses:
            out["status"] = {"terms": {"status": query.statuses}}
        return out

    @staticmethod
    def _text_query(terms: list[Term], any_words: bool) -> dict[str, Any]:
        folded_fields = [f"{f}.folded^{w}" for f, w in TEXT_WEIGHTS.items()]
        per_term = [{"bool": {"should": [{"multi_match": {"query": v, "fields": folded_fields}}
                                         for v in t.folded], "minimum_should_match": 1}}
                    for t in terms]
        boosts: list[dict[str, Any]] = []
        if len(terms) > 1:
            phrase = " ".join(t.folded[-1] for t in terms)
            boosts.append({"multi_match": {
                "query": phrase, "boost": PAIR_BOOST,
                "fields": [f"{f}.pairs^{w}" for f, w in TEXT_WEIGHTS.items() if f != "sender_name"]}})
        exact = [e for t in terms for e in t.exact]
        if exact:
            boosts.append({"multi_match": {"query": " ".join(exact), "boost": EXACT_BOOST,
                                           "fields": [f"{f}^{w}" for f, w in TEXT_WEIGHTS.items()]}})
        if any_words:
            return {"bool": {"should": per_term + boosts, "minimum_should_match": 1}}
        return {"bool": {"must": per_term, "should": boosts}}

    def _body(self, query: SearchQuery, terms: list[Term]) -> dict[str, Any]:
        base_filters: list[dict[str, Any]] = []
        if query.phone:
            base_filters.append({"term": {"sender_phone": query.phone}})
        if query.date_from or query.date_to:
            rng: dict[str, str] = {}
            if query.date_from:
                rng["gte"] = query.date_from.isoformat()
            if query.date_to:
                rng["lt"] = query.date_to.isoformat()
            base_filters.append({"range": {"submitted_at": rng}})
        if query.units is not None:
            base_filters.append({"terms": {"units": list(query.units)}})
        if query.deadline_before is not None:
            base_filters.append({"range": {"deadline_at": {"lt": query.deadline_before.isoformat()}}})
        if query.published_after is not None:
            base_filters.append({"range": {"published_at": {"gt": query.published_after.isoformat()}}})
        main: dict[str, Any] = {"bool": {"filter": base_filters}}
        if terms:
            main["bool"]["must"] = [self._text_query(terms, query.any_words)]
        facet_filters = self._facet_filters(query)
        sort = {"relevance": ["_score", {"submitted_at": "desc"}, {"id": "desc"}],
                "newest": [{"submitted_at": "desc"}, {"id": "desc"}],
                "oldest": [{"submitted_at": "asc"}, {"id": "asc"}]}[query.effective_sort]
        body: dict[str, Any] = {
            "query": main, "sort": sort, "from": query.offset, "size": query.per_page,
            # Counted exactly up to one past the bound: beyond it the total says "more than".
            "track_total_hits": True if query.total_bound is None else query.total_bound + 1,
            "post_filter": {"bool": {"filter": list(facet_filters.values())}},
        }
        if terms:
            body["highlight"] = {
                "pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html",
                "require_field_match": False,
                "fields": {"title.folded": {"number_of_fragments": 0},
                           "content.folded": {"fragment_size": 220, "number_of_fragments": 1},
                           "answer.folded": {"fragment_size": 220, "number_of_fragments": 1},
                           "address.folded": {"number_of_fragments": 0},
                           "sender_name.folded": {"number_of_fragments": 0}}}
        if query.facets:
            aggs = {}
            for name, es_field in FACET_FIELDS.items():
                others = [f for key, f in facet_filters.items() if key != name]
                aggs[name] = {"filter": {"bool": {"filter": others}},
                              "aggs": {"values": {"terms": {"field": es_field, "size": FACET_SIZE[name]}}}}
            # A report named by a legacy place counts under each current ward it maps to.
            aggs["region"]["aggs"]["legacy"] = {"terms": {"field": "legacy_wards", "size": FACET_SIZE["region"]}}
            body["aggs"] = aggs
        return body

    def _search(self, query: SearchQuery) -> SearchResult:
        self.ensure_index()
        terms = analyze(query.q)
        body = self._body(query, terms)
        try:
            response = self._call(self.client.search, index=self.alias, **body)
        except NotFoundError:  # the alias vanished (index dropped by hand): recreate, answer empty
            self._ensured = False
            self.ensure_index()
            response = self._call(self.client.search, index=self.alias, **body)
        hits = []
        for h in response["hits"]["hits"]:
            highlight = {}
            for key, fragments in (h.get("highlight") or {}).items():
                name = key.split(".")[0]
                text = " … ".join(fragments)
                source = h["_source"].get(name) or ""
                if name in ("content", "answer") and not source.startswith(_strip_marks(fragments[0])[:20]):
                    text = "…" + text
                highlight[name] = text
            hits.append(Hit(id=int(h["_id"]), score=float(h.get("_score") or 0.0), doc=h["_source"],
                            highlight=highlight))
        facets: dict[str, list[tuple[str, int]]] = {}
        for name in FACET_FIELDS:
            if "aggregations" in response and name in response["aggregations"]:
                agg = response["aggregations"][name]
                counts: dict[str, int] = {}
                for b in [*agg["values"]["buckets"], *agg.get("legacy", {}).get("buckets", [])]:
                    counts[str(b["key"])] = counts.get(str(b["key"]), 0) + int(b["doc_count"])
                facets[name] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        total = response["hits"]["total"]["value"]
        exact = query.total_bound is None or total <= query.total_bound
        return SearchResult(total=total if exact else query.total_bound, hits=hits, facets=facets,
                            any_words=query.any_words, total_exact=exact)


    def _scan(self, query: SearchQuery, batch: int) -> Iterator[dict[str, Any]]:
        # A scroll over the query's own sort (preserve_order): one consistent snapshot, whatever
        # the sort (search_after cannot page a relevance order reliably: scores are floats); the
        # scroll context is cleared when the stream ends or is abandoned.
        self.ensure_index()
        body = self._body(replace(query, facets=False), analyze(query.q))
        for key in ("highlight", "from", "size", "track_total_hits", "aggs"):
            body.pop(key, None)
        try:
            for hit in helpers.scan(self.client, index=self.alias, query=body, size=batch,
                                    preserve_order=True, scroll="2m"):
                yield hit["_source"]
        except NotFoundError:
            return
        except (TransportConnectionError, TransportError) as exc:
            raise EngineUnavailable(f"không kết nối được Elasticsearch: {exc}") from exc


class _IndexMissing(Exception):  # noqa: N818 - internal signal, never leaves the engine
    """A bulk item found no index behind the alias: recreate it and write again."""


def _strip_marks(text: str) -> str:
    return html.unescape(text.replace("<mark>", "").replace("</mark>", ""))
