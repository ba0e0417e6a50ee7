"""Blocking: cheap keys that bring likely matches together.

Each pass turns a record into zero or more key strings ``"{pass}:{value}"``
with a pure function (:func:`blocking_keys`), so the hub can keep them in an
indexed table and find one new record's candidates by key lookup exactly as
the batch finds them. Records sharing a key become candidate pairs; a key
shared by more than ``max_block_size`` records is skipped (a frequent city or
a common word would otherwise make the work quadratic).

Example::

    >>> from matching.settings import MatchSettings
    >>> s = MatchSettings.from_dict({
    ...     "comparisons": [{"name": "n", "template": "code", "attribute": "name"}],
    ...     "blocking": {"passes": [{"name": "sx", "keys": [{"attribute": "name", "transform": "soundex"}]}]}})
    >>> blocking_keys(s, {"name": "Robert"})
    ['sx:R163']
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jellyfish
import numpy as np

from matching.features import compute_features, is_null
from matching.settings import BlockingPass, KeyPart, MatchSettings

__all__ = [
    "CandidatePairs",
    "KeyIndex",
    "blocking_keys",
    "decode_pairs",
    "encode_pairs",
    "generate_pairs",
    "pair_completeness",
    "part_values",
]

_MAX_VALUES_PER_PART = 64  # a pathological value must not explode into thousands of keys


def _tok(s: str) -> list[str]:
    return s.split()


def _apply(transform: str, values: list[str]) -> list[str]:
    name, _, arg = transform.partition(":")
    n = int(arg) if arg else 0
    out: list[str] = []
    for v in values:
        if name == "value":
            out.append(v)
        elif name == "lower":
            out.append(v.lower())
        elif name == "first_token":
            t = _tok(v)
            if t:
                out.append(t[0])
        elif name == "last_token":
            t = _tok(v)
            if t:
                out.append(t[-1])
        elif name == "first_tokens":
            t = _tok(v)
            if t:
                out.append(" ".join(t[:n]))
        elif name == "sorted_tokens":
            out.append(" ".join(sorted(_tok(v))))
        elif name == "metaphone":
            out.append(jellyfish.metaphone(v))
        elif name == "soundex":
            out.append(jellyfish.soundex(v))
        elif name == "nysiis":
            out.append(jellyfish.nysiis(v))
        elif name == "digits":
            out.append("".join(ch for ch in v if ch.isdigit()))
        elif name == "alnum":
            out.append("".join(ch for ch in v.lower() if ch.isalnum()))
        elif name == "prefix":
            out.append(v[:n])
        elif name == "suffix":
            out.append(v[-n:])
        elif name == "min_length":
            if len(v) >= n:
                out.append(v)
        elif name == "tokens":
            out.extend(_tok(v))
        elif name == "qgrams":
            s = v.replace(" ", "")
            if len(s) <= n:
                out.append(s)
            else:
                out.extend(s[i:i + n] for i in range(len(s) - n + 1))
        else:  # settings validation prevents this
            raise ValueError(f"unknown transform {transform!r}")
    # keep order, drop empties and repeats
    seen: set[str] = set()
    return [x for x in out if x and not (x in seen or seen.add(x))]


def part_values(part: KeyPart, value: Any) -> list[str]:
    """Key values one part yields for one attribute value (set values yield one per element)."""
    if is_null(value):
        return []
    if isinstance(value, (set, frozenset, list, tuple)):
        values = sorted(str(v) for v in value if not is_null(v))
    else:
        values = [str(value)]
    for t in part.transforms:
        values = _apply(t, values)
        if not values:
            return []
    # Each value once (a list attribute may repeat one and have no transform to drop
    # the repeat): a record holds a key once, which the hub's primary key enforces.
    return list(dict.fromkeys(values))[:_MAX_VALUES_PER_PART]


def _pass_keys(bpass: BlockingPass, attrs: Mapping[str, Any], cache: dict | None = None) -> list[str]:
    per_part = []
    for pi, part in enumerate(bpass.keys):
        value = attrs.get(part.attribute)
        if cache is not None and not isinstance(value, (list, set)):
            ck = (pi, value)
            vals = cache.get(ck)
            if vals is None:
                vals = cache[ck] = part_values(part, value)
        else:
            vals = part_values(part, value)
        if not vals:
            return []
        per_part.append(vals)
    if len(per_part) == 1:
        return [f"{bpass.name}:{v}" for v in per_part[0]]
    return [f"{bpass.name}:" + "|".join(combo) for combo in itertools.product(*per_part)][:_MAX_VALUES_PER_PART]


def blocking_keys(settings: MatchSettings, attributes: Mapping[str, Any], *,
                  with_features: bool = True) -> list[str]:
    """All blocking keys of one record, ``"{pass}:{value}"``, in pass order.

    ``attributes`` are the standardized attributes; the settings' derived
    features are computed first unless ``with_features=False`` (already done).
    """
    attrs = compute_features(settings.features, attributes) if with_features and settings.features else attributes
    keys: list[str] = []
    for bpass in settings.blocking.passes:
        keys.extend(_pass_keys(bpass, attrs))
    return keys


# --------------------------------------------------------------------------- #
# Batch pair generation
# --------------------------------------------------------------------------- #

def encode_pairs(I: np.ndarray, J: np.ndarray, n: int) -> np.ndarray:
    """Pairs as one int64 each (smaller index first), for fast set operations."""
    lo = np.minimum(I, J).astype(np.int64)
    hi = np.maximum(I, J).astype(np.int64)
    return lo * n + hi


def decode_pairs(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return (codes // n).astype(np.int64), (codes % n).astype(np.int64)


@dataclass
class CandidatePairs:
    """Candidate pairs (row indices ``I < J``) and which passes found each (bit ``p`` = pass ``p``)."""

    I: np.ndarray
    J: np.ndarray
    passes: np.ndarray  # uint32 bitmask
    pass_names: list[str]
    stats: dict = field(default_factory=dict)
    frequent_keys: list[str] = field(default_factory=list)
    # Per pass: (record rows, key codes, code -> key string), kept so the hub
    # can store every record's keys without computing them a second time.
    key_arrays: list = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.I)

    def record_keys(self, ids: np.ndarray) -> Iterator[tuple[int, str]]:
        """``(record id, key)`` for every key of every record, the same keys
        :func:`blocking_keys` gives one record at a time."""
        id_list = ids.tolist()
        for rows, codes, key_name in self.key_arrays:
            names: dict[int, str] = {}
            for row, code in zip(rows.tolist(), codes.tolist()):
                name = names.get(code)
                if name is None:
                    name = names[code] = key_name(code)
                yield id_list[row], name

    def of_pass(self, name: str) -> np.ndarray:
        """Indices of the pairs found by pass ``name``."""
        bit = np.uint32(1 << self.pass_names.index(name))
        return np.flatnonzero(self.passes & bit)


def _pairs_within_groups(rec: np.ndarray, key: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of records sharing a key, skipping keys with more than ``cap`` records.

    Returns (I, J, capped_key_ids).
    """
    if rec.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((rec, key))
    k, r = key[order], rec[order]
    # one record listed twice under one key (two tokens giving the same key) counts once
    dup = np.r_[False, (k[1:] == k[:-1]) & (r[1:] == r[:-1])]
    k, r = k[~dup], r[~dup]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, k.size])
    capped = k[starts[sizes > cap]]
    ok = (sizes >= 2) & (sizes <= cap)
    starts, sizes = starts[ok], sizes[ok]
    if starts.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), capped
    # every element of a kept group, with its position inside the group
    elem = np.repeat(starts, sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    pos = elem - np.repeat(starts, sizes)
    after = np.repeat(sizes, sizes) - 1 - pos          # partners after this element
    left = np.repeat(elem, after)
    offs = np.arange(after.sum()) - np.repeat(np.cumsum(after) - after, after)
    right = left + 1 + offs
    return r[left].astype(np.int64), r[right].astype(np.int64), capped


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, set)):
        return frozenset(value) if isinstance(value, set) else tuple(value)
    return value


def _pass_key_arrays(bpass: BlockingPass, table):
    """(record rows, key ids, key id -> key string) of one pass over a table.

    Same keys as :func:`blocking_keys`, but each distinct attribute value is
    transformed once and the parts are combined as integers, not strings.
    """
    n = len(table)
    part_ids: list[list[tuple[int, ...]]] = []
    vocabs: list[list[str]] = []
    for part in bpass.keys:
        values = table.column(part.attribute).values
        vocab: dict[str, int] = {}
        cache: dict[Any, tuple[int, ...]] = {}
        ids_of = []
        for v in values:
            hv = _hashable(v)
            t = cache.get(hv)
            if t is None:
                t = cache[hv] = tuple(vocab.setdefault(x, len(vocab)) for x in part_values(part, v))
            ids_of.append(t)
        part_ids.append(ids_of)
        vocabs.append(list(vocab))
    radix = [max(len(v), 1) for v in vocabs]

    def key_name(code: int) -> str:
        parts = []
        for r, vocab in zip(reversed(radix), reversed(vocabs)):
            code, i = divmod(code, r)
            parts.append(vocab[i])
        return f"{bpass.name}:" + "|".join(reversed(parts))

    if all(all(len(t) <= 1 for t in ids) for ids in part_ids):
        # one key at most per record: pure numpy
        code = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for ids, r in zip(part_ids, radix):
            col = np.fromiter((t[0] if t else -1 for t in ids), np.int64, n)
            ok &= col >= 0
            code = code * r + np.maximum(col, 0)
        rows = np.flatnonzero(ok)
        return rows.astype(np.int64), code[rows], key_name
    recs: list[int] = []
    keys: list[int] = []
    for row in range(n):
        combos = [part_ids[k][row] for k in range(len(part_ids))]
        if any(not c for c in combos):
            continue
        count = 0
        for combo in itertools.product(*combos):
            code = 0
            for i, r in zip(combo, radix):
                code = code * r + i
            recs.append(row)
            keys.append(code)
            count += 1
            if count >= _MAX_VALUES_PER_PART:
                break
    return np.asarray(recs, dtype=np.int64), np.asarray(keys, dtype=np.int64), key_name


def generate_pairs(settings: MatchSettings, table, *, passes: Sequence[BlockingPass] | None = None
                   ) -> CandidatePairs:
    """Candidate pairs of a :class:`~matching.comparisons.RecordTable` over all blocking passes.

    Honors ``link_type`` (``link_only`` keeps cross-source pairs only) and the
    block size cap. ``stats`` reports keys, capped keys and pairs per pass.
    """
    t0 = time.perf_counter()
    passes = list(passes if passes is not None else settings.blocking.passes)
    n = len(table)
    all_codes, all_bits = [], []
    stats: dict[str, Any] = {"passes": {}}
    frequent: list[tuple[int, str]] = []
    key_arrays: list = []
    sources = table.sources
    for pi, bpass in enumerate(passes):
        cap = bpass.max_block_size or settings.blocking.max_block_size
        rec_a, key_code, key_name = _pass_key_arrays(bpass, table)
        key_arrays.append((rec_a, key_code, key_name))
        key_uniq, key_a = np.unique(key_code, return_inverse=True)
        key_a = key_a.astype(np.int64)
        I, J, capped = _pairs_within_groups(rec_a, key_a, cap)
        if settings.cross_source_only:
            keep = sources[I] != sources[J]
            I, J = I[keep], J[keep]
        elif settings.link_type == "dedupe_only":
            keep = sources[I] == sources[J]
            I, J = I[keep], J[keep]
        codes = np.unique(encode_pairs(I, J, n))
        all_codes.append(codes)
        all_bits.append(np.full(codes.size, 1 << pi, dtype=np.uint32))
        n_keys = int(key_uniq.size)
        if capped.size:
            counts = np.bincount(key_a)
            top = capped[np.argsort(-counts[capped], kind="stable")][:1000]
            frequent.extend((int(counts[c]), key_name(int(key_uniq[c]))) for c in top.tolist())
        stats["passes"][bpass.name] = {"keys": n_keys, "capped_keys": int(capped.size),
                                       "pairs": int(codes.size), "block_size_cap": cap}
    if all_codes and sum(c.size for c in all_codes):
        codes = np.concatenate(all_codes)
        bits = np.concatenate(all_bits)
        order = np.argsort(codes, kind="stable")
        codes, bits = codes[order], bits[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        uniq = codes[starts]
        merged = np.bitwise_or.reduceat(bits, starts) if starts.size else bits[:0]
    else:
        uniq, merged = np.zeros(0, np.int64), np.zeros(0, np.uint32)
    I, J = decode_pairs(uniq, max(n, 1))
    frequent.sort(reverse=True)
    stats["pairs"] = int(uniq.size)
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return CandidatePairs(I=I, J=J, passes=merged, pass_names=[p.name for p in passes], stats=stats,
                          frequent_keys=[k for _, k in frequent[:5000]], key_arrays=key_arrays)


# --------------------------------------------------------------------------- #
# In-memory key index (what the hub's key table does, for tests and benches)
# --------------------------------------------------------------------------- #

class KeyIndex:
    """Key -> record ids, with the same frequent-key cap as the batch.

    The hub keeps this in an indexed table; this class is the in-memory
    equivalent for tests, benches and small deployments.

    >>> idx = KeyIndex(max_block_size=2)
    >>> idx.add(1, ["p:a"]); idx.add(2, ["p:a", "p:b"])
    >>> sorted(idx.lookup(["p:a", "p:b"]))
    [1, 2]
    """

    def __init__(self, max_block_size: int = 100):
        self.max_block_size = max_block_size
        self._index: dict[str, set[int]] = {}

    def add(self, record_id: int, keys: Iterable[str]) -> None:
        for k in keys:
            self._index.setdefault(k, set()).add(int(record_id))

    def remove(self, record_id: int, keys: Iterable[str]) -> None:
        for k in keys:
            s = self._index.get(k)
            if s is not None:
                s.discard(int(record_id))

    def lookup(self, keys: Iterable[str], *, exclude: int | None = None) -> set[int]:
        """Records sharing any key, skipping keys held by more than ``max_block_size`` records."""
        out: set[int] = set()
        for k in keys:
            s = self._index.get(k)
            if s and len(s) <= self.max_block_size:
                out |= s
        if exclude is not None:
            out.discard(int(exclude))
        return out


def pair_completeness(candidates: CandidatePairs, ids: np.ndarray, true_pairs: Iterable[tuple[int, int]]) -> float:
    """Share of true record-id pairs that blocking proposed (recall of blocking)."""
    row = {int(r): i for i, r in enumerate(np.asarray(ids).tolist())}
    n = len(row)
    wanted = []
    for a, b in true_pairs:
        if a in row and b in row and a != b:
            wanted.append((row[a], row[b]))
    if not wanted:
        return 1.0
    w = np.array(wanted, dtype=np.int64)
    codes = encode_pairs(w[:, 0], w[:, 1], n)
    have = encode_pairs(candidates.I, candidates.J, n)
    return float(np.isin(np.unique(codes), have).mean())
