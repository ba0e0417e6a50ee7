"""Clustering scored pairs into entities without chaining.

Connected components over "probability >= auto" edges chain: A~B and B~C put
A and C together even when A and C clearly differ. Here a record (or a
cluster) joins another cluster only when it matches that cluster *as a
whole*: average linkage, the mean probability over all cross pairs, must
reach ``auto``. Cross pairs that blocking never proposed are scored on
demand (clusters are small).

The functions here work on any pair score that grows with the evidence,
with ``auto`` and ``merge`` thresholds on the same scale; the engine passes
match weights (log2 odds) capped at the merge threshold, so "average" is
the mean capped weight over all cross pairs (a geometric mean of odds): a
member with no strong evidence either way costs little, a contradicting one
costs a lot, and no single overwhelming pair can outvote a contradiction.

How: clusters can only form inside connected components of the auto-edge
graph (an average >= auto needs at least one pair >= auto). Components whose
pairs are all >= auto and break no constraint are taken whole (the common
case, vectorised). Other components up to ``full_pair_limit`` records get all
their pairs scored at once and are clustered by agglomerative average
linkage; larger ones are merged greedily edge by edge with lazy scoring.

Constraints are never overridden: must-link pairs start in one cluster;
cannot-link pairs never end in one; with ``one_per_source`` a cluster holds
at most one record per source (``unless_certain``: unless that same-source
pair reaches the ``merge`` threshold). Merging two clusters that continue
*different existing* clusters needs the higher ``merge`` threshold; between
``auto`` and ``merge`` it becomes a merge proposal for a steward.

Example::

    >>> import numpy as np
    >>> I, J, P = np.array([0, 1]), np.array([1, 2]), np.array([0.99, 0.99])
    >>> res = cluster_records(3, I, J, P, score_fn=lambda a, b: np.zeros(len(a)), auto=0.9)
    >>> res.labels.tolist()   # 0 and 2 never matched: 2 stays apart
    [0, 0, 1]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.blocking import _pairs_within_groups, encode_pairs

__all__ = ["ClusterOutcome", "cluster_records", "connected_components", "continuation", "labels_to_clusters"]

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def connected_components(n: int, I: np.ndarray, J: np.ndarray) -> np.ndarray:
    """Component label (0..k-1, in order of first row) of each of ``n`` nodes given edges (I, J)."""
    lab = np.arange(n, dtype=np.int64)
    I = np.asarray(I, dtype=np.int64)
    J = np.asarray(J, dtype=np.int64)
    if I.size:
        while True:
            m = np.minimum(lab[I], lab[J])
            new = lab.copy()
            np.minimum.at(new, I, m)
            np.minimum.at(new, J, m)
            while True:  # pointer jumping
                nxt = new[new]
                if np.array_equal(nxt, new):
                    break
                new = nxt
            if np.array_equal(new, lab):
                break
            lab = new
    _, dense = np.unique(lab, return_inverse=True)
    # relabel by first occurrence for stable, readable labels
    first = np.full(dense.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, dense, np.arange(n))
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[dense]


@dataclass
class ClusterOutcome:
    """Cluster label per row, plus cluster pairs held apart only by the merge threshold."""

    labels: np.ndarray
    blocked_merges: list[tuple[int, int, float]] = field(default_factory=list)  # (row_a, row_b, linkage)
    stats: dict = field(default_factory=dict)


class _PairLookup:
    """Probabilities of known pairs (sorted codes) with on-demand scoring of the rest."""

    def __init__(self, n: int, I: np.ndarray, J: np.ndarray, P: np.ndarray, score_fn: ScoreFn):
        self.n = max(n, 1)
        codes = encode_pairs(I, J, self.n)
        order = np.argsort(codes, kind="stable")
        self.codes = codes[order]
        self.P = np.asarray(P, dtype=np.float64)[order]
        self.score_fn = score_fn
        self.scored_on_demand = 0

    def get(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        A = np.asarray(A, dtype=np.int64)
        B = np.asarray(B, dtype=np.int64)
        out = np.empty(A.size, dtype=np.float64)
        if A.size == 0:
            return out
        codes = encode_pairs(A, B, self.n)
        pos = np.searchsorted(self.codes, codes)
        pos_c = np.minimum(pos, max(self.codes.size - 1, 0))
        found = (self.codes.size > 0) & (self.codes[pos_c] == codes) if self.codes.size else np.zeros(A.size, bool)
        out[found] = self.P[pos_c[found]]
        miss = np.flatnonzero(~found)
        if miss.size:
            out[miss] = self.score_fn(A[miss], B[miss])
            self.scored_on_demand += int(miss.size)
        return out


def _agglomerate(P: np.ndarray, init: np.ndarray, src: np.ndarray, cannot: np.ndarray,
                 existing: np.ndarray, *, auto: float, merge: float, linkage: str,
                 one_per_source: bool | str) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """Agglomerative clustering of one component (dense k x k probabilities).

    ``init``: initial cluster per node (must-link groups); ``cannot``: k x k
    bool; ``existing``: existing cluster code per node (-1 none). Returns
    (cluster per node, [(node_a, node_b, linkage)] held apart only by ``merge``).
    """
    k = P.shape[0]
    _, init = np.unique(init, return_inverse=True)
    c = int(init.max()) + 1
    A = np.zeros((k, c))
    A[np.arange(k), init] = 1.0
    sizes = A.sum(axis=0)
    if linkage == "average":
        L = A.T @ P @ A
    elif c == k:
        L = P[np.ix_(np.argsort(init), np.argsort(init))].copy()
    else:
        L = np.zeros((c, c))
        for a in range(c):
            for b in range(a + 1, c):
                sub = P[np.ix_(init == a, init == b)]
                L[a, b] = L[b, a] = sub.min() if linkage == "complete" else sub.max()
    Ab = A > 0
    CL = (A.T @ cannot.astype(float) @ A) > 0
    # lowest probability among same-source cross pairs (inf: none), for "unless_certain"
    same_src = src[:, None] == src[None, :]
    Q = np.where(same_src, P, np.inf)
    np.fill_diagonal(Q, np.inf)
    if c == k:
        order = np.argsort(init)
        SS = Q[np.ix_(order, order)].copy()
    else:
        SS = np.full((c, c), np.inf)
        for a in range(c):
            for b in range(c):
                if a != b:
                    SS[a, b] = Q[np.ix_(init == a, init == b)].min()
    _, src_local = np.unique(src, return_inverse=True)
    SRC = np.zeros((c, int(src_local.max()) + 1), dtype=bool)
    SRC[init, src_local] = True
    ex_ids, ex_local = np.unique(existing, return_inverse=True)
    EX = np.zeros((c, ex_ids.size), dtype=bool)
    has_ex = existing >= 0
    EX[init[has_ex], ex_local[has_ex]] = True
    alive = np.ones(c, dtype=bool)
    upper = np.triu(np.ones((c, c), dtype=bool), 1)

    def masks():
        link = L / np.outer(sizes, sizes) if linkage == "average" else L
        ok = upper & alive[:, None] & alive[None, :] & ~CL
        if one_per_source == "unless_certain":
            ok &= SS >= merge
        elif one_per_source:
            ok &= ~((SRC.astype(np.int64) @ SRC.T.astype(np.int64)) > 0)
        exf = EX.astype(np.int64)
        has = EX.any(axis=1)
        differ = ((exf @ (1 - exf).T) + ((1 - exf) @ exf.T)) > 0
        conflict = has[:, None] & has[None, :] & differ
        return link, ok, conflict

    while True:
        link, ok, conflict = masks()
        thr = np.where(conflict, merge, auto)
        cand = ok & (link >= thr)
        if not cand.any():
            break
        flat = np.where(cand, link, -np.inf).argmax()
        a, b = divmod(int(flat), c)
        if linkage == "average":
            L[a, :] += L[b, :]
            L[:, a] += L[:, b]
        elif linkage == "complete":
            L[a, :] = np.minimum(L[a, :], L[b, :])
            L[:, a] = L[a, :]
        else:
            L[a, :] = np.maximum(L[a, :], L[b, :])
            L[:, a] = L[a, :]
        L[a, a] = 0.0
        sizes[a] += sizes[b]
        CL[a, :] |= CL[b, :]
        CL[:, a] |= CL[:, b]
        SS[a, :] = np.minimum(SS[a, :], SS[b, :])
        SS[:, a] = SS[a, :]
        SS[a, a] = np.inf
        SRC[a] |= SRC[b]
        EX[a] |= EX[b]
        Ab[:, a] |= Ab[:, b]
        alive[b] = False
    link, ok, conflict = masks()
    held = ok & conflict & (link >= auto) & (link < merge)
    out = np.empty(k, dtype=np.int64)
    first_member = {}
    for a in np.flatnonzero(alive).tolist():
        nodes_a = np.flatnonzero(Ab[:, a])
        out[nodes_a] = a
        first_member[a] = int(nodes_a[0])
    still = [(first_member[a], first_member[b], float(link[a, b])) for a, b in zip(*np.nonzero(held))]
    return out, still


def _greedy_sparse(nodes: np.ndarray, edges: list[tuple[float, int, int]], lookup: _PairLookup,
                   init: dict[int, int], src: np.ndarray, cannot: set[tuple[int, int]], existing: np.ndarray,
                   *, auto: float, merge: float, linkage: str, one_per_source: bool | str
                   ) -> tuple[dict[int, int], list[tuple[int, int, float]]]:
    """Edge-by-edge average linkage for a big component, scoring cross pairs on demand."""
    cl_of = {int(v): init.get(int(v), int(v)) for v in nodes}
    members: dict[int, list[int]] = {}
    for v, c in cl_of.items():
        members.setdefault(c, []).append(v)
    blocked = []
    for _p, a, b in sorted(edges, reverse=True):
        ca, cb = cl_of[a], cl_of[b]
        if ca == cb:
            continue
        ma, mb = members[ca], members[cb]
        if any((min(x, y), max(x, y)) in cannot for x in ma for y in mb):
            continue
        if one_per_source is True and set(src[ma].tolist()) & set(src[mb].tolist()):
            continue
        X = np.repeat(ma, len(mb))
        Y = np.tile(mb, len(ma))
        probs = lookup.get(X, Y)
        if one_per_source == "unless_certain":
            same = src[X] == src[Y]
            if same.any() and probs[same].min() < merge:
                continue
        link = probs.mean() if linkage == "average" else probs.min() if linkage == "complete" else probs.max()
        if link < auto:
            continue
        ea = {int(x) for x in existing[ma] if x >= 0}
        eb = {int(x) for x in existing[mb] if x >= 0}
        if ea and eb and ea != eb and link < merge:
            blocked.append((ma[0], mb[0], float(link)))
            continue
        if len(ma) < len(mb):
            ca, cb, ma, mb = cb, ca, mb, ma
        ma.extend(mb)
        for v in mb:
            cl_of[v] = ca
        del members[cb]
    still = [(a, b, v) for a, b, v in blocked if cl_of[a] != cl_of[b]]
    return cl_of, still


def cluster_records(n: int, I: np.ndarray, J: np.ndarray, P: np.ndarray, *, score_fn: ScoreFn,
                    auto: float, merge: float | None = None, linkage: str = "average",
                    one_per_source: bool | str = False, sources: np.ndarray | None = None,
                    existing: np.ndarray | None = None, must_link: np.ndarray | None = None,
                    cannot_link: np.ndarray | None = None, full_pair_limit: int = 200) -> ClusterOutcome:
    """Cluster ``n`` rows given scored candidate pairs (rows ``I``, ``J``, probabilities ``P``).

    ``score_fn(A, B)`` returns probabilities for row pairs that were not
    scored (blocking never proposed them). ``existing``: existing cluster
    code per row (-1 none), used for the merge threshold. ``must_link`` and
    ``cannot_link``: arrays of row pairs (k x 2).
    """
    t0 = time.perf_counter()
    merge = auto if merge is None else merge
    I = np.asarray(I, dtype=np.int64)
    J = np.asarray(J, dtype=np.int64)
    P = np.asarray(P, dtype=np.float64)
    sources = np.zeros(n, dtype=np.int64) if sources is None else np.asarray(sources, dtype=np.int64)
    existing = np.full(n, -1, dtype=np.int64) if existing is None else np.asarray(existing, dtype=np.int64)
    must = np.zeros((0, 2), np.int64) if must_link is None or len(must_link) == 0 else np.asarray(must_link, np.int64).reshape(-1, 2)
    cannot = np.zeros((0, 2), np.int64) if cannot_link is None or len(cannot_link) == 0 else np.asarray(cannot_link, np.int64).reshape(-1, 2)
    lookup = _PairLookup(n, I, J, P, score_fn)

    strong = P >= auto
    EI = np.concatenate([I[strong], must[:, 0]])
    EJ = np.concatenate([J[strong], must[:, 1]])
    comp = connected_components(n, EI, EJ)
    must_group = connected_components(n, must[:, 0], must[:, 1]) if len(must) else np.arange(n)

    n_comp = int(comp.max()) + 1 if n else 0
    comp_size = np.bincount(comp, minlength=n_comp)
    labels = comp.copy()  # provisional: whole components
    multi = comp_size[comp] >= 2

    # Components needing care: a constraint, a source clash, several existing clusters,
    # or a pair below auto inside.
    flagged = np.zeros(n_comp, dtype=bool)
    if len(cannot):
        same = comp[cannot[:, 0]] == comp[cannot[:, 1]]
        flagged[comp[cannot[same, 0]]] = True
    if one_per_source:
        cs = comp[multi] * (int(sources.max()) + 1 if n else 1) + sources[multi]
        u, cnt = np.unique(cs, return_counts=True)
        flagged[(u[cnt > 1] // (int(sources.max()) + 1))] = True
    has_ex = multi & (existing >= 0)
    if has_ex.any():
        ce = np.unique(np.stack([comp[has_ex], existing[has_ex]]), axis=1)
        c_ids, c_cnt = np.unique(ce[0], return_counts=True)
        flagged[c_ids[c_cnt > 1]] = True

    small = (comp_size >= 3) & (comp_size <= full_pair_limit)
    big = comp_size > full_pair_limit
    # All pairs inside small components, scored (known or on demand) at once.
    rows = np.flatnonzero(small[comp])
    PI, PJ, _ = _pairs_within_groups(rows.astype(np.int64), comp[rows].astype(np.int64), full_pair_limit)
    PP = lookup.get(PI, PJ) if PI.size else np.zeros(0)
    if PI.size:
        pc = comp[PI]
        below = pc[PP < auto]
        flagged[np.unique(below)] = True
    # Size-2 components: the one edge is >= auto or a must-link; flags above cover the rest.
    blocked: list[tuple[int, int, float]] = []
    dense_done = 0
    sparse_done = 0
    if PI.size:
        order = np.argsort(comp[PI], kind="stable")
        PI, PJ, PP = PI[order], PJ[order], PP[order]
        pc = comp[PI]
        bounds = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1], True])
    else:
        pc = np.zeros(0, np.int64)
        bounds = np.zeros(1, np.int64)
    cannot_set = {(min(a, b), max(a, b)) for a, b in cannot.tolist()}
    next_label = n_comp

    # dense agglomeration of flagged small components
    for s, e in zip(bounds[:-1], bounds[1:]):
        c = int(pc[s])
        if not flagged[c]:
            continue
        nodes = np.unique(np.concatenate([PI[s:e], PJ[s:e]]))
        k = nodes.size
        pos = {int(v): i for i, v in enumerate(nodes.tolist())}
        M = np.zeros((k, k))
        a_idx = np.fromiter((pos[v] for v in PI[s:e].tolist()), np.int64, e - s)
        b_idx = np.fromiter((pos[v] for v in PJ[s:e].tolist()), np.int64, e - s)
        M[a_idx, b_idx] = PP[s:e]
        M[b_idx, a_idx] = PP[s:e]
        C = np.zeros((k, k), dtype=bool)
        for x, y in cannot_set:
            if x in pos and y in pos:
                C[pos[x], pos[y]] = C[pos[y], pos[x]] = True
        local, still = _agglomerate(M, must_group[nodes], sources[nodes], C, existing[nodes], auto=auto,
                                    merge=merge, linkage=linkage, one_per_source=one_per_source)
        for lab in np.unique(local):
            labels[nodes[local == lab]] = next_label
            next_label += 1
        blocked.extend((int(nodes[a]), int(nodes[b]), v) for a, b, v in still)
        dense_done += 1

    # size-2 flagged components: a must-link wins; otherwise check the constraint and merge threshold
    two = np.flatnonzero((comp_size == 2) & flagged)
    if two.size:
        rows2 = np.flatnonzero(np.isin(comp, two))
        order = np.argsort(comp[rows2], kind="stable")
        rows2 = rows2[order]
        for a, b in zip(rows2[0::2].tolist(), rows2[1::2].tolist()):
            if must_group[a] == must_group[b]:
                continue
            apart = (min(a, b), max(a, b)) in cannot_set
            if not apart and one_per_source and sources[a] == sources[b]:
                apart = one_per_source is True or float(lookup.get(np.array([a]), np.array([b]))[0]) < merge
            if not apart and existing[a] >= 0 and existing[b] >= 0 and existing[a] != existing[b]:
                p = float(lookup.get(np.array([a]), np.array([b]))[0])
                if p < merge:
                    blocked.append((a, b, p))
                    apart = True
            if apart:
                labels[b] = next_label
                next_label += 1

    # big components: greedy edge-by-edge with lazy scoring
    for c in np.flatnonzero(big).tolist():
        nodes = np.flatnonzero(comp == c)
        sel = np.flatnonzero(strong)
        sel = sel[np.isin(I[sel], nodes)]
        edges = [(float(P[x]), int(I[x]), int(J[x])) for x in sel.tolist()]
        edges += [(2.0, int(a), int(b)) for a, b in must.tolist() if comp[a] == c]
        init = {int(v): int(must_group[v]) + n for v in nodes.tolist()}
        cl_of, still = _greedy_sparse(nodes, edges, lookup, init, sources, cannot_set, existing, auto=auto,
                                      merge=merge, linkage=linkage, one_per_source=one_per_source)
        remap: dict[int, int] = {}
        for v, cl in cl_of.items():
            if cl not in remap:
                remap[cl] = next_label
                next_label += 1
            labels[v] = remap[cl]
        blocked.extend(still)
        sparse_done += 1

    _, labels = np.unique(labels, return_inverse=True)
    stats = {"components": int((comp_size >= 2).sum()), "components_flagged": int(flagged.sum()),
             "dense_clustered": dense_done, "sparse_clustered": sparse_done,
             "pairs_scored_on_demand": lookup.scored_on_demand,
             "seconds": round(time.perf_counter() - t0, 3)}
    return ClusterOutcome(labels=labels.astype(np.int64), blocked_merges=blocked, stats=stats)


def labels_to_clusters(labels: np.ndarray, ids: np.ndarray) -> list[list[int]]:
    """Group record ids by label (clusters ordered by their smallest row)."""
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    bounds = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1], True]) if lab.size else np.zeros(1, np.int64)
    out = [ids[order[s:e]].tolist() for s, e in zip(bounds[:-1], bounds[1:])]
    return out


def continuation(clusters: Sequence[Sequence[int]], existing: dict[int, object]) -> list[object | None]:
    """For each output cluster, the existing cluster id it continues (or None).

    Largest overlap wins; an existing id is continued by at most one output
    cluster and an output cluster continues at most one id. Ties go to the
    existing cluster that keeps the larger share of its records, then to
    the smaller id, so the mapping is deterministic.
    """
    overlaps: dict[tuple[int, object], int] = {}
    ex_size: dict[object, int] = {}
    for cid in existing.values():
        ex_size[cid] = ex_size.get(cid, 0) + 1
    for k, members in enumerate(clusters):
        for rid in members:
            cid = existing.get(int(rid))
            if cid is not None:
                overlaps[(k, cid)] = overlaps.get((k, cid), 0) + 1
    ranked = sorted(overlaps.items(), key=lambda kv: (-kv[1], -kv[1] / ex_size[kv[0][1]], str(kv[0][1]), kv[0][0]))
    out: list[object | None] = [None] * len(clusters)
    used: set[object] = set()
    for (k, cid), _ in ranked:
        if out[k] is None and cid not in used:
            out[k] = cid
            used.add(cid)
    return out
