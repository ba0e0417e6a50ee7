"""Pairwise precision, recall and F1 of clusters against truth."""

import doctest

import pytest

import matching.blocking
import matching.cluster
import matching.comparisons
import matching.evaluate
import matching.features
import matching.settings
from matching.evaluate import clusters_from_labels, pairs_of_clusters, pairwise_scores


def test_pairwise_scores_against_true_clusters():
    s = pairwise_scores([[1, 2, 3], [4]], truth_clusters=[[1, 2], [3, 4]])
    assert (s["tp"], s["fp"], s["fn"]) == (1, 2, 1)
    assert s["precision"] == pytest.approx(1 / 3, abs=1e-4) and s["recall"] == 0.5


def test_pairwise_scores_against_listed_pairs_across_sources_only():
    sources = {1: "abt", 2: "buy", 3: "buy"}
    s = pairwise_scores([[1, 2, 3]], truth_pairs=[(1, 2), (1, 3)], sources=sources, cross_source_only=True)
    assert s["f1"] == 1.0 and s["predicted"] == 2


def test_pairwise_scores_over_the_pairs_involving_some_records():
    # Predicted {1,2,3}: pairs 12, 13, 23; true {1,2}, {3,4}: 12, 34. Only pairs with record 3 or 4.
    s = pairwise_scores([[1, 2, 3], [4]], truth_clusters=[[1, 2], [3, 4]], involving={3, 4})
    assert (s["tp"], s["fp"], s["fn"], s["predicted"], s["true"]) == (0, 2, 1, 2, 1)


def test_helpers():
    assert pairs_of_clusters([[3, 1], [2]]) == {(1, 3)}
    assert sorted(map(sorted, clusters_from_labels({1: "a", 2: "a", 3: "b"}))) == [[1, 2], [3]]


@pytest.mark.parametrize("module", [matching.evaluate, matching.blocking, matching.cluster, matching.comparisons,
                                    matching.features, matching.settings])
def test_the_docstring_examples_run(module):
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
