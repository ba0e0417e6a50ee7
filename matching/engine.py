"""The matching engine's public facade: batch runs and one-record decisions.

Records are ``(record_id: int, source: str, attributes: dict)`` where
``attributes`` are the standardized attributes (``matching.standardize``);
the engine needs nothing else.

Batch (initial load, re-match after a rule change)::

    engine = MatchEngine(settings)                       # MatchSettings or its dict
    result = engine.run(records, existing={rid: golden_id, ...},
                        constraints=Constraints(must_link=[(1, 2)], cannot_link=[(3, 4)]))
    result.clusters[0].records, result.clusters[0].continues
    result.possible_matches, result.merge_proposals, result.stats
    stored = result.model.to_dict()                       # the hub stores and versions this

One new record (the hub found candidates by blocking keys)::

    engine = MatchEngine(settings, model=stored)
    keys = engine.blocking_keys(record_attributes)        # store / look up in the key table
    decision = engine.match_record(record, candidates, cluster_of={rid: golden_id, ...})
    decision.action   # "join" | "new" | "possible" | "merge_proposal" | "merge"

Every scored pair can explain itself: ``engine.explain(record_a, record_b)``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.blocking import CandidatePairs, blocking_keys, generate_pairs, pair_completeness
from matching.cluster import (
    ClusterOutcome,
    _PairLookup,
    cluster_records,
    connected_components,
    continuation,
    labels_to_clusters,
)
from matching.comparisons import RecordTable
from matching.model import (
    MatchModel,
    Scorer,
    build_tf_tables,
    compute_pair_levels,
    prob_to_weight,
    train_model,
    weight_to_prob,
)
from matching.settings import MatchSettings

__all__ = [
    "BatchResult",
    "ClusterMatch",
    "Constraints",
    "MatchDecision",
    "MatchEngine",
    "MergeProposal",
    "OutputCluster",
    "PossibleMatch",
    "ScoredPair",
]


def _peak_rss_mb() -> float:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # noqa: BLE001 - not on every platform
        return float("nan")


@dataclass(frozen=True)
class Constraints:
    """Steward decisions the engine never overrides: pairs of record ids."""

    must_link: Sequence[tuple[int, int]] = ()
    cannot_link: Sequence[tuple[int, int]] = ()

    def cannot(self) -> set[tuple[int, int]]:
        return {(min(a, b), max(a, b)) for a, b in self.cannot_link}

    def must(self) -> set[tuple[int, int]]:
        return {(min(a, b), max(a, b)) for a, b in self.must_link}


@dataclass
class ScoredPair:
    record_a: int
    record_b: int
    probability: float
    match_weight: float


@dataclass
class OutputCluster:
    """One entity: its records, and the existing cluster id it continues (None: a new entity)."""

    records: list[int]
    continues: Hashable | None = None


@dataclass
class PossibleMatch:
    """Two output clusters a steward should look at (best record pair and cluster linkage)."""

    cluster_a: int
    cluster_b: int
    record_a: int
    record_b: int
    probability: float
    linkage: float


@dataclass
class MergeProposal:
    """Two clusters continuing different existing clusters that match (linkage >= auto) but not overwhelmingly."""

    cluster_a: int
    cluster_b: int
    linkage: float
    record_a: int
    record_b: int


@dataclass
class BatchResult:
    """Outcome of :meth:`MatchEngine.run`.

    ``clusters[k]`` is output cluster ``k``; ``cluster_of`` maps record id
    to ``k``. ``pairs`` holds every scored candidate pair as arrays
    (``record_a``, ``record_b``, ``weight``, ``probability``).
    """

    clusters: list[OutputCluster]
    cluster_of: dict[int, int]
    possible_matches: list[PossibleMatch]
    merge_proposals: list[MergeProposal]
    model: MatchModel
    stats: dict
    pairs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # () -> iterator of (record id, blocking key): the keys blocking computed, for the hub's key table.
    record_keys: Any = field(default=None, repr=False)

    def pairs_above(self, threshold: float) -> list[ScoredPair]:
        sel = np.flatnonzero(self.pairs["probability"] >= threshold)
        return [ScoredPair(int(self.pairs["record_a"][i]), int(self.pairs["record_b"][i]),
                           float(self.pairs["probability"][i]), float(self.pairs["weight"][i])) for i in sel]


@dataclass
class ClusterMatch:
    """How a record matches one candidate cluster."""

    cluster_id: Hashable
    probability: float          # linkage: mean (average) / min / max over the cluster's members
    best_probability: float
    best_record_id: int
    members: int
    blocked_by: str | None = None   # "cannot_link" | "one_per_source"


@dataclass
class MatchDecision:
    """What to do with one incoming record.

    - ``join``: add it to ``cluster_id``.
    - ``new``: start a new cluster (nothing close).
    - ``possible``: start a new cluster and ask a steward about ``possible``
      (clusters the record matches as a whole in the review band).
    - ``merge_proposal``: add it to ``cluster_id``; it also matches the
      clusters in ``merge_cluster_ids`` as a whole, so ask a steward
      whether to merge them.
    - ``merge``: the evidence is overwhelming (``thresholds.merge``), or a
      must-link says so: add it to ``cluster_id`` and merge
      ``merge_cluster_ids`` into it.
    """

    action: str
    cluster_id: Hashable | None = None
    merge_cluster_ids: list = field(default_factory=list)
    possible: list[ClusterMatch] = field(default_factory=list)
    clusters: list[ClusterMatch] = field(default_factory=list)
    pairs: list[ScoredPair] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0


class MatchEngine:
    """Compile :class:`~matching.settings.MatchSettings` (and optionally a trained model) into a matcher.

    >>> engine = MatchEngine(settings_dict)                      # doctest: +SKIP
    >>> result = engine.run(records)                              # doctest: +SKIP
    >>> MatchEngine(settings_dict, model=result.model.to_dict())  # doctest: +SKIP
    """

    def __init__(self, settings: MatchSettings | Mapping, model: MatchModel | Mapping | None = None):
        self.settings = settings if isinstance(settings, MatchSettings) else MatchSettings.from_dict(settings)
        if model is not None and not isinstance(model, MatchModel):
            model = MatchModel.from_dict(model)
        self.model: MatchModel | None = model
        self._scorer: Scorer | None = Scorer(self.settings, model) if model is not None else None

    # -- small helpers ----------------------------------------------------------

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            raise RuntimeError("no trained model: call run()/train() first or pass model=")
        return self._scorer

    def set_model(self, model: MatchModel | Mapping) -> None:
        self.model = model if isinstance(model, MatchModel) else MatchModel.from_dict(model)
        self._scorer = Scorer(self.settings, self.model)
        self.__dict__.pop("_frequent_set", None)

    def table(self, records: Sequence) -> RecordTable:
        """Encode records for vectorised comparison (features computed)."""
        return RecordTable(records, self.settings.features)

    def blocking_keys(self, attributes: Mapping[str, Any]) -> list[str]:
        """Blocking keys of one record; the hub stores them in its key table.

        Keys listed in the model's ``frequent_keys`` (skipped by the batch as too common) are left out.
        """
        keys = blocking_keys(self.settings, attributes)
        if self.model is not None and self.model.frequent_keys:
            frequent = self._frequent()
            keys = [k for k in keys if k not in frequent]
        return keys

    def _frequent(self) -> set[str]:
        if not hasattr(self, "_frequent_set"):
            self._frequent_set = set(self.model.frequent_keys if self.model else ())
        return self._frequent_set

    # -- batch --------------------------------------------------------------------

    def train(self, records: Sequence) -> MatchModel:
        """Block and train on ``records`` (no clustering); sets and returns the model."""
        table = self.table(records)
        cands = generate_pairs(self.settings, table)
        model = train_model(self.settings, table, cands)
        self.set_model(model)
        return model

    def run(self, records: Sequence, *, existing: Mapping[int, Hashable] | None = None,
            constraints: Constraints | None = None, train: bool | None = None,
            truth_pairs: Iterable[tuple[int, int]] | None = None, provisional: bool = False) -> BatchResult:
        """Block, train (unless a model was given and ``train`` is not True), score and cluster.

        ``existing``: record id -> current cluster id; output clusters say
        which one they continue, and two existing clusters are only merged
        automatically above ``thresholds.merge``. ``provisional``: the
        existing clusters are the work of a model still learning (trained on
        a first chunk), not established entities: they are continued all the
        same, but two of them merge at ``auto``, as any other clusters would.
        ``truth_pairs`` (optional, for benchmarks) adds blocking pair
        completeness to the stats.
        """
        s = self.settings
        stats: dict[str, Any] = {}
        t_all = time.perf_counter()
        t0 = time.perf_counter()
        table = self.table(records)
        n = len(table)
        stats["prepare"] = {"records": n, "seconds": round(time.perf_counter() - t0, 3)}

        t0 = time.perf_counter()
        cands = generate_pairs(s, table)
        stats["block"] = {**cands.stats, "seconds": round(time.perf_counter() - t0, 3)}
        if truth_pairs is not None:
            stats["block"]["pair_completeness"] = round(pair_completeness(cands, table.ids, truth_pairs), 4)

        do_train = train if train is not None else self.model is None
        t0 = time.perf_counter()
        tf_tables = build_tf_tables(s, table) if do_train else self.model.tf_tables
        t_tf = time.perf_counter() - t0
        t0 = time.perf_counter()
        pl = compute_pair_levels(s, table, cands.I, cands.J, tf_tables)
        t_compare = time.perf_counter() - t0
        if do_train:
            t0 = time.perf_counter()
            model = train_model(s, table, cands, pl, tf_tables=tf_tables)
            self.set_model(model)
            stats["train"] = {"seconds": round(time.perf_counter() - t0 + t_tf, 3),
                              "u_pairs": model.training.get("u_pairs"), "lambda": model.lambda_,
                              "prior_source": model.training.get("prior_source")}
        scorer = self.scorer
        t0 = time.perf_counter()
        weights = scorer.weights_of(table, pl)
        probs = weight_to_prob(weights)
        t_score = time.perf_counter() - t0 + t_compare
        stats["score"] = {"pairs": len(pl), "seconds": round(t_score, 3),
                          "compare_seconds": round(t_compare, 3),
                          "pairs_per_second": int(len(pl) / t_score) if t_score > 0 else None}
        del pl

        t0 = time.perf_counter()
        outcome, extra = self._cluster(table, cands, weights, None if provisional else existing, constraints)
        clusters_rows = labels_to_clusters(outcome.labels, np.arange(n))
        clusters = [OutputCluster(records=table.ids[rows].tolist()) for rows in clusters_rows]
        cluster_of = {rid: k for k, c in enumerate(clusters) for rid in c.records}
        if existing:
            for oc, cid in zip(clusters, continuation([c.records for c in clusters], dict(existing))):
                oc.continues = cid
        possible, proposals = self._links(table, cands, probs, weights, outcome, constraints)
        stats["cluster"] = {**outcome.stats, **extra, "clusters": len(clusters),
                            "multi_record_clusters": sum(1 for c in clusters if len(c.records) > 1),
                            "possible_matches": len(possible), "merge_proposals": len(proposals),
                            "seconds": round(time.perf_counter() - t0, 3)}
        stats["total_seconds"] = round(time.perf_counter() - t_all, 3)
        stats["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        pairs = {"record_a": table.ids[cands.I], "record_b": table.ids[cands.J], "weight": weights,
                 "probability": probs}
        frequent = set(self.model.frequent_keys) if self.model and self.model.frequent_keys else set()
        ids = table.ids

        def record_keys():
            # The model's too-common keys are left out, as blocking_keys() does for one record.
            return ((rid, key) for rid, key in cands.record_keys(ids) if key not in frequent)

        return BatchResult(clusters=clusters, cluster_of=cluster_of, possible_matches=possible,
                           merge_proposals=proposals, model=self.model, stats=stats, pairs=pairs,
                           record_keys=record_keys)

    def _constraint_rows(self, table: RecordTable, constraints: Constraints | None):
        if not constraints:
            return None, None
        row = {int(r): i for i, r in enumerate(table.ids.tolist())}

        def rows(pairs):
            out = [(row[a], row[b]) for a, b in pairs if a in row and b in row and a != b]
            return np.array(out, dtype=np.int64).reshape(-1, 2)
        return rows(constraints.must_link), rows(constraints.cannot_link)

    def _cluster(self, table: RecordTable, cands: CandidatePairs, weights: np.ndarray,
                 existing: Mapping[int, Hashable] | None, constraints: Constraints | None
                 ) -> tuple[ClusterOutcome, dict]:
        s = self.settings
        ex_codes = None
        if existing:
            code_of: dict[Hashable, int] = {}
            ex_codes = np.fromiter((code_of.setdefault(existing[r], len(code_of)) if r in existing else -1
                                    for r in table.ids.tolist()), np.int64, len(table))
        must, cannot = self._constraint_rows(table, constraints)
        scorer = self.scorer
        def score_fn(A: np.ndarray, B: np.ndarray) -> np.ndarray:
            return self._capped(scorer.score(table, A, B)[0])

        outcome = cluster_records(
            len(table), cands.I, cands.J, self._capped(weights), score_fn=score_fn,
            auto=prob_to_weight(s.thresholds.auto), merge=prob_to_weight(s.thresholds.merge),
            linkage=s.clustering.linkage, one_per_source=s.clustering.one_per_source,
            sources=table.sources, existing=ex_codes, must_link=must, cannot_link=cannot,
            full_pair_limit=s.clustering.full_pair_limit)
        outcome.blocked_merges = [(a, b, float(weight_to_prob(w))) for a, b, w in outcome.blocked_merges]
        return outcome, {}

    @property
    def _weight_cap(self) -> float:
        """Linkage averages match weights capped at the merge threshold's weight: one pair of
        overwhelming evidence (+40 bits) must not outvote one that contradicts (-20)."""
        return prob_to_weight(self.settings.thresholds.merge)

    def _capped(self, weights: np.ndarray) -> np.ndarray:
        # Above the cap only a trace of the excess is kept: it orders otherwise tied
        # candidates (who is the *best* partner) without outvoting anything.
        w = np.asarray(weights, dtype=np.float64)
        cap = self._weight_cap
        return np.where(w > cap, cap + 1e-3 * (w - cap), w)

    def linkage(self, weights: np.ndarray) -> float:
        """Cluster linkage (a probability) from the match weights of all cross pairs."""
        w = self._capped(weights)
        if not w.size:
            return 0.0
        kind = self.settings.clustering.linkage
        v = w.mean() if kind == "average" else w.min() if kind == "complete" else w.max()
        return float(weight_to_prob(v))

    def _links(self, table: RecordTable, cands: CandidatePairs, probs: np.ndarray, weights: np.ndarray,
               outcome: ClusterOutcome, constraints: Constraints | None
               ) -> tuple[list[PossibleMatch], list[MergeProposal]]:
        """Possible matches and merge proposals between output clusters.

        A possible match is a pair of clusters with a pair >= review between
        them whose linkage as a whole is also >= review: one strong pair
        between clusters that do not match as a whole (a product variant, a
        branch, a shared phone number) is not a question worth a steward's
        time, by the same rule that keeps a record out of a cluster it
        matches only in part.
        """
        s = self.settings
        labels = outcome.labels
        ids = table.ids
        proposals = []
        proposed: set[tuple[int, int]] = set()
        for a, b, link in outcome.blocked_merges:
            la, lb = int(labels[a]), int(labels[b])
            if la == lb:
                continue
            key = (min(la, lb), max(la, lb))
            if key in proposed:
                continue
            proposed.add(key)
            proposals.append(MergeProposal(cluster_a=key[0], cluster_b=key[1], linkage=round(float(link), 6),
                                           record_a=int(ids[a]), record_b=int(ids[b])))
        sel = np.flatnonzero((probs >= s.thresholds.review) & (labels[cands.I] != labels[cands.J]))
        if not sel.size:
            return [], proposals
        cannot = constraints.cannot() if constraints else set()
        la, lb = labels[cands.I[sel]], labels[cands.J[sel]]
        lo, hi = np.minimum(la, lb), np.maximum(la, lb)
        order = np.lexsort((-probs[sel], hi, lo))
        sel, lo, hi = sel[order], lo[order], hi[order]
        first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
        members = labels_to_clusters(labels, np.arange(len(table)))
        possible = []
        scorer = self.scorer
        cross_a, cross_b, owner = [], [], []
        chosen = []
        for k in np.flatnonzero(first).tolist():
            c1, c2 = int(lo[k]), int(hi[k])
            if (c1, c2) in proposed:
                continue
            i, j = int(cands.I[sel[k]]), int(cands.J[sel[k]])
            if (min(ids[i], ids[j]), max(ids[i], ids[j])) in cannot:
                continue
            m1, m2 = members[c1], members[c2]
            if len(m1) * len(m2) > 400:  # linkage of huge clusters is not worth scoring here
                m1, m2 = [i if labels[i] == c1 else j], [j if labels[j] == c2 else i]
            cross_a.extend(np.repeat(m1, len(m2)).tolist())
            cross_b.extend(np.tile(m2, len(m1)).tolist())
            owner.extend([len(chosen)] * (len(m1) * len(m2)))
            chosen.append((c1, c2, i, j, float(probs[sel[k]])))
        if not chosen:
            return [], proposals
        # cross pairs: known probabilities where blocking proposed them, else scored now
        A = np.array(cross_a, dtype=np.int64)
        B = np.array(cross_b, dtype=np.int64)
        lookup = _PairLookup(len(table), cands.I, cands.J, self._capped(weights),
                             lambda x, y: self._capped(scorer.score(table, x, y)[0]))
        W = lookup.get(A, B)
        own = np.array(owner, dtype=np.int64)
        sums = np.bincount(own, weights=W, minlength=len(chosen))
        cnts = np.bincount(own, minlength=len(chosen))
        mins = np.full(len(chosen), np.inf)
        np.minimum.at(mins, own, W)
        maxs = np.full(len(chosen), -np.inf)
        np.maximum.at(maxs, own, W)
        for k, (c1, c2, i, j, p) in enumerate(chosen):
            link = weight_to_prob({"average": sums[k] / cnts[k], "complete": mins[k],
                                   "single": maxs[k]}[s.clustering.linkage])
            if link < s.thresholds.review:
                continue
            possible.append(PossibleMatch(cluster_a=c1, cluster_b=c2, record_a=int(ids[i]), record_b=int(ids[j]),
                                          probability=round(p, 6), linkage=round(float(link), 6)))
        return possible, proposals

    def connected_components(self, result: BatchResult) -> list[list[int]]:
        """Baseline: clusters as connected components of pairs >= auto (chains; for comparison only)."""
        ids = np.unique(np.concatenate([np.array(sorted(result.cluster_of), dtype=np.int64)]))
        row = {int(r): i for i, r in enumerate(ids.tolist())}
        p = result.pairs
        strong = p["probability"] >= self.settings.thresholds.auto
        I = np.fromiter((row[int(x)] for x in p["record_a"][strong]), np.int64)
        J = np.fromiter((row[int(x)] for x in p["record_b"][strong]), np.int64)
        labels = connected_components(len(ids), I, J)
        return labels_to_clusters(labels, ids)

    # -- pairs ----------------------------------------------------------------------

    def score_pairs(self, records: Sequence, pairs: Iterable[tuple[int, int]]) -> list[ScoredPair]:
        """Score given record-id pairs among ``records``."""
        table = self.table(records)
        row = {int(r): i for i, r in enumerate(table.ids.tolist())}
        pairs = list(pairs)
        I = np.array([row[a] for a, _ in pairs], dtype=np.int64)
        J = np.array([row[b] for _, b in pairs], dtype=np.int64)
        w, p = self.scorer.score(table, I, J)
        return [ScoredPair(a, b, float(pp), float(ww)) for (a, b), pp, ww in zip(pairs, p, w)]

    def explain(self, record_a: Sequence, record_b: Sequence) -> dict:
        """Per comparison: the level hit, m, u, its match weight incl. TF adjustment; rules; prior; total; probability."""
        table = self.table([record_a, record_b])
        return self.scorer.explain(table, 0, 1)

    # -- one record -----------------------------------------------------------------

    def match_record(self, record: Sequence, candidates: Sequence[Sequence],
                     cluster_of: Mapping[int, Hashable], constraints: Constraints | None = None) -> MatchDecision:
        """Decide what to do with one record given its candidates.

        ``candidates``: records found by blocking-key lookup *plus the other
        members of their clusters* (average linkage needs every member);
        ``cluster_of``: record id -> cluster id for the candidates (a
        candidate without one counts as its own cluster, id
        ``("record", id)``). The record itself, if listed, is ignored.
        """
        t0 = time.perf_counter()
        s = self.settings
        rid = int(record[0])
        cands = [c for c in candidates if int(c[0]) != rid]
        if not cands:
            return MatchDecision(action="new", reason="no candidates", seconds=time.perf_counter() - t0)
        table = self.table([record, *cands])
        k = len(cands)
        I = np.zeros(k, dtype=np.int64)
        J = np.arange(1, k + 1, dtype=np.int64)
        w, p = self.scorer.score(table, I, J)
        cids = [cluster_of.get(int(c[0]), ("record", int(c[0]))) for c in cands]
        must = constraints.must() if constraints else set()
        cannot = constraints.cannot() if constraints else set()
        src = str(record[1])

        groups: dict[Hashable, list[int]] = {}
        for pos, cid in enumerate(cids):
            groups.setdefault(cid, []).append(pos)
        matches: list[ClusterMatch] = []
        forced: list[Hashable] = []
        for cid, pos in groups.items():
            link = self.linkage(w[pos])
            best = pos[int(np.argmax(p[pos]))]
            member_ids = [int(cands[x][0]) for x in pos]
            blocked = None
            if any((min(rid, m), max(rid, m)) in cannot for m in member_ids):
                blocked = "cannot_link"
            elif s.clustering.one_per_source and any(
                    str(cands[x][1]) == src and (s.clustering.one_per_source is True or p[x] < s.thresholds.merge)
                    for x in pos):
                blocked = "one_per_source"
            if any((min(rid, m), max(rid, m)) in must for m in member_ids):
                forced.append(cid)
            matches.append(ClusterMatch(cluster_id=cid, probability=round(link, 6),
                                        best_probability=round(float(p[best]), 6),
                                        best_record_id=int(cands[best][0]), members=len(pos), blocked_by=blocked))
        matches.sort(key=lambda m: -m.probability)
        pairs = [ScoredPair(rid, int(c[0]), float(pp), float(ww)) for c, pp, ww in zip(cands, p, w)]
        auto, review, merge = s.thresholds.auto, s.thresholds.review, s.thresholds.merge

        def decide(**kw) -> MatchDecision:
            target = kw.get("cluster_id")
            others = set(kw.get("merge_cluster_ids", []))
            possible = [m for m in matches if m.cluster_id != target and m.cluster_id not in others
                        and m.blocked_by != "cannot_link" and m.probability >= review]
            return MatchDecision(possible=possible, clusters=matches, pairs=pairs,
                                 seconds=time.perf_counter() - t0, **kw)

        if forced:
            by_id = {m.cluster_id: m for m in matches}
            forced.sort(key=lambda c: -by_id[c].probability)
            if len(forced) == 1:
                return decide(action="join", cluster_id=forced[0], reason="must-link")
            return decide(action="merge", cluster_id=forced[0], merge_cluster_ids=forced[1:], reason="must-link")

        eligible = [m for m in matches if m.blocked_by is None and m.probability >= auto]
        if not eligible:
            if any(m.blocked_by != "cannot_link" and m.probability >= review for m in matches):
                return decide(action="possible", reason="below auto-link threshold")
            return decide(action="new", reason="no cluster above review threshold")
        best = eligible[0]
        if len(eligible) == 1:
            return decide(action="join", cluster_id=best.cluster_id, reason="matches one cluster as a whole")
        others = eligible[1:]
        # The record would pull clusters together. Merge only when overwhelming:
        # record-to-cluster and cluster-to-cluster linkage all >= merge, no constraint in the way.
        overwhelming = all(m.probability >= merge for m in eligible)
        if overwhelming:
            overwhelming = self._clusters_link(table, groups, [m.cluster_id for m in eligible], cannot,
                                               cands) >= merge
        if overwhelming:
            return decide(action="merge", cluster_id=best.cluster_id,
                          merge_cluster_ids=[m.cluster_id for m in others],
                          reason="matches several clusters overwhelmingly")
        return decide(action="merge_proposal", cluster_id=best.cluster_id,
                      merge_cluster_ids=[m.cluster_id for m in others],
                      reason="matches several clusters; merging them needs a steward")

    def _clusters_link(self, table: RecordTable, groups: Mapping[Hashable, list[int]], cids: list,
                       cannot: set, cands: Sequence) -> float:
        """Lowest linkage between any two of the given clusters (members scored now); -1 if constrained."""
        s = self.settings
        worst = 1.0
        for x in range(len(cids)):
            for y in range(x + 1, len(cids)):
                a_pos, b_pos = groups[cids[x]], groups[cids[y]]
                ids_a = [int(cands[i][0]) for i in a_pos]
                ids_b = [int(cands[i][0]) for i in b_pos]
                if any((min(u, v), max(u, v)) in cannot for u in ids_a for v in ids_b):
                    return -1.0
                if s.clustering.one_per_source is True and (
                        {str(cands[i][1]) for i in a_pos} & {str(cands[i][1]) for i in b_pos}):
                    return -1.0
                A = np.repeat(np.array(a_pos) + 1, len(b_pos))
                B = np.tile(np.array(b_pos) + 1, len(a_pos))
                ws, probs = self.scorer.score(table, A, B)
                if s.clustering.one_per_source == "unless_certain":
                    same = table.sources[A] == table.sources[B]
                    if same.any() and probs[same].min() < s.thresholds.merge:
                        return -1.0
                worst = min(worst, self.linkage(ws))
        return worst
