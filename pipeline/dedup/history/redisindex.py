"""The history's LSH index in Redis, shared by every machine that runs nights.

The night folders under ``state_dir/history`` hold the articles (see ``history``);
Redis holds what finds them, so that a lookup asks one server instead of searching
each earlier night's arrays. Keys, under one prefix per dedup-settings fingerprint (so
incompatible settings never share an index)::

    <prefix>:nights          hash: night -> "<digest> <articles>", the nights committed
    <prefix>:band:<fp>       set of "night|article": the articles with this band fingerprint
    <prefix>:exact:<key>     set of "night|article": the articles with this exact key
    <prefix>:night:<night>   hash: the night's band fingerprints and exact keys, as committed
                             (so that a rerun removes exactly what the night had put in)

A band fingerprint is ``dedup.band_fingerprints``: one number per (band, band values),
equal exactly when datasketch's ``MinHashLSH`` would put two signatures in the same
bucket of that band (tested against it), the same numbers the night folders sort.

A night is replaced in one MULTI/EXEC transaction: its old entries removed, its new
ones added and its line in ``nights`` set together, so a kill at any point leaves the
index with the night's old version or its new one, never a part of either.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import redis

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.history.base import settings_fingerprint
from pipeline.dedup.history.files import NightFolder

# Commands sent to Redis at a time when looking up (bounded buffers on both sides).
LOOKUP_BATCH = 20_000
# Keys deleted at a time when clearing the index.
CLEAR_BATCH = 10_000


def hex_prints(prints: np.ndarray) -> list[str]:
    """Band fingerprints (int64) as the keys spell them: 16 hexadecimal digits, unsigned.

    >>> hex_prints(np.array([1, -1], dtype=np.int64))
    ['0000000000000001', 'ffffffffffffffff']
    """
    digits = np.ascontiguousarray(prints, dtype=np.int64).view(np.uint64).astype(">u8").tobytes().hex()
    return [digits[k : k + 16] for k in range(0, len(digits), 16)]


class RedisIndex:
    """The index in Redis at ``url`` (``redis://host:port/db``)."""

    def __init__(self, url: str, config: DedupConfig) -> None:
        self.url = url
        self.prefix = f"newsclean:{settings_fingerprint(config)}"
        self.redis = redis.Redis.from_url(url)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    @property
    def _nights_key(self) -> str:
        return f"{self.prefix}:nights"

    def nights(self) -> dict[str, tuple[str, int]]:
        """The nights in the index: night -> (digest, articles)."""
        found = {}
        for night, value in self.redis.hgetall(self._nights_key).items():
            digest, articles = value.decode().split()
            found[night.decode()] = (digest, int(articles))
        return dict(sorted(found.items()))

    def lookup_bands(self, prints: np.ndarray) -> Iterator[tuple[int, str, int]]:
        """(index in ``prints``, night, article) for each article sharing a fingerprint."""
        yield from self._lookup("band", hex_prints(prints))

    def lookup_exact(self, keys: np.ndarray) -> Iterator[tuple[int, str, int]]:
        """(index in ``keys``, night, article) for each article with the exact key."""
        yield from self._lookup("exact", [bytes(k).decode("ascii") for k in keys])

    def _lookup(self, kind: str, names: list[str]) -> Iterator[tuple[int, str, int]]:
        positions: dict[str, list[int]] = {}
        for position, name in enumerate(names):
            positions.setdefault(name, []).append(position)
        unique = list(positions)
        for start in range(0, len(unique), LOOKUP_BATCH):
            batch = unique[start : start + LOOKUP_BATCH]
            pipe = self.redis.pipeline(transaction=False)
            for name in batch:
                pipe.smembers(self._key(kind, name))
            for name, refs in zip(batch, pipe.execute()):
                for ref in refs:
                    night, _, article = ref.decode().partition("|")
                    for position in positions[name]:
                        yield position, night, int(article)

    def replace_night(self, night: str, digest: str, folder: NightFolder) -> None:
        """Make the night's entries those of ``folder`` (a complete night folder), in one
        transaction (retried if another client changes the night meanwhile)."""
        prints, owners = folder.array("bands.npy"), folder.array("bands.docs.npy")
        exact, exact_owners = folder.array("exact.npy"), folder.array("exact.docs.npy")
        articles = folder.articles()

        def add(pipe, night_key: str) -> None:
            self._entries(pipe.sadd, night, prints, owners, [bytes(k).decode("ascii") for k in exact], exact_owners)
            pipe.hset(night_key, mapping={
                "bands": prints.astype(np.int64).tobytes(), "owners": owners.astype(np.int32).tobytes(),
                "exact": b"".join(bytes(k) for k in exact),
                "exact_owners": exact_owners.astype(np.int32).tobytes(),
            })
            pipe.hset(self._nights_key, night, f"{digest} {articles}")

        self._change_night(night, add)

    def remove_night(self, night: str) -> None:
        """Take the night's entries out of the index, in one transaction (nothing to do
        for a night it does not hold)."""

        def forget(pipe, night_key: str) -> None:
            pipe.delete(night_key)
            pipe.hdel(self._nights_key, night)

        self._change_night(night, forget)

    def _change_night(self, night: str, then: Callable[[Any, str], None]) -> None:
        """In one transaction, retried if another client changes the night meanwhile: the
        night's entries removed, then what ``then(pipe, night_key)`` queues."""
        night_key = self._key("night", night)
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(night_key)
                    old = pipe.hmget(night_key, "bands", "owners", "exact", "exact_owners")
                    pipe.multi()
                    if old[0] is not None:
                        self._entries(pipe.srem, night, np.frombuffer(old[0], np.int64),
                                      np.frombuffer(old[1], np.int32), _split_keys(old[2]),
                                      np.frombuffer(old[3], np.int32))
                    then(pipe, night_key)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _entries(self, command, night: str, prints: np.ndarray, owners: np.ndarray, exact: list[str],
                 exact_owners: np.ndarray) -> None:
        for name, owner in zip(hex_prints(prints), owners.tolist()):
            command(self._key("band", name), f"{night}|{owner}")
        for key, owner in zip(exact, exact_owners.tolist()):
            command(self._key("exact", key), f"{night}|{owner}")

    def clear(self, fingerprint: str | None = None) -> None:
        """Remove every key of this index (for a rebuild), or of the index of the settings
        ``fingerprint`` (one built with other settings)."""
        prefix = self.prefix if fingerprint is None else f"newsclean:{fingerprint}"
        batch = []
        for key in self.redis.scan_iter(match=f"{prefix}:*", count=CLEAR_BATCH):
            batch.append(key)
            if len(batch) == CLEAR_BATCH:
                self.redis.delete(*batch)
                batch = []
        if batch:
            self.redis.delete(*batch)

    def missing(self, night: str, folder: NightFolder, sample: int | None = None) -> tuple[int, int]:
        """How many of a committed night's entries (its band fingerprints' and exact keys'
        members, as its folder holds them) the index lacks, of how many looked at: all of
        them, or ``sample`` spread evenly over each kind (what a night checks when it is
        scheduled; a Redis that lost keys by hand lost them by the thousand).
        Keys another night also has are not enough: each entry is this night's member."""
        lacking = looked = 0
        for kind, values, owners in (("band", "bands.npy", "bands.docs.npy"), ("exact", "exact.npy", "exact.docs.npy")):
            keys, articles = folder.array(values, mmap_mode="r"), folder.array(owners, mmap_mode="r")
            chosen = np.arange(len(keys)) if sample is None or len(keys) <= sample else np.unique(
                np.linspace(0, len(keys) - 1, sample).astype(np.int64))
            for start in range(0, len(chosen), LOOKUP_BATCH):
                batch = chosen[start : start + LOOKUP_BATCH]
                names = (hex_prints(np.asarray(keys[batch])) if kind == "band"
                         else [bytes(k).decode("ascii") for k in np.asarray(keys[batch])])
                pipe = self.redis.pipeline(transaction=False)
                for name, owner in zip(names, np.asarray(articles[batch]).tolist()):
                    pipe.sismember(self._key(kind, name), f"{night}|{owner}")
                found = pipe.execute()
                looked += len(found)
                lacking += len(found) - sum(map(bool, found))
        return lacking, looked

    @property
    def _baseline_key(self) -> str:
        return f"{self.prefix}:evicted_keys_at_rebuild"

    def evicted_since_rebuild(self) -> int:
        """Keys the server evicted since the index was last rebuilt (or first filled): any
        may have been the index's. Redis counts evictions from its start (``INFO stats``);
        the count at the last rebuild is kept beside the index."""
        evicted = int(self.redis.info("stats").get("evicted_keys", 0))
        baseline = self.redis.get(self._baseline_key)
        if baseline is None:
            if self.redis.hlen(self._nights_key) == 0:  # an empty index: nothing to lose yet
                self.redis.set(self._baseline_key, evicted)
                return 0
            return evicted
        return max(0, evicted - int(baseline))

    def mark_rebuilt(self) -> None:
        """The index is whole again: evictions before now are no longer its concern."""
        self.redis.set(self._baseline_key, int(self.redis.info("stats").get("evicted_keys", 0)))

    def close(self) -> None:
        self.redis.close()


# The policies under which Redis never drops a key by itself (it refuses writes instead).
SAFE_POLICY = "noeviction"


def eviction_problem(client: redis.Redis) -> str | None:
    """Why a Redis cannot hold the index: an eviction policy that drops keys when memory
    runs short (the index would silently lose entries), said with what it evicted."""
    memory, stats = client.info("memory"), client.info("stats")
    policy = str(memory.get("maxmemory_policy", SAFE_POLICY))
    if policy == SAFE_POLICY:
        return None
    evicted = int(stats.get("evicted_keys", 0))
    return (f"its maxmemory-policy is {policy}, which drops keys when memory runs short"
            + (f" ({evicted:,} keys evicted since it started)" if evicted else "")
            + f": set maxmemory-policy {SAFE_POLICY} (redis.conf, or CONFIG SET), and give it the memory the "
            "index needs")


def _split_keys(blob: bytes) -> list[str]:
    """Exact keys stored end to end (32 hexadecimal characters each)."""
    return [blob[k : k + 32].decode("ascii") for k in range(0, len(blob), 32)]
