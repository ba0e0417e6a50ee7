"""The Fellegi-Sunter model: m and u per comparison level, trained without labels.

- u (P(level | non-match)) from a random sample of record pairs: almost all
  random pairs are non-matches.
- m (P(level | match)) by expectation maximisation on the pairs of each
  blocking pass, Splink style: a pass keyed on, say, the postcode makes
  every pair agree on it, so the postcode comparison is held out of that
  pass and its m is learnt from the other passes; the per-pass estimates
  are averaged.
- lambda (the prior P(match) of two random records) from deterministic
  rules (pairs surely matching, divided by the rules' assumed recall).
- Term-frequency adjustment: an agreement on value v is worth
  log2(m / tf(v)) instead of log2(m / u), so "smith" counts less than
  "szczepanski".

The trained model is a plain dict (:meth:`MatchModel.to_dict`) the hub
stores and versions. :class:`Scorer` applies it to arrays of pairs, and
explains single pairs.

Example::

    >>> model = MatchModel.from_dict(model_dict)          # doctest: +SKIP
    >>> scorer = Scorer(settings, model)                   # doctest: +SKIP
    >>> w, p = scorer.score(table, I, J)                   # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.comparisons import RecordTable, TFTable, compute_levels, evaluate_condition
from matching.settings import MatchSettings, PairRule

__all__ = [
    "ComparisonParams",
    "MatchModel",
    "PairLevels",
    "Scorer",
    "build_tf_tables",
    "estimate_lambda",
    "estimate_u",
    "prob_to_weight",
    "run_em",
    "sample_random_pairs",
    "total_possible_pairs",
    "train_model",
    "weight_to_prob",
]

MODEL_FORMAT = "matching.fellegi_sunter/1"
_M_FLOOR = 1e-6
_U_FLOOR = 1e-9


def prob_to_weight(p: float) -> float:
    p = min(max(p, 1e-300), 1 - 1e-16)
    return math.log2(p / (1 - p))


def weight_to_prob(w: np.ndarray | float):
    """Match weight (log2 odds) to probability, overflow-safe."""
    w = np.asarray(w, dtype=np.float64)
    return 1.0 / (1.0 + np.exp2(-np.clip(w, -1000, 1000)))


# --------------------------------------------------------------------------- #
# Parameters
# --------------------------------------------------------------------------- #

@dataclass
class ComparisonParams:
    """m and u of every level of one comparison (None on the null level: it carries no weight)."""

    labels: list[str]
    m: list[float | None]
    u: list[float | None]

    def weights(self) -> np.ndarray:
        """log2(m/u) per level; 0 on the null level."""
        out = np.zeros(len(self.labels))
        for i, (m, u) in enumerate(zip(self.m, self.u)):
            if m is not None and u is not None:
                out[i] = math.log2(max(m, _M_FLOOR) / max(u, _U_FLOOR))
        return out

    def to_dict(self) -> dict:
        return {"levels": [{"label": lab, "m": m, "u": u} for lab, m, u in zip(self.labels, self.m, self.u)]}

    @classmethod
    def from_dict(cls, d: Mapping) -> ComparisonParams:
        levels = d["levels"]
        return cls(labels=[x["label"] for x in levels], m=[x["m"] for x in levels], u=[x["u"] for x in levels])


@dataclass
class MatchModel:
    """A trained model: lambda, m/u per level, term-frequency tables; a plain dict when stored."""

    lambda_: float
    params: dict[str, ComparisonParams]
    tf_tables: dict[str, TFTable] = field(default_factory=dict)
    settings_fingerprint: str = ""
    frequent_keys: list[str] = field(default_factory=list)
    training: dict = field(default_factory=dict)
    lambda_by_source_pair: dict[str, float] = field(default_factory=dict)

    @property
    def prior_weight(self) -> float:
        return prob_to_weight(self.lambda_)

    def prior_for(self, source_a: str, source_b: str) -> float:
        """Prior match probability of a pair from these two sources (global lambda if unknown)."""
        return self.lambda_by_source_pair.get(_pair_key(str(source_a), str(source_b)), self.lambda_)

    def to_dict(self) -> dict:
        return {
            "format": MODEL_FORMAT,
            "settings_fingerprint": self.settings_fingerprint,
            "lambda": self.lambda_,
            "lambda_by_source_pair": dict(self.lambda_by_source_pair),
            "comparisons": {name: p.to_dict() for name, p in self.params.items()},
            "tf_tables": {attr: t.to_dict() for attr, t in self.tf_tables.items()},
            "frequent_keys": list(self.frequent_keys),
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> MatchModel:
        if d.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} model (format={d.get('format')!r})")
        return cls(
            lambda_=float(d["lambda"]),
            params={name: ComparisonParams.from_dict(p) for name, p in d["comparisons"].items()},
            tf_tables={attr: TFTable.from_dict(t) for attr, t in d.get("tf_tables", {}).items()},
            settings_fingerprint=d.get("settings_fingerprint", ""),
            frequent_keys=list(d.get("frequent_keys", [])),
            training=dict(d.get("training", {})),
            lambda_by_source_pair={k: float(v) for k, v in d.get("lambda_by_source_pair", {}).items()},
        )

    def check_settings(self, settings: MatchSettings) -> None:
        """Raise if the model does not fit the settings' comparisons and levels."""
        names = [c.name for c in settings.comparisons]
        if set(names) != set(self.params):
            raise ValueError(f"model comparisons {sorted(self.params)} differ from the settings' {sorted(names)}")
        for comp in settings.comparisons:
            p = self.params.get(comp.name)
            if p is None:
                raise ValueError(f"model has no parameters for comparison {comp.name!r}")
            if p.labels != comp.labels:
                raise ValueError(f"model levels of {comp.name!r} are {p.labels}, settings say {comp.labels}")


# --------------------------------------------------------------------------- #
# Level matrix of a set of pairs
# --------------------------------------------------------------------------- #

@dataclass
class PairLevels:
    """Levels (comparisons x pairs, int8) and TF frequencies of an array of pairs."""

    I: np.ndarray
    J: np.ndarray
    levels: np.ndarray
    tf: list[np.ndarray | None]

    def __len__(self) -> int:
        return len(self.I)

    def take(self, idx: np.ndarray) -> PairLevels:
        return PairLevels(self.I[idx], self.J[idx], self.levels[:, idx],
                          [None if t is None else t[idx] for t in self.tf])


def compute_pair_levels(settings: MatchSettings, table: RecordTable, I: np.ndarray, J: np.ndarray,
                        tf_tables: Mapping[str, TFTable] | None = None) -> PairLevels:
    I = np.asarray(I, dtype=np.int64)
    J = np.asarray(J, dtype=np.int64)
    levels = np.empty((len(settings.comparisons), len(I)), dtype=np.int8)
    tfs: list[np.ndarray | None] = []
    for c, comp in enumerate(settings.comparisons):
        lv, tf = compute_levels(comp, table, I, J, tf_tables)
        levels[c] = lv
        tfs.append(tf)
    return PairLevels(I, J, levels, tfs)


# --------------------------------------------------------------------------- #
# u: random pairs
# --------------------------------------------------------------------------- #

def _pairing(settings: MatchSettings) -> str:
    return "link_only" if settings.cross_source_only else settings.link_type


def total_possible_pairs(sources: np.ndarray, link_type: str) -> float:
    n = float(len(sources))
    counts = np.bincount(sources).astype(np.float64) if len(sources) else np.zeros(0)
    within = float((counts * (counts - 1) / 2).sum())
    if link_type == "link_only":
        return max(n * (n - 1) / 2 - within, 1.0)
    if link_type == "dedupe_only":
        return max(within, 1.0)
    return max(n * (n - 1) / 2, 1.0)


def sample_random_pairs(n: int, sources: np.ndarray, size: int, link_type: str,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``size`` random pairs (distinct records, honoring link_type)."""
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    out_i, out_j, have = [], [], 0
    for _ in range(20):
        k = int((size - have) * 1.3) + 16
        I = rng.integers(0, n, size=k)
        J = rng.integers(0, n, size=k)
        keep = I != J
        if link_type == "link_only":
            keep &= sources[I] != sources[J]
        elif link_type == "dedupe_only":
            keep &= sources[I] == sources[J]
        out_i.append(I[keep])
        out_j.append(J[keep])
        have += int(keep.sum())
        if have >= size:
            break
    I = np.concatenate(out_i)[:size]
    J = np.concatenate(out_j)[:size]
    return I.astype(np.int64), J.astype(np.int64)


def estimate_u(settings: MatchSettings, table: RecordTable, *, size: int | None = None,
               seed: int | None = None) -> tuple[dict[str, list[float | None]], dict]:
    """u per comparison level from random pairs; returns (u, stats).

    A level never seen among the random pairs gets u = 1/(2·sample size)
    rather than 0: unseen is not impossible.
    """
    size = size or settings.training.u_sample_pairs
    rng = np.random.default_rng(settings.training.seed if seed is None else seed)
    n = len(table)
    # never sample more pairs than exist
    size = int(min(size, total_possible_pairs(table.sources, _pairing(settings))))
    I, J = sample_random_pairs(n, table.sources, size, _pairing(settings), rng)
    pl = compute_pair_levels(settings, table, I, J)
    u: dict[str, list[float | None]] = {}
    for c, comp in enumerate(settings.comparisons):
        counts = np.bincount(pl.levels[c], minlength=len(comp.levels)).astype(np.float64)
        nonnull = [i for i, lv in enumerate(comp.levels) if not lv.is_null]
        total = counts[nonnull].sum()
        vals: list[float | None] = [None] * len(comp.levels)
        if total > 0:
            floor = 0.5 / max(total, 1)
            raw = np.array([max(counts[i] / total, floor) for i in nonnull])
            raw /= raw.sum()
            for i, v in zip(nonnull, raw):
                vals[i] = float(v)
        else:  # attribute never filled: uninformative
            for i in nonnull:
                vals[i] = 1.0 / len(nonnull)
        u[comp.name] = vals
    return u, {"u_pairs": len(I)}


# --------------------------------------------------------------------------- #
# m: expectation maximisation
# --------------------------------------------------------------------------- #

def default_m(labels_null: Sequence[bool]) -> list[float | None]:
    """Starting m: most mass on the first (strictest) levels, little on else."""
    idx = [i for i, is_null in enumerate(labels_null) if not is_null]
    vals: list[float | None] = [None] * len(labels_null)
    if not idx:
        return vals
    if len(idx) == 1:
        vals[idx[0]] = 1.0
        return vals
    raw = [0.5 ** k for k in range(len(idx) - 1)] + [0.05]
    s = sum(raw)
    for i, r in zip(idx, raw):
        vals[i] = r / s
    return vals


def run_em(levels: np.ndarray, n_levels: Sequence[int], null_level: Sequence[int | None],
           m: list[list[float | None]], u: list[list[float | None]], free: Sequence[bool], *,
           lambda_init: float = 0.1, max_iter: int = 40, tol: float = 1e-4,
           held: Sequence[bool] | None = None, rule_hits: np.ndarray | None = None,
           rule_weights: Sequence[float] = (), fix_lambda: bool = False
           ) -> tuple[list[list[float | None]], float, int, bool]:
    """EM for m (u fixed) on a level matrix (comparisons x pairs).

    Comparisons with ``free[c]`` are estimated. The others are left out of
    the likelihood, as Splink does for a blocking pass's key, unless
    ``held[c]``: then they stay in the likelihood at their given m, not
    re-estimated. Deterministic rules (``rule_hits``: rules x pairs, with
    their fixed log2 Bayes factors) enter the likelihood too: a pair with two
    different valid GTINs is known evidence against a match, which keeps
    EM from taking look-alike variants of one product family for matches.
    Pairs are first collapsed into distinct patterns, so an iteration costs
    the number of patterns, not pairs. Returns (m, lambda, iterations, converged).
    """
    held = held or [False] * levels.shape[0]
    active = [c for c in range(levels.shape[0]) if free[c] or held[c]]
    m = [list(x) for x in m]
    if not any(free) or levels.shape[1] == 0:
        return m, lambda_init, 0, True
    sub = levels[active].astype(np.int64)
    radix = [n_levels[c] for c in active]
    if rule_hits is not None and len(rule_weights):
        sub = np.vstack([sub, rule_hits.astype(np.int64)])
        radix += [2] * len(rule_weights)
    # mixed-radix code per pair -> unique patterns with counts
    code = np.zeros(sub.shape[1], dtype=np.int64)
    for row, r in zip(sub, radix):
        code = code * r + row
    uniq, first, cnt = np.unique(code, return_index=True, return_counts=True)
    pats = sub[:, first]  # (active comparisons + rules) x patterns
    cnt = cnt.astype(np.float64)
    fixed_logit = np.zeros(len(uniq))
    for k, w in enumerate(rule_weights):
        fixed_logit += pats[len(active) + k] * (w * math.log(2))

    def log_table(values: Sequence[float | None], nl: int | None, floor: float) -> np.ndarray:
        return np.array([0.0 if (v is None or i == nl) else math.log(max(v, floor)) for i, v in enumerate(values)])

    log_u = np.zeros(len(uniq))
    for k, c in enumerate(active):
        log_u += log_table(u[c], null_level[c], _U_FLOOR)[pats[k]]
    lam = float(lambda_init)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported after the loop)
        log_m = np.zeros(len(uniq))
        for k, c in enumerate(active):
            log_m += log_table(m[c], null_level[c], _M_FLOOR)[pats[k]]
        logit = math.log(lam) - math.log1p(-lam) + log_m - log_u + fixed_logit
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        wpost = post * cnt
        new_lam = float(wpost.sum() / cnt.sum())
        delta = 0.0 if fix_lambda else abs(new_lam - lam)
        for k, c in enumerate(active):
            if not free[c]:
                continue  # held: in the likelihood at its earlier estimate, not re-estimated
            sums = np.bincount(pats[k], weights=wpost, minlength=n_levels[c])
            nl = null_level[c]
            if nl is not None:
                sums[nl] = 0.0
            tot = sums.sum()
            if tot <= 0:
                continue
            for i in range(n_levels[c]):
                if i == nl:
                    continue
                new = max(float(sums[i] / tot), _M_FLOOR)
                delta = max(delta, abs(new - (m[c][i] or 0.0)))
                m[c][i] = new
        lam = lam if fix_lambda else min(max(new_lam, 1e-9), 1 - 1e-9)
        if delta < tol:
            converged = True
            break
    return m, lam, it, converged


# --------------------------------------------------------------------------- #
# TF tables and prior
# --------------------------------------------------------------------------- #

def build_tf_tables(settings: MatchSettings, table: RecordTable) -> dict[str, TFTable]:
    """Frequency tables for every attribute a ``tf_adjust`` level reads."""
    out: dict[str, TFTable] = {}
    size = settings.training.tf_table_size
    for comp in settings.comparisons:
        for lv in comp.levels:
            if lv.tf_adjust and lv.tf_attribute not in out:
                is_set = lv.conditions[0].method in ("overlap", "jaccard", "contains", "weighted_jaccard")
                out[lv.tf_attribute] = table.column(lv.tf_attribute).count_table(size, as_set=is_set)
            for cond in lv.conditions:
                if cond.method == "weighted_jaccard" and cond.attribute not in out:
                    out[cond.attribute] = table.column(cond.attribute).count_table(size, as_set=True)
    return out


def rule_mask(rule: PairRule, settings: MatchSettings, table: RecordTable, I: np.ndarray, J: np.ndarray,
              levels: np.ndarray) -> np.ndarray:
    """Boolean mask: does ``rule`` hold for each pair?"""
    mask = np.ones(len(I), dtype=bool)
    names = [c.name for c in settings.comparisons]
    for comp_name, labels in rule.levels:
        c = names.index(comp_name)
        allowed = [settings.comparisons[c].labels.index(lab) for lab in labels]
        mask &= np.isin(levels[c], allowed)
    pos = np.arange(len(I))
    for cond in rule.when:
        live = np.flatnonzero(mask)
        if not live.size:
            break
        ok = evaluate_condition(cond, table, I, J, pos[live])
        mask[live[~ok]] = False
    for cond in rule.unless:
        live = np.flatnonzero(mask)
        if not live.size:
            break
        hit = evaluate_condition(cond, table, I, J, pos[live])
        mask[live[hit]] = False
    return mask


def _pair_key(a: str, b: str) -> str:
    return f"{a}|{b}" if a <= b else f"{b}|{a}"


def estimate_lambda(settings: MatchSettings, table: RecordTable, pl: PairLevels,
                    em_fallback: float | None) -> tuple[float, dict, dict[str, float]]:
    """Prior P(match) for two random records; see :class:`matching.settings.PriorSettings`.

    Returns (lambda, info, lambda per source pair). With rule hits, lambda is
    also estimated per pair of sources ("crm|erp", "erp|erp"): two records of
    one well-kept catalog are far less likely to match than records of two
    systems, and the data says by how much. A source pair without hits gets
    half a hit, not zero.
    """
    total = total_possible_pairs(table.sources, _pairing(settings))
    if settings.prior.probability is not None:
        return settings.prior.probability, {"prior_source": "fixed"}, {}
    hits = 0
    any_rule = None
    if settings.prior.rules and len(pl):
        any_rule = np.zeros(len(pl), dtype=bool)
        same_source = table.sources[pl.I] == table.sources[pl.J]
        for rule in settings.prior.rules:
            hit = rule_mask(rule, settings, table, pl.I, pl.J, pl.levels)
            if not rule.within_source:
                hit &= ~same_source
            any_rule |= hit
        hits = int(any_rule.sum())
    by_pair: dict[str, float] = {}
    if hits:
        lam = hits / settings.prior.recall / total
        info = {"prior_source": "rules", "prior_rule_pairs": hits}
        names = table.source_names
        k = len(names)
        sizes = np.bincount(table.sources, minlength=k).astype(np.float64)
        si, sj = table.sources[pl.I[any_rule]], table.sources[pl.J[any_rule]]
        lo, hi = np.minimum(si, sj), np.maximum(si, sj)
        counts = np.bincount(lo * k + hi, minlength=k * k)
        for a in range(k):
            for b in range(a, k):
                if a == b:
                    if settings.cross_source_only:
                        continue
                    pairs = sizes[a] * (sizes[a] - 1) / 2
                else:
                    if settings.link_type == "dedupe_only":
                        continue
                    pairs = sizes[a] * sizes[b]
                if pairs < 1:
                    continue
                h = counts[a * k + b]
                by_pair[_pair_key(names[a], names[b])] = float(
                    min(max((h if h else 0.5) / settings.prior.recall / pairs, 1e-12), 0.5))
        info["prior_rule_pairs_by_source"] = {
            _pair_key(names[a], names[b]): int(counts[a * k + b]) for a in range(k) for b in range(a, k)
            if counts[a * k + b]}
    elif em_fallback is not None:
        lam = em_fallback
        info = {"prior_source": "em", "prior_rule_pairs": 0}
    else:
        lam = 1.0 / max(len(table), 2)
        info = {"prior_source": "default", "prior_rule_pairs": 0}
    lam = float(min(max(lam, 1e-12), 0.5))
    info["possible_pairs"] = total
    return lam, info, by_pair


# --------------------------------------------------------------------------- #
# Training
# --------------------------------------------------------------------------- #

def train_model(settings: MatchSettings, table: RecordTable, candidates, pl: PairLevels | None = None,
                *, tf_tables: dict[str, TFTable] | None = None) -> MatchModel:
    """Train u (random pairs), m (EM per blocking pass) and lambda (rules) from unlabeled records.

    ``candidates`` is the :class:`~matching.blocking.CandidatePairs` of
    ``table``; ``pl`` their levels if already computed (the engine computes
    them once for training and scoring).
    """
    t0 = time.perf_counter()
    comps = settings.comparisons
    if tf_tables is None:
        tf_tables = build_tf_tables(settings, table)
    if pl is None:
        pl = compute_pair_levels(settings, table, candidates.I, candidates.J, tf_tables)
    u, ustats = estimate_u(settings, table)
    t_u = time.perf_counter() - t0

    n_levels = [len(c.levels) for c in comps]
    null_level = [0 if c.levels[0].is_null else None for c in comps]
    m_init = [default_m([lv.is_null for lv in c.levels]) for c in comps]
    u_list = [u[c.name] for c in comps]

    rule_weights = [r.weight for r in settings.rules]
    rule_hits = None
    if settings.rules and len(pl):
        rule_hits = np.vstack([rule_mask(r, settings, table, pl.I, pl.J, pl.levels) for r in settings.rules])

    # Share of sure matches (prior rules) per pair: fixes each pass's in-block lambda, below.
    prior_hits = None
    if settings.prior.rules and len(pl):
        prior_hits = np.zeros(len(pl), dtype=bool)
        for rule in settings.prior.rules:
            prior_hits |= rule_mask(rule, settings, table, pl.I, pl.J, pl.levels)

    training_passes = settings.training.passes
    passes = [p for p in settings.blocking.passes
              if (p.name in training_passes if training_passes is not None else p.train)]
    estimates: list[list[list[float | None]]] = [[] for _ in comps]
    trusts: list[list[float]] = [[] for _ in comps]
    pass_stats = {}
    em_lambda_fallback = None
    rng = np.random.default_rng(settings.training.seed)
    total_pairs = total_possible_pairs(table.sources, _pairing(settings))
    for bpass in passes:
        if bpass.name not in candidates.pass_names:
            continue
        idx = candidates.of_pass(bpass.name)
        if settings.clustering.one_per_source:
            # sources believed free of duplicates: their inner pairs are look-alikes, not
            # matches, and would only teach EM that variants match
            idx = idx[table.sources[pl.I[idx]] != table.sources[pl.J[idx]]]
        if idx.size > settings.training.max_pairs_per_pass:
            idx = np.sort(rng.choice(idx, settings.training.max_pairs_per_pass, replace=False))
        fixed = set(settings.fixed_comparisons(bpass))
        free = [c.name not in fixed for c in comps]
        if idx.size < 10 or not any(free):
            pass_stats[bpass.name] = {"pairs": int(idx.size), "skipped": True}
            continue
        # A fixed comparison that still varies inside the pass (a shared word does not make
        # names equal) is kept in the likelihood at the estimate of earlier passes: it
        # anchors EM on evidence already learnt instead of leaving it to weaker comparisons.
        held = []
        m_start = []
        for c, _comp in enumerate(comps):
            seen = np.unique(pl.levels[c, idx])
            seen = seen[seen != (null_level[c] if null_level[c] is not None else -1)]
            h = (not free[c]) and bool(estimates[c]) and seen.size > 1
            held.append(h)
            if h:
                w_c = np.array(trusts[c]) + 1e-12
                m_start.append([None if v is None else float(np.average([e[i] for e in estimates[c]], weights=w_c))
                                for i, v in enumerate(estimates[c][0])])
            else:
                m_start.append(m_init[c])
        # EM with u from random pairs overrates the match share of a block full of
        # look-alike non-matches (variants of one product family, branches of one
        # company) and then learns m from them. Where deterministic rules give an
        # independent estimate of that share, lambda is held at it instead.
        lam0, fix_lam = 0.1, False
        if prior_hits is not None and prior_hits[idx].any():
            lam0 = float(np.clip(prior_hits[idx].mean() / settings.prior.recall, 1e-3, 0.999))
            fix_lam = True
        m, lam, iters, conv = run_em(pl.levels[:, idx], n_levels, null_level, m_start, u_list, free,
                                     lambda_init=lam0, fix_lambda=fix_lam,
                                     max_iter=settings.training.em_max_iterations,
                                     tol=settings.training.em_tolerance, held=held,
                                     rule_hits=None if rule_hits is None else rule_hits[:, idx],
                                     rule_weights=rule_weights)
        # An estimate is trusted in proportion to the matches the pass holds (lambda * pairs)
        # and to how cleanly they stand out (lambda again): a pass of mostly look-alike
        # non-matches says little about m.
        trust = lam * lam * idx.size
        for c in range(len(comps)):
            if free[c]:
                estimates[c].append(m[c])
                trusts[c].append(trust)
        pass_stats[bpass.name] = {"pairs": int(idx.size), "fixed": sorted(fixed),
                                  "held": [c.name for c, h in zip(comps, held) if h], "lambda_in_block": lam,
                                  "lambda_from_rules": fix_lam,
                                  "iterations": iters, "converged": conv}
        # Fallback prior: as if this pass caught every match.
        guess = lam * candidates.of_pass(bpass.name).size / total_pairs
        em_lambda_fallback = guess if em_lambda_fallback is None else max(em_lambda_fallback, guess)

    params: dict[str, ComparisonParams] = {}
    untrained = []
    for c, comp in enumerate(comps):
        if estimates[c]:
            m_avg: list[float | None] = []
            weights = np.array(trusts[c]) + 1e-12
            for i in range(n_levels[c]):
                vals = [e[i] for e in estimates[c]]
                m_avg.append(None if vals[0] is None else float(np.average(vals, weights=weights)))
        else:
            m_avg = m_init[c]
            untrained.append(comp.name)
        params[comp.name] = ComparisonParams(labels=comp.labels, m=m_avg, u=u_list[c])

    lam, prior_info, lam_by_pair = estimate_lambda(settings, table, pl, em_lambda_fallback)
    # Random pairs are not all non-matches: a share lambda of them are matches, and for
    # a level that matches almost only reach (same part number, same e-mail) those
    # matches are most of what was counted. Take them out: u <- (u - lambda m) / (1 - lambda).
    floor = 0.5 / max(ustats["u_pairs"], 1)
    for comp in comps:
        prm = params[comp.name]
        corrected: list[float | None] = []
        for m_l, u_l in zip(prm.m, prm.u):
            if m_l is None or u_l is None:
                corrected.append(u_l)
            else:
                corrected.append(max(u_l - lam * m_l, floor) / (1 - lam))
        total = sum(x for x in corrected if x is not None)
        prm.u = [None if x is None else x / total for x in corrected]
    training = {"records": len(table), "candidate_pairs": len(pl), **ustats, "passes": pass_stats,
                "untrained_comparisons": untrained, **prior_info,
                "seconds": round(time.perf_counter() - t0, 3), "u_seconds": round(t_u, 3)}
    return MatchModel(lambda_=lam, params=params, tf_tables=dict(tf_tables), lambda_by_source_pair=lam_by_pair,
                      settings_fingerprint=settings.fingerprint(),
                      frequent_keys=list(getattr(candidates, "frequent_keys", [])), training=training)


# --------------------------------------------------------------------------- #
# Scoring and explanation
# --------------------------------------------------------------------------- #

class Scorer:
    """Applies a model to pairs: match weights, probabilities, explanations.

    Match weight = prior weight + sum over comparisons of the level's
    log2(m/u) (+ TF adjustment) + weights of the deterministic rules that hold.
    """

    def __init__(self, settings: MatchSettings, model: MatchModel):
        model.check_settings(settings)
        self.settings = settings
        self.model = model
        self.prior_weight = model.prior_weight
        self.level_weights = [model.params[c.name].weights() for c in settings.comparisons]
        # TF: u and m of the level the adjustment is relative to, and the table size
        self.tf_u, self.tf_m, self.tf_n = [], [], []
        for c in settings.comparisons:
            p = model.params[c.name]
            self.tf_u.append(np.array([(p.u[i] or 1.0) for i in range(len(c.levels))]))
            self.tf_m.append(np.array([(p.m[i] or 0.0) for i in range(len(c.levels))]))
            self.tf_n.append([float(model.tf_tables[lv.tf_attribute].n) if lv.tf_adjust and lv.tf_attribute in model.tf_tables
                              else 1.0 for lv in c.levels])

    def levels(self, table: RecordTable, I: np.ndarray, J: np.ndarray) -> PairLevels:
        return compute_pair_levels(self.settings, table, I, J, self.model.tf_tables)

    def tf_adjustments(self, pl: PairLevels) -> np.ndarray:
        """Per comparison x pair TF adjustment (0 where none applies).

        Agreeing on value v is worth log2(m / u_v) instead of log2(m / u), where
        u_v is the chance that a *non-matching* record has v: the records holding
        v, minus the record itself and its expected matches (lambda (n-1) m), over
        n - 1. Without that subtraction a part number held by one product's three
        copies would look three times as common as it is.
        """
        out = np.zeros(pl.levels.shape, dtype=np.float64)
        lam = self.model.lambda_
        for c, comp in enumerate(self.settings.comparisons):
            tf = pl.tf[c]
            if tf is None or comp.tf_weight == 0:
                continue
            has = np.flatnonzero(~np.isnan(tf))
            if not has.size:
                continue
            lv = pl.levels[c][has]
            u_lvl = self.tf_u[c][lv]
            n = np.array([self.tf_n[c][x] for x in lv.tolist()], dtype=np.float64)
            m_lvl = self.tf_m[c][lv]
            count = tf[has].astype(np.float64) * n
            others = np.maximum(count - 1.0 - lam * (n - 1.0) * m_lvl, 0.5)
            u_v = np.maximum(others / np.maximum(n - 1.0, 1.0), max(comp.tf_min, _U_FLOOR))
            out[c, has] = comp.tf_weight * (np.log2(u_lvl) - np.log2(u_v))
        return out

    def rule_hits(self, table: RecordTable, pl: PairLevels) -> np.ndarray:
        """rules x pairs boolean matrix."""
        out = np.zeros((len(self.settings.rules), len(pl)), dtype=bool)
        for r, rule in enumerate(self.settings.rules):
            out[r] = rule_mask(rule, self.settings, table, pl.I, pl.J, pl.levels)
        return out

    def prior_weights(self, table: RecordTable, I: np.ndarray, J: np.ndarray) -> np.ndarray:
        """Prior match weight of each pair, by the pair's two sources."""
        if not self.model.lambda_by_source_pair:
            return np.full(len(I), self.prior_weight, dtype=np.float64)
        names = table.source_names
        mat = np.array([[prob_to_weight(self.model.prior_for(a, b)) for b in names] for a in names])
        return mat[table.sources[I], table.sources[J]]

    def weights_of(self, table: RecordTable, pl: PairLevels) -> np.ndarray:
        total = self.prior_weights(table, pl.I, pl.J)
        for c in range(len(self.settings.comparisons)):
            total += self.level_weights[c][pl.levels[c]]
        total += self.tf_adjustments(pl).sum(axis=0)
        if self.settings.rules:
            hits = self.rule_hits(table, pl)
            w = np.array([r.weight for r in self.settings.rules])
            total += (hits * w[:, None]).sum(axis=0)
        return total

    def score(self, table: RecordTable, I: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(match weights, probabilities) of pairs of table rows."""
        if len(I) == 0:
            return np.zeros(0), np.zeros(0)
        pl = self.levels(table, I, J)
        w = self.weights_of(table, pl)
        return w, weight_to_prob(w)

    def explain(self, table: RecordTable, i: int, j: int) -> dict:
        """Why rows ``i`` and ``j`` score as they do: one entry per comparison and per rule that holds.

        ``total_weight`` equals ``prior_weight`` plus every comparison's
        ``weight`` (TF adjustment included) plus every listed rule's weight.
        """
        pl = self.levels(table, np.array([i]), np.array([j]))
        tf = self.tf_adjustments(pl)[:, 0]
        terms = []
        for c, comp in enumerate(self.settings.comparisons):
            lv = int(pl.levels[c, 0])
            p = self.model.params[comp.name]
            base = float(self.level_weights[c][lv])
            attr = comp.levels[lv].conditions[0].attribute or comp.attribute
            terms.append({
                "comparison": comp.name,
                "level": comp.levels[lv].label,
                "level_index": lv,
                "m": p.m[lv], "u": p.u[lv],
                "level_weight": base,
                "tf_adjustment": float(tf[c]),
                "weight": base + float(tf[c]),
                "attribute": attr,
                "value_a": _display(table.column(attr).values[i]),
                "value_b": _display(table.column(attr).values[j]),
            })
        rules = []
        if self.settings.rules:
            hits = self.rule_hits(table, pl)[:, 0]
            rules = [{"rule": r.name, "weight": float(r.weight)} for r, h in zip(self.settings.rules, hits) if h]
        prior_w = float(self.prior_weights(table, np.array([i]), np.array([j]))[0])
        total = prior_w + sum(t["weight"] for t in terms) + sum(r["weight"] for r in rules)
        return {
            "record_a": int(table.ids[i]), "record_b": int(table.ids[j]),
            "prior_weight": prior_w, "prior_probability": float(weight_to_prob(prior_w)),
            "comparisons": terms, "rules": rules,
            "total_weight": total, "probability": float(weight_to_prob(total)),
        }


def _display(v: Any) -> Any:
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    return v
