"""History in Redis: datasketch's ``MinHashLSH`` with its Redis storage, shared by machines.

Keys (all under one prefix per dedup-settings fingerprint, so incompatible settings
never share an index):

- ``<prefix>_bucket_*``, ``<prefix>_keys``: datasketch's own LSH tables;
- ``<prefix>:doc:<hkey>``: a hash of the article's fields, shingles and signature;
- ``<prefix>:night:<night>``: the set of a night's keys;
- ``<prefix>:exact:<key>``: the set of keys with one exact-duplicate key;
- ``<prefix>:superseded:<night>``: keys superseded by that night (keep policy ``latest``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import redis
from datasketch import MinHashLSH
from redis.connection import parse_url

from pipeline.dedup import DedupConfig, Doc, Signer, band_keys
from pipeline.history import Superseded, settings_fingerprint

_FIELDS = ("night", "id", "rank", "n_words", "exact", "title", "published", "shingles", "signature",
           "superseded_night")


class RedisHistory:
    def __init__(self, url: str, config: DedupConfig) -> None:
        params = {k: v for k, v in parse_url(url).items() if k in ("host", "port", "db", "password", "username")}
        self.config = config
        self.prefix = f"newsclean:{settings_fingerprint(config)}"
        self.redis = redis.Redis(**params)
        self.redis.ping()
        self.lsh = MinHashLSH(
            num_perm=config.num_perm,
            params=(config.bands, config.rows),
            storage_config={"type": "redis", "basename": self.prefix.encode(), "redis": params},
            prepickle=False,
        )
        self.signer = Signer(config)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    def candidates(self, docs: Sequence[Doc], night: str, since: str | None) -> dict[str, list[Doc]]:
        if not docs:
            return {}
        found: dict[int, set[bytes]] = {i: set() for i in range(len(docs))}
        shingled = [i for i, d in enumerate(docs) if len(d.shingles)]
        if shingled:
            hashes = band_keys(np.stack([docs[i].signature for i in shingled]), self.config)
            for band, table in enumerate(self.lsh.hashtables):
                results = table.getmany(*(row[band] for row in hashes))
                for i, keys in zip(shingled, results):
                    found[i].update(keys)
        pipe = self.redis.pipeline(transaction=False)
        for doc in docs:
            pipe.smembers(self._key("exact", doc.exact))
        for i, keys in enumerate(pipe.execute()):
            found[i].update(keys)
        wanted = sorted({k for keys in found.values() for k in keys})
        pipe = self.redis.pipeline(transaction=False)
        for hkey in wanted:
            pipe.hmget(self._key("doc", hkey.decode()), *_FIELDS)
        loaded = {}
        for hkey, values in zip(wanted, pipe.execute()):
            if values[0] is None:
                continue
            doc, superseded_night = _doc_from_fields(hkey.decode(), values)
            if doc.night < night and (since is None or doc.night >= since) and (
                superseded_night is None or superseded_night >= night
            ):
                loaded[hkey] = doc
        out: dict[str, list[Doc]] = {}
        for i, keys in found.items():
            matches = [loaded[k] for k in sorted(keys) if k in loaded]
            if matches:
                out[docs[i].key] = matches
        return out

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[Superseded]) -> None:
        r = self.redis
        superseded_key = self._key("superseded", night)
        night_key = self._key("night", night)
        pipe = r.pipeline(transaction=True)
        for hkey in r.smembers(superseded_key):
            pipe.hdel(self._key("doc", hkey.decode()), "superseded_night")
        pipe.delete(superseded_key)
        old = sorted(r.smembers(night_key))
        for hkey in old:
            exact = r.hget(self._key("doc", hkey.decode()), "exact")
            if exact is not None:
                pipe.srem(self._key("exact", exact.decode()), hkey)
            pipe.delete(self._key("doc", hkey.decode()))
        pipe.delete(night_key)
        pipe.execute()
        with self.lsh.deletion_session() as session:
            for hkey in old:
                if hkey in self.lsh.keys:
                    session.remove(hkey)
        with self.lsh.insertion_session() as session:
            for doc in kept:
                if len(doc.shingles):
                    session.insert(doc.key.encode(), self.signer.lean(doc.signature), check_duplication=False)
        pipe = r.pipeline(transaction=True)
        for doc in kept:
            pipe.hset(self._key("doc", doc.key), mapping=_fields_from_doc(doc))
            pipe.sadd(self._key("exact", doc.exact), doc.key)
            pipe.sadd(night_key, doc.key)
        for entry in superseded:
            pipe.hset(self._key("doc", entry.key), "superseded_night", night)
            pipe.sadd(superseded_key, entry.key)
        pipe.execute()

    def close(self) -> None:
        self.redis.close()


def _fields_from_doc(doc: Doc) -> dict:
    return {
        "night": doc.night, "id": doc.id, "rank": doc.rank, "n_words": doc.n_words, "exact": doc.exact,
        "title": doc.title or "", "published": doc.published or "",
        "shingles": doc.shingles.astype(np.uint64).tobytes(),
        "signature": doc.signature.astype(np.uint32).tobytes(),
    }


def _doc_from_fields(hkey: str, values: list) -> tuple[Doc, str | None]:
    night, doc_id, rank, n_words, exact, title, published, shingles, signature, superseded = values
    doc = Doc(
        key=hkey, id=doc_id.decode(), night=night.decode(), rank=int(rank), n_words=int(n_words),
        exact=exact.decode(), shingles=np.frombuffer(shingles, dtype=np.uint64),
        signature=np.frombuffer(signature, dtype=np.uint32),
        title=title.decode() or None, published=published.decode() or None,
    )
    return doc, superseded.decode() if superseded is not None else None
