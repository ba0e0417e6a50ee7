"""Clustering that does not chain, respects steward constraints and keeps cluster ids stable."""

import numpy as np
import pytest

from matching.cluster import cluster_records, connected_components, continuation, labels_to_clusters


def scorer(table: dict):
    """score_fn for pairs blocking never proposed: look them up in ``table`` (default: clearly different)."""
    def fn(A, B):
        return np.array([table.get((min(a, b), max(a, b)), 0.01) for a, b in zip(A.tolist(), B.tolist())])
    return fn


def run(n, edges: dict, missing: dict | None = None, **kw):
    pairs = sorted(edges)
    I = np.array([a for a, _ in pairs])
    J = np.array([b for _, b in pairs])
    P = np.array([edges[p] for p in pairs])
    kw.setdefault("auto", 0.9)
    res = cluster_records(n, I, J, P, score_fn=scorer(missing or {}), **kw)
    return sorted(sorted(c) for c in labels_to_clusters(res.labels, np.arange(n))), res


def test_a_chain_does_not_pull_its_ends_together():
    # A~B and B~C, but A and C clearly differ (their pair is scored on demand)
    clusters, res = run(3, {(0, 1): 0.99, (1, 2): 0.98})
    assert clusters == [[0, 1], [2]]
    assert res.stats["pairs_scored_on_demand"] == 1
    # connected components would chain all three
    assert len(set(connected_components(3, np.array([0, 1]), np.array([1, 2])).tolist())) == 1


def test_a_record_joins_a_cluster_that_matches_it_as_a_whole():
    clusters, _ = run(3, {(0, 1): 0.99, (1, 2): 0.98}, missing={(0, 2): 0.97})
    assert clusters == [[0, 1, 2]]


def test_one_weak_member_is_not_enough():
    # 3 matches 2 strongly, but 0 and 1 not at all: the average stays below auto
    clusters, _ = run(4, {(0, 1): 0.999, (0, 2): 0.999, (1, 2): 0.999, (2, 3): 0.99})
    assert clusters == [[0, 1, 2], [3]]


def test_must_link_is_never_overridden():
    clusters, _ = run(3, {(0, 1): 0.2}, must_link=np.array([[0, 1], [1, 2]]))
    assert clusters == [[0, 1, 2]]


def test_cannot_link_is_never_overridden():
    clusters, _ = run(3, {(0, 1): 0.999, (1, 2): 0.999, (0, 2): 0.999}, cannot_link=np.array([[0, 2]]))
    assert [0, 2] not in clusters and all(not ({0, 2} <= set(c)) for c in clusters)
    assert len(clusters) == 2


def test_cannot_link_on_a_single_strong_pair():
    clusters, _ = run(2, {(0, 1): 0.9999}, cannot_link=np.array([[0, 1]]))
    assert clusters == [[0], [1]]


def test_one_per_source_keeps_the_best_partner_only():
    sources = np.array([0, 1, 1])
    clusters, _ = run(3, {(0, 1): 0.99, (0, 2): 0.999, (1, 2): 0.999}, sources=sources, one_per_source=True)
    assert clusters == [[0, 2], [1]]


def test_unless_certain_lets_a_certain_same_source_pair_share_a_cluster():
    sources = np.array([0, 1, 1])
    edges = {(0, 1): 0.99, (0, 2): 0.999, (1, 2): 0.9999}
    clusters, _ = run(3, edges, sources=sources, one_per_source="unless_certain", merge=0.999)
    assert clusters == [[0, 1, 2]]
    edges[(1, 2)] = 0.99  # a look-alike, not certain
    clusters, _ = run(3, edges, sources=sources, one_per_source="unless_certain", merge=0.999)
    assert clusters == [[0, 2], [1]]


def test_merging_two_existing_clusters_needs_the_higher_threshold():
    existing = np.array([7, 7, 8, 8])
    edges = {(0, 1): 0.999, (2, 3): 0.999, (0, 2): 0.95, (0, 3): 0.95, (1, 2): 0.95, (1, 3): 0.95}
    clusters, res = run(4, edges, existing=existing, merge=0.99)
    assert clusters == [[0, 1], [2, 3]]
    assert len(res.blocked_merges) == 1 and res.blocked_merges[0][2] == pytest.approx(0.95)
    edges.update({k: 0.995 for k in [(0, 2), (0, 3), (1, 2), (1, 3)]})
    clusters, res = run(4, edges, existing=existing, merge=0.99)
    assert clusters == [[0, 1, 2, 3]] and not res.blocked_merges


def test_a_big_component_gives_the_same_clusters_edge_by_edge():
    rng = np.random.default_rng(0)
    edges = {}
    for g in range(5):  # five groups of four, chained by one strong link each
        base = 4 * g
        for a in range(4):
            for b in range(a + 1, 4):
                edges[(base + a, base + b)] = 0.99 + 0.009 * rng.random()
        if g:
            edges[(base - 1, base)] = 0.95
    dense, _ = run(20, edges, full_pair_limit=200)
    sparse, res = run(20, edges, full_pair_limit=5)
    assert dense == sparse == [[4 * g + i for i in range(4)] for g in range(5)]
    assert res.stats["sparse_clustered"] == 1


@pytest.mark.parametrize("linkage, expected", [("single", [[0, 1, 2]]), ("complete", [[0, 1], [2]])])
def test_other_linkages(linkage, expected):
    clusters, _ = run(3, {(0, 1): 0.99, (1, 2): 0.98}, missing={(0, 2): 0.5}, linkage=linkage)
    assert clusters == expected


def test_continuation_maps_each_existing_id_to_at_most_one_output_cluster():
    clusters = [[1, 2, 3], [4, 5], [6]]
    existing = {1: "G1", 2: "G1", 3: "G2", 4: "G2", 5: "G2", 6: "G1"}
    assert continuation(clusters, existing) == ["G1", "G2", None]


def test_continuation_breaks_ties_deterministically():
    assert continuation([[1], [2]], {1: "G", 2: "G"}) == ["G", None]
