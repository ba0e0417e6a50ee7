"""Pairwise precision, recall and F1 of clusters against known truth.

A predicted pair is two records in one cluster; a true pair two records of
one real entity (or a listed pair, e.g. Abt-Buy's mapping). With
``sources`` and ``cross_source_only`` only pairs from different sources
count, as in link-only benchmarks.

Example::

    >>> pairwise_scores([[1, 2, 3], [4]], truth_clusters=[[1, 2], [3, 4]])
    {'precision': 0.3333, 'recall': 0.5, 'f1': 0.4, 'tp': 1, 'fp': 2, 'fn': 1, 'predicted': 3, 'true': 2}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["clusters_from_labels", "pairs_of_clusters", "pairwise_scores"]


def clusters_from_labels(labels: Mapping[int, object]) -> list[list[int]]:
    """record id -> entity id  ==>  list of clusters (record id lists)."""
    groups: dict[object, list[int]] = {}
    for rid, ent in labels.items():
        groups.setdefault(ent, []).append(int(rid))
    return list(groups.values())


def pairs_of_clusters(clusters: Iterable[Sequence[int]], *, sources: Mapping[int, str] | None = None,
                      cross_source_only: bool = False) -> set[tuple[int, int]]:
    """All within-cluster pairs ``(smaller id, larger id)``."""
    out: set[tuple[int, int]] = set()
    for members in clusters:
        ms = sorted(int(m) for m in members)
        if len(ms) < 2:
            continue
        for x in range(len(ms)):
            for y in range(x + 1, len(ms)):
                a, b = ms[x], ms[y]
                if cross_source_only and sources is not None and sources.get(a) == sources.get(b):
                    continue
                out.add((a, b))
    return out


def pairwise_scores(predicted: Iterable[Sequence[int]], *, truth_clusters: Iterable[Sequence[int]] | None = None,
                    truth_pairs: Iterable[tuple[int, int]] | None = None, sources: Mapping[int, str] | None = None,
                    cross_source_only: bool = False, involving: set[int] | None = None) -> dict:
    """Pairwise P/R/F1 of predicted clusters against truth (clusters or pairs).

    ``involving``: only the pairs (predicted and true) with at least one of these records.
    """
    pred = pairs_of_clusters(predicted, sources=sources, cross_source_only=cross_source_only)
    if truth_pairs is not None:
        true = {(min(int(a), int(b)), max(int(a), int(b))) for a, b in truth_pairs if a != b}
        if cross_source_only and sources is not None:
            true = {(a, b) for a, b in true if sources.get(a) != sources.get(b)}
    else:
        true = pairs_of_clusters(truth_clusters or [], sources=sources, cross_source_only=cross_source_only)
    if involving is not None:
        pred = {p for p in pred if p[0] in involving or p[1] in involving}
        true = {p for p in true if p[0] in involving or p[1] in involving}
    tp = len(pred & true)
    fp = len(pred) - tp
    fn = len(true) - tp
    precision = tp / len(pred) if pred else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn, "predicted": len(pred), "true": len(true)}

