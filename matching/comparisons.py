"""Column-wise comparison levels for arrays of record pairs.

Per-pair Python loops cannot score millions of pairs in seconds, so records
are encoded once into columns (strings, factorised codes, numbers, token
sets) and each comparison is evaluated for a whole array of pairs at a time:
codes are compared with numpy, strings with ``rapidfuzz.process.cpdist``
(pairwise, in C, on all cores). A pair takes the first level whose
conditions hold; similarity scores are computed once per comparison and
reused by its fuzzier levels.

Example::

    >>> from matching.settings import Comparison
    >>> comp = Comparison.from_dict({"name": "city", "template": "city", "attribute": "city"})
    >>> table = RecordTable([(1, "a", {"city__normalized": "springfield"}),
    ...                      (2, "b", {"city__normalized": "springfeld"})])
    >>> levels, _ = compute_levels(comp, table, np.array([0]), np.array([1]))
    >>> comp.levels[levels[0]].label
    'fuzzy'
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, Jaro, JaroWinkler, Levenshtein

from matching.features import CHECK_FUNCTIONS, compute_features, is_null
from matching.settings import Comparison, Condition, FeatureSpec

__all__ = [
    "TEMPLATES",
    "Column",
    "PairCache",
    "Record",
    "RecordTable",
    "TFTable",
    "abbreviation_score",
    "compute_levels",
    "evaluate_condition",
]

Record = tuple  # (record_id: int, source: str, attributes: Mapping[str, Any])

def _is_abbreviation(short: str, long: str) -> bool:
    """``short`` written as an abbreviation of ``long``: its letters in order ("sfty" / "safety")."""
    pos = 0
    for ch in short:
        pos = long.find(ch, pos) + 1
        if not pos:
            return False
    return True


_Parts = tuple  # (words, every word and adjacent pair run together, those of letters only by first letter)


def _abbreviation_parts(text: str) -> _Parts:
    """Words (single letters left out); every word and adjacent pair run together
    ("hivis" meets "hi visibility", "sd" "self drilling"); those of letters only by first letter."""
    words = tuple(t for t in text.split() if len(t) > 1)
    units = words + tuple(a + b for a, b in zip(words, words[1:]))
    by_letter: dict[str, list[str]] = {}
    for u in units:
        if u.isalpha():
            by_letter.setdefault(u[0], []).append(u)
    return words, frozenset(units), {k: tuple(v) for k, v in by_letter.items()}


def _covered(word: str, units: frozenset[str], by_letter: dict[str, tuple[str, ...]]) -> bool:
    if word in units:
        return True
    if not word.isalpha():
        return False  # numbers and sizes agree exactly or not at all
    for u in by_letter.get(word[0], ()):
        if _is_abbreviation(word, u) if len(word) <= len(u) else _is_abbreviation(u, word):
            return True
    return False


def _abbreviation_score(pa: _Parts, pb: _Parts, cutoff: float = 0.0) -> float:
    """The score, or 0.0 as soon as it cannot reach ``cutoff`` (most pairs fail on their first word)."""
    if len(pa[0]) > len(pb[0]):
        pa, pb = pb, pa
    words, (_, units, letters) = pa[0], pb
    n = len(words)
    if n < 3:
        return 0.0
    misses_left = n - math.ceil(cutoff * n - 1e-9)
    covered = 0
    for k, word in enumerate(words):
        if (_covered(word, units, letters)
                or (k + 1 < n and _covered(word + words[k + 1], units, letters))
                or (k > 0 and _covered(words[k - 1] + word, units, letters))):
            covered += 1
        else:
            misses_left -= 1
            if misses_left < 0:
                return 0.0
    return covered / n


def abbreviation_score(a: str, b: str) -> float:
    """Share of the shorter text's words that the other text writes in full or abbreviated.

    ERP and WMS item descriptions are abbreviated to fit a 30- or 40-character
    field ("HIVIS SFTY VST ANSI CL 3"), or cut off ("HI-VISIBILITY SAFETY VEST,
    ANS"), so token similarity calls them different. A word is covered when it,
    or it run together with a neighbour, equals or abbreviates (same first
    letter, letters in order) a word, or two run together, of the other text.
    Texts of fewer than three words score 0: too little to go on.

        >>> abbreviation_score("hivis sfty vst ansi cl 3 lime", "hi visibility safety vest ans")
        1.0
    """
    return _abbreviation_score(_abbreviation_parts(a), _abbreviation_parts(b))


# (scorer, scale, is_distance)
_SCORERS: dict[str, tuple[Callable, float, bool]] = {
    "jaro_winkler": (JaroWinkler.normalized_similarity, 1.0, False),
    "jaro": (Jaro.normalized_similarity, 1.0, False),
    "ratio": (fuzz.ratio, 100.0, False),
    "token_set": (fuzz.token_set_ratio, 100.0, False),
    "token_sort": (fuzz.token_sort_ratio, 100.0, False),
    "partial_ratio": (fuzz.partial_ratio, 100.0, False),
    "levenshtein": (Levenshtein.distance, 1.0, True),
    "damerau_levenshtein": (DamerauLevenshtein.distance, 1.0, True),
}
_SET_METHODS = frozenset({"overlap", "jaccard", "contains", "weighted_jaccard"})
# Below this many pairs, thread start-up costs more than it saves.
_PARALLEL_MIN = 20_000
_MONEY_JUNK = re.compile(r"[^\d.\-eE]")


def _workers(n: int) -> int:
    return -1 if n >= _PARALLEL_MIN else 1


# --------------------------------------------------------------------------- #
# Term-frequency tables
# --------------------------------------------------------------------------- #

class TFTable:
    """How often each value occurs, for term-frequency adjustment.

    ``counts`` keeps only the most frequent values (a stored model must stay
    small); any other value gets ``default`` (the mean count of the values
    left out), which is what matters: common values are the ones listed.
    For set-valued attributes (model numbers, tokens) counts are document
    frequencies of the elements.
    """

    __slots__ = ("counts", "default", "n")

    def __init__(self, counts: Mapping[str, int], n: int, default: float = 1.0):
        self.counts = dict(counts)
        self.n = max(int(n), 1)
        self.default = float(default)

    def freq(self, value: str) -> float:
        return self.counts.get(value, self.default) / self.n

    @classmethod
    def from_counts(cls, values: Sequence[str], counts: np.ndarray, n: int, size: int) -> TFTable:
        counts = np.asarray(counts, dtype=np.int64)
        if len(values) > size:
            top = np.argpartition(-counts, size - 1)[:size]
            keep = set(top.tolist())
            rest = [c for i, c in enumerate(counts.tolist()) if i not in keep]
            default = float(np.mean(rest)) if rest else 1.0
        else:
            top = np.arange(len(values))
            default = 1.0
        table = {values[i]: int(counts[i]) for i in top.tolist()}
        return cls(table, n, default)

    def to_dict(self) -> dict:
        return {"n": self.n, "default": self.default, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: Mapping) -> TFTable:
        return cls(d["counts"], d["n"], d.get("default", 1.0))


# --------------------------------------------------------------------------- #
# Columns
# --------------------------------------------------------------------------- #

def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (set, frozenset)):
        return " ".join(sorted(map(str, value)))
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, Mapping):
        return _to_float(value.get("amount"))
    if isinstance(value, str):
        s = _MONEY_JUNK.sub("", value)
        try:
            return float(s) if s else math.nan
        except ValueError:
            return math.nan
    return math.nan


def _to_days(value: Any) -> float:
    if isinstance(value, _dt.datetime):
        return value.toordinal() + (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    if isinstance(value, _dt.date):
        return float(value.toordinal())
    if isinstance(value, str):
        try:
            return float(_dt.date.fromisoformat(value[:10]).toordinal())
        except ValueError:
            return math.nan
    return math.nan


def _to_set(value: Any) -> frozenset:
    if isinstance(value, (set, frozenset, list, tuple)):
        return frozenset(str(v) for v in value if not is_null(v))
    if isinstance(value, str):
        return frozenset(value.split())
    return frozenset()


class Column:
    """One attribute of all records in a table, in every encoding a comparison needs.

    Encodings are built lazily and cached: strings for rapidfuzz, integer
    codes for exact tests and term frequencies, floats for numbers and
    dates, integer token sets for set comparisons.
    """

    def __init__(self, name: str, values: list):
        self.name = name
        self.values = values
        self._cache: dict[Any, Any] = {}

    def _get(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def null(self) -> np.ndarray:
        return self._get("null", lambda: np.fromiter((is_null(v) for v in self.values), bool, len(self.values)))

    @property
    def strings(self) -> np.ndarray:
        def build():
            arr = np.empty(len(self.values), dtype=object)
            arr[:] = [("" if is_null(v) else _to_str(v)) for v in self.values]
            return arr
        return self._get("strings", build)

    def _factorize(self, keys: Sequence[str | None]):
        index: dict[str, int] = {}
        codes = np.empty(len(keys), dtype=np.int32)
        for i, k in enumerate(keys):
            if k is None:
                codes[i] = -1
            else:
                c = index.get(k)
                if c is None:
                    c = index[k] = len(index)
                codes[i] = c
        return codes, list(index)

    @property
    def codes(self) -> np.ndarray:
        """Factorised values (-1 for null): equal codes mean equal values."""
        return self._factorized[0]

    @property
    def uniques(self) -> list[str]:
        return self._factorized[1]

    @property
    def _factorized(self):
        null = self.null
        strings = self.strings
        return self._get("factorized", lambda: self._factorize(
            [None if n else s for n, s in zip(null.tolist(), strings.tolist())]))

    @property
    def abbreviation_parts(self) -> list:
        """Per distinct value, its words for :func:`abbreviation_score` (parsed once, not per pair)."""
        return self._get("abbreviation", lambda: [_abbreviation_parts(u) for u in self.uniques])

    def prefix_codes(self, n: int) -> np.ndarray:
        def build():
            null = self.null
            return self._factorize([None if nl else s[:n] for nl, s in zip(null.tolist(), self.strings.tolist())])[0]
        return self._get(("prefix", n), build)

    @property
    def numbers(self) -> np.ndarray:
        return self._get("numbers", lambda: np.fromiter(
            (math.nan if is_null(v) else _to_float(v) for v in self.values), np.float64, len(self.values)))

    @property
    def days(self) -> np.ndarray:
        return self._get("days", lambda: np.fromiter(
            (math.nan if is_null(v) else _to_days(v) for v in self.values), np.float64, len(self.values)))

    @property
    def sets(self) -> list[frozenset[int]]:
        """Each record's elements as a frozenset of integer ids into :attr:`vocab`."""
        return self._sets_vocab[0]

    @property
    def vocab(self) -> list[str]:
        return self._sets_vocab[1]

    @property
    def _sets_vocab(self):
        def build():
            index: dict[str, int] = {}
            out = []
            for v in self.values:
                s = _to_set(v) if not is_null(v) else frozenset()
                out.append(frozenset(index.setdefault(x, len(index)) for x in s))
            return out, list(index)
        return self._get("sets", build)

    def valid(self, check: str) -> np.ndarray:
        fn = CHECK_FUNCTIONS[check]

        def build():
            ok_unique = np.fromiter((bool(fn(u)) for u in self.uniques), bool, len(self.uniques))
            codes = self.codes
            out = np.zeros(len(codes), dtype=bool)
            has = codes >= 0
            out[has] = ok_unique[codes[has]]
            return out
        return self._get(("valid", check), build)

    def freqs(self, table: TFTable) -> np.ndarray:
        """Relative frequency of each record's value (NaN for null)."""
        def build():
            per_unique = np.fromiter((table.freq(u) for u in self.uniques), np.float64, len(self.uniques))
            out = np.full(len(self.values), np.nan)
            codes = self.codes
            has = codes >= 0
            out[has] = per_unique[codes[has]]
            return out
        return self._get(("freqs", id(table)), build)

    def token_freqs(self, table: TFTable) -> np.ndarray:
        """Relative document frequency of each vocabulary element."""
        return self._get(("tfreqs", id(table)), lambda: np.fromiter(
            (table.freq(t) for t in self.vocab), np.float64, len(self.vocab)))

    def count_table(self, size: int, *, as_set: bool = False) -> TFTable:
        """Frequencies of this column's values, as stored in a model."""
        if as_set:
            sets = self.sets
            n = sum(1 for s in sets if s)
            counts = np.zeros(len(self.vocab), dtype=np.int64)
            flat = np.fromiter((t for s in sets for t in s), np.int64)
            if flat.size:
                counts += np.bincount(flat, minlength=len(self.vocab))
            return TFTable.from_counts(self.vocab, counts, n, size)
        codes = self.codes
        has = codes[codes >= 0]
        counts = np.bincount(has, minlength=len(self.uniques)) if has.size else np.zeros(0, np.int64)
        return TFTable.from_counts(self.uniques, counts, int(has.size), size)


class RecordTable:
    """Records encoded once, column by column, for vectorised comparison.

    ``records`` are ``(record_id, source, attributes)``; ``features`` (from
    the settings) are computed per record first. Row ``i`` of every column
    is record ``records[i]``.
    """

    def __init__(self, records: Sequence[Record], features: Sequence[FeatureSpec] = ()):
        n = len(records)
        self.ids = np.fromiter((r[0] for r in records), np.int64, n)
        source_index: dict[str, int] = {}
        self.sources = np.fromiter((source_index.setdefault(str(r[1]), len(source_index)) for r in records),
                                   np.int32, n)
        self.source_names = list(source_index)
        if features:
            self.attrs = [compute_features(features, r[2]) for r in records]
        else:
            self.attrs = [r[2] for r in records]
        self._columns: dict[str, Column] = {}
        self._row_of: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> Column:
        col = self._columns.get(name)
        if col is None:
            col = self._columns[name] = Column(name, [a.get(name) for a in self.attrs])
        return col

    def row_of(self, record_id: int) -> int:
        if self._row_of is None:
            self._row_of = {int(r): i for i, r in enumerate(self.ids.tolist())}
        return self._row_of[int(record_id)]


# --------------------------------------------------------------------------- #
# Evaluating conditions on pair arrays
# --------------------------------------------------------------------------- #

class PairCache:
    """Per-call cache of similarity scores, keyed by (attribute, method), over the full pair arrays.

    Also carries the term-frequency tables, which IDF-weighted methods need.
    """

    def __init__(self, n: int, tf_tables: Mapping[str, TFTable] | None = None):
        self.n = n
        self.scores: dict[tuple[str, str], np.ndarray] = {}
        self.tf_tables = tf_tables or {}

    def get(self, key: tuple[str, str]) -> np.ndarray:
        arr = self.scores.get(key)
        if arr is None:
            arr = self.scores[key] = np.full(self.n, np.nan, dtype=np.float32)
        return arr


def _idf(col: Column, table: TFTable | None) -> list[float]:
    """IDF weight per vocabulary element: log(1/df), from the TF table when there is one."""
    if table is None:
        sets = col.sets
        n = max(sum(1 for x in sets if x), 1)
        df = np.bincount(np.fromiter((t for x in sets for t in x), np.int64), minlength=len(col.vocab))
        return (np.log(n / np.maximum(df, 1)) + 1e-3).tolist()
    return (-np.log(np.minimum(col.token_freqs(table), 1.0)) + 1e-3).tolist()


def _set_scores(cond: Condition, col: Column, a_rows: np.ndarray, b_rows: np.ndarray,
                table: TFTable | None) -> np.ndarray:
    """IDF-weighted Jaccard: shared rare words count, shared common words barely do."""
    sets = col.sets
    w = _idf(col, table)
    out = np.zeros(len(a_rows), dtype=np.float32)
    for k, (i, j) in enumerate(zip(a_rows.tolist(), b_rows.tolist())):
        a, b = sets[i], sets[j]
        if a and b:
            inter = a & b
            if inter:
                union = sum(w[t] for t in a) + sum(w[t] for t in b) - sum(w[t] for t in inter)
                out[k] = sum(w[t] for t in inter) / union
    return out


def _set_test(cond: Condition, col: Column, a_rows: np.ndarray, b_rows: np.ndarray) -> np.ndarray:
    sets = col.sets
    out = np.zeros(len(a_rows), dtype=bool)
    if cond.method == "overlap":
        need = int(cond.threshold or 1)
        for k, (i, j) in enumerate(zip(a_rows.tolist(), b_rows.tolist())):
            a, b = sets[i], sets[j]
            if a and b and len(a & b) >= need:
                out[k] = True
    elif cond.method == "jaccard":
        thr = float(cond.threshold)
        for k, (i, j) in enumerate(zip(a_rows.tolist(), b_rows.tolist())):
            a, b = sets[i], sets[j]
            if a and b and len(a & b) >= thr * len(a | b):
                out[k] = True
    else:  # contains: an element of one side is a substring of one of the other
        min_len = int(cond.threshold or 4)
        vocab = col.vocab
        for k, (i, j) in enumerate(zip(a_rows.tolist(), b_rows.tolist())):
            a, b = sets[i], sets[j]
            if not a or not b:
                continue
            if a & b:
                out[k] = True
                continue
            sa = [vocab[t] for t in a if len(vocab[t]) >= min_len]
            sb = [vocab[t] for t in b if len(vocab[t]) >= min_len]
            if any(x in y or y in x for x in sa for y in sb):
                out[k] = True
    return out


def evaluate_condition(cond: Condition, table: RecordTable, I: np.ndarray, J: np.ndarray,
                       pos: np.ndarray, cache: PairCache | None = None) -> np.ndarray:
    """Boolean mask over ``pos`` (indices into the pair arrays ``I``/``J``): does ``cond`` hold?"""
    method = cond.method
    if method == "else":
        return np.ones(len(pos), dtype=bool)
    col = table.column(cond.attribute)
    a_rows, b_rows = I[pos], J[pos]
    null = col.null
    if method == "null":
        return null[a_rows] | null[b_rows]
    both = ~(null[a_rows] | null[b_rows])
    if method in ("exact", "different"):
        codes = col.codes
        eq = codes[a_rows] == codes[b_rows]
        out = both & (eq if method == "exact" else ~eq)
        if cond.check:
            ok = col.valid(cond.check)
            out &= ok[a_rows] & ok[b_rows]
        return out
    if method == "prefix":
        pc = col.prefix_codes(int(cond.threshold))
        return both & (pc[a_rows] == pc[b_rows])
    if method == "suffix_of":
        # one identifier with its first characters cut off ("FR01051874" / "1051874")
        strings = col.strings
        min_len = int(cond.threshold)
        out = np.zeros(len(pos), dtype=bool)
        for k in np.flatnonzero(both).tolist():
            x, y = strings[a_rows[k]], strings[b_rows[k]]
            if len(x) > len(y):
                x, y = y, x
            out[k] = len(x) >= min_len and y.endswith(x)
        return out
    if method in _SCORERS:
        scorer, scale, is_distance = _SCORERS[method]
        if cache is None:
            cache = PairCache(len(I))
        arr = cache.get((cond.attribute, method))
        todo = pos[both & np.isnan(arr[pos])]
        if todo.size:
            strings = col.strings
            arr[todo] = process.cpdist(strings[I[todo]], strings[J[todo]], scorer=scorer,
                                       workers=_workers(todo.size), dtype=np.float32) / scale
        vals = arr[pos]
        with np.errstate(invalid="ignore"):
            if is_distance:
                return both & (vals <= cond.threshold)
            # float32 scores: a tiny tolerance so 0.9 passes a 0.9 threshold
            return both & (vals >= cond.threshold - 1e-6)
    if method in ("abs_diff", "rel_diff"):
        x = col.numbers
        a, b = x[a_rows], x[b_rows]
        diff = np.abs(a - b)
        with np.errstate(invalid="ignore"):
            if method == "abs_diff":
                return both & (diff <= cond.threshold + 1e-12)
            scale = np.maximum(np.abs(a), np.abs(b))
            return both & (diff <= cond.threshold * scale + 1e-12)
    if method == "days":
        d = col.days
        with np.errstate(invalid="ignore"):
            return both & (np.abs(d[a_rows] - d[b_rows]) <= cond.threshold + 1e-9)
    if method == "abbreviation":
        if cache is None:
            cache = PairCache(len(I))
        # cut off at this level's threshold, so kept per threshold
        arr = cache.get((cond.attribute, method, cond.threshold))
        todo = pos[both & np.isnan(arr[pos])]
        if todo.size:
            parts, codes, cutoff = col.abbreviation_parts, col.codes, cond.threshold
            arr[todo] = [_abbreviation_score(parts[x], parts[y], cutoff)
                         for x, y in zip(codes[I[todo]].tolist(), codes[J[todo]].tolist())]
        with np.errstate(invalid="ignore"):
            return both & (arr[pos] >= cond.threshold - 1e-6)
    if method == "weighted_jaccard":
        if cache is None:
            cache = PairCache(len(I))
        arr = cache.get((cond.attribute, method))
        todo = pos[both & np.isnan(arr[pos])]
        if todo.size:
            arr[todo] = _set_scores(cond, col, I[todo], J[todo], cache.tf_tables.get(cond.attribute))
        with np.errstate(invalid="ignore"):
            return both & (arr[pos] >= cond.threshold - 1e-6)
    if method in _SET_METHODS:
        out = np.zeros(len(pos), dtype=bool)
        idx = np.flatnonzero(both)
        if idx.size:
            out[idx] = _set_test(cond, col, a_rows[idx], b_rows[idx])
        return out
    raise ValueError(f"unknown method {method!r}")  # settings validation prevents this


def compute_levels(comparison: Comparison, table: RecordTable, I: np.ndarray, J: np.ndarray,
                   tf_tables: Mapping[str, TFTable] | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Level index (int8) of every pair ``(I[k], J[k])`` for one comparison.

    Returns ``(levels, tf_freq)``; ``tf_freq`` holds, for pairs on a level with
    ``tf_adjust``, the frequency of the agreed value (the larger of the two
    values' frequencies; for sets, the rarest shared element), NaN elsewhere.
    It is None when the comparison has no TF level or no table was given.
    """
    I = np.asarray(I, dtype=np.int64)
    J = np.asarray(J, dtype=np.int64)
    n = len(I)
    levels = np.full(n, len(comparison.levels) - 1, dtype=np.int8)
    remaining = np.arange(n)
    cache = PairCache(n, tf_tables)
    for li, level in enumerate(comparison.levels):
        if remaining.size == 0:
            break
        if level.is_else:
            levels[remaining] = li
            remaining = remaining[:0]
            break
        mask = np.ones(remaining.size, dtype=bool)
        for cond in level.conditions:
            live = np.flatnonzero(mask)
            if live.size == 0:
                break
            ok = evaluate_condition(cond, table, I, J, remaining[live], cache)
            mask[live[~ok]] = False
        levels[remaining[mask]] = li
        remaining = remaining[~mask]

    tf_freq = None
    tf_levels = [li for li, lv in enumerate(comparison.levels) if lv.tf_adjust]
    if tf_levels and tf_tables is not None:
        tf_freq = np.full(n, np.nan)
        for li in tf_levels:
            attr = comparison.levels[li].tf_attribute
            table_ = tf_tables.get(attr)
            if table_ is None:
                continue
            pos = np.flatnonzero(levels == li)
            if not pos.size:
                continue
            col = table.column(attr)
            method = comparison.levels[li].conditions[0].method
            if method in _SET_METHODS:
                tok_f = col.token_freqs(table_)
                sets = col.sets
                vals = np.full(pos.size, np.nan)
                for k, (i, j) in enumerate(zip(I[pos].tolist(), J[pos].tolist())):
                    shared = sets[i] & sets[j]
                    if shared:
                        vals[k] = min(tok_f[t] for t in shared)
                tf_freq[pos] = vals
            else:
                f = col.freqs(table_)
                tf_freq[pos] = np.fmax(f[I[pos]], f[J[pos]])
    return levels, tf_freq


# --------------------------------------------------------------------------- #
# Templates: default levels per attribute type
# --------------------------------------------------------------------------- #

def _null(attr: str) -> dict:
    return {"label": "null", "method": "null", "attribute": attr}


_ELSE = {"label": "else", "method": "else"}


def company_name(attr: str, *, part: str = "core") -> list[dict]:
    """Company names compared on the core name (legal form removed)."""
    a = f"{attr}__{part}" if part else attr
    return [
        _null(a),
        {"label": "exact", "method": "exact", "attribute": a, "tf_adjust": True},
        {"label": "jw_0.95", "method": "jaro_winkler", "attribute": a, "threshold": 0.95},
        {"label": "tokens_0.9", "method": "token_set", "attribute": a, "threshold": 0.9},
        {"label": "jw_0.85", "method": "jaro_winkler", "attribute": a, "threshold": 0.85},
        {"label": "tokens_0.7", "method": "token_set", "attribute": a, "threshold": 0.7},
        _ELSE,
    ]


def person_name(attr: str) -> list[dict]:
    a = f"{attr}__normalized"
    return [
        _null(a),
        {"label": "exact", "method": "exact", "attribute": a, "tf_adjust": True},
        {"label": "jw_0.92", "method": "jaro_winkler", "attribute": a, "threshold": 0.92},
        {"label": "family_initial", "all": [
            {"method": "exact", "attribute": f"{attr}__family"},
            {"method": "prefix", "attribute": f"{attr}__given", "threshold": 1}]},
        {"label": "tokens_0.8", "method": "token_set", "attribute": a, "threshold": 0.8},
        _ELSE,
    ]


def text(attr: str, *, part: str = "normalized") -> list[dict]:
    a = f"{attr}__{part}" if part else attr
    return [
        _null(a),
        {"label": "exact", "method": "exact", "attribute": a, "tf_adjust": True},
        {"label": "tokens_0.9", "method": "token_set", "attribute": a, "threshold": 0.9},
        {"label": "tokens_0.7", "method": "token_set", "attribute": a, "threshold": 0.7},
        {"label": "tokens_0.5", "method": "token_set", "attribute": a, "threshold": 0.5},
        _ELSE,
    ]


def address_line(attr: str) -> list[dict]:
    """Street addresses: whole line, then house number + street name, then street alone."""
    num, street = f"{attr}__number", f"{attr}__street"
    return [
        _null(attr),
        {"label": "exact", "method": "exact", "attribute": attr, "tf_adjust": True},
        {"label": "number_street_close", "all": [
            {"method": "exact", "attribute": num},
            {"method": "jaro_winkler", "attribute": street, "threshold": 0.9}]},
        {"label": "line_close", "method": "token_sort", "attribute": attr, "threshold": 0.85},
        {"label": "number_street_fuzzy", "all": [
            {"method": "exact", "attribute": num},
            {"method": "token_set", "attribute": street, "threshold": 0.6}]},
        _ELSE,
    ]


def city(attr: str) -> list[dict]:
    a = f"{attr}__normalized"
    return [
        _null(a),
        {"label": "exact", "method": "exact", "attribute": a, "tf_adjust": True},
        {"label": "fuzzy", "method": "jaro_winkler", "attribute": a, "threshold": 0.9},
        _ELSE,
    ]


def postcode(attr: str) -> list[dict]:
    return [
        _null(attr),
        {"label": "exact", "method": "exact", "attribute": attr},
        {"label": "zip5", "method": "exact", "attribute": f"{attr}__zip5"},
        {"label": "area", "method": "prefix", "attribute": attr, "threshold": 3},
        _ELSE,
    ]


def phone(attr: str) -> list[dict]:
    return [
        _null(attr),
        {"label": "exact", "method": "exact", "attribute": attr, "tf_adjust": True},
        {"label": "typo", "method": "damerau_levenshtein", "attribute": attr, "threshold": 1},
        _ELSE,
    ]


def email(attr: str) -> list[dict]:
    return [
        _null(attr),
        {"label": "exact", "method": "exact", "attribute": attr, "tf_adjust": True},
        {"label": "typo", "method": "jaro_winkler", "attribute": attr, "threshold": 0.95},
        {"label": "same_domain", "method": "exact", "attribute": f"{attr}__domain", "tf_adjust": True},
        _ELSE,
    ]


def url(attr: str) -> list[dict]:
    a = f"{attr}__domain"
    return [_null(a), {"label": "exact", "method": "exact", "attribute": a, "tf_adjust": True}, _ELSE]


def identifier(attr: str, *, check: str | None = None, part: str | None = None) -> list[dict]:
    """Identifiers with check digits: same valid value, one typo, else different."""
    a = f"{attr}__{part}" if part else attr
    exact = {"label": "exact", "method": "exact", "attribute": a}
    if check:
        exact["check"] = check
    return [_null(a), exact, {"label": "typo", "method": "damerau_levenshtein", "attribute": a, "threshold": 1},
            _ELSE]


def tax_id(attr: str) -> list[dict]:
    return identifier(attr, check="tax_id", part="compact")


def gtin(attr: str) -> list[dict]:
    return identifier(attr, check="gtin")


def mpn(attr: str) -> list[dict]:
    """Manufacturer part numbers: exact, or one with a prefix cut off. No "one typo" level:
    variants of one product family differ by exactly one character."""
    a = f"{attr}__compact"
    return [
        _null(a),
        {"label": "exact", "method": "exact", "attribute": a, "tf_adjust": True},
        {"label": "suffix", "method": "suffix_of", "attribute": a, "threshold": 5},
        _ELSE,
    ]


def code(attr: str) -> list[dict]:
    return [_null(attr), {"label": "exact", "method": "exact", "attribute": attr, "tf_adjust": True}, _ELSE]


def numeric(attr: str, *, close: float = 0.05, near: float = 0.25) -> list[dict]:
    """Amounts: equal, within ``close`` and ``near`` relative difference, else."""
    return [
        _null(attr),
        {"label": "equal", "method": "rel_diff", "attribute": attr, "threshold": 0.001},
        {"label": "close", "method": "rel_diff", "attribute": attr, "threshold": close},
        {"label": "near", "method": "rel_diff", "attribute": attr, "threshold": near},
        _ELSE,
    ]


def date(attr: str, *, close_days: int = 31, near_days: int = 365) -> list[dict]:
    return [
        _null(attr),
        {"label": "exact", "method": "days", "attribute": attr, "threshold": 0},
        {"label": "close", "method": "days", "attribute": attr, "threshold": close_days},
        {"label": "near", "method": "days", "attribute": attr, "threshold": near_days},
        _ELSE,
    ]


def model_numbers(attr: str, *, bases: str | None = None, min_contains: int = 5) -> list[dict]:
    """Sets of model numbers (a ``model_numbers`` feature); rarer shared codes weigh more."""
    levels = [_null(attr), {"label": "same_code", "method": "overlap", "attribute": attr, "tf_adjust": True}]
    if bases:
        levels.append({"label": "same_base", "method": "overlap", "attribute": bases, "tf_adjust": True})
    levels.append({"label": "contains", "method": "contains", "attribute": attr, "threshold": min_contains})
    levels.append(_ELSE)
    return levels


TEMPLATES: dict[str, Callable[..., list[dict]]] = {
    "company_name": company_name,
    "person_name": person_name,
    "text": text,
    "address_line": address_line,
    "city": city,
    "postcode": postcode,
    "phone": phone,
    "email": email,
    "url": url,
    "identifier": identifier,
    "tax_id": tax_id,
    "gtin": gtin,
    "mpn": mpn,
    "code": code,
    "exact": code,
    "numeric": numeric,
    "money": numeric,
    "decimal": numeric,
    "date": date,
    "model_numbers": model_numbers,
}
