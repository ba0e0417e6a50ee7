"""The hub's matching engine: standardizers, comparisons, blocking, scoring, clustering.

Pure Python (numpy, rapidfuzz, jellyfish), no Django. Records are
``(record_id: int, source: str, attributes: dict)`` with standardized
attributes (:func:`matching.standardize.standardize_record`).

Example::

    from matching import MatchEngine, MatchSettings, Constraints

    engine = MatchEngine(MatchSettings.from_yaml(open("mdm/config/entities/customer.yaml").read()))
    result = engine.run(records)                       # block, train (no labels), score, cluster
    result.clusters, result.possible_matches, result.stats
    stored = result.model.to_dict()                    # plain dict: store and version it

    engine = MatchEngine(settings, model=stored)       # later, one record at a time
    keys = engine.blocking_keys(record[2])             # look candidates up by these keys
    decision = engine.match_record(record, candidates, cluster_of)
    decision.action                                    # join | new | possible | merge_proposal | merge
    engine.explain(record_a, record_b)                 # levels, weights, prior, total, probability
"""

# Imported lazily (PEP 562): ``import matching.standardize`` at ingestion must not pay
# for numpy and the engine.
_EXPORTS = {
    "MatchEngine": "matching.engine", "Constraints": "matching.engine", "BatchResult": "matching.engine",
    "OutputCluster": "matching.engine", "PossibleMatch": "matching.engine", "MergeProposal": "matching.engine",
    "MatchDecision": "matching.engine", "ClusterMatch": "matching.engine", "ScoredPair": "matching.engine",
    "MatchSettings": "matching.settings", "SettingsError": "matching.settings",
    "MatchModel": "matching.model",
    "blocking_keys": "matching.blocking", "KeyIndex": "matching.blocking", "pair_completeness": "matching.blocking",
    "cluster_records": "matching.cluster", "connected_components": "matching.cluster",
    "continuation": "matching.cluster",
    "pairwise_scores": "matching.evaluate",
}
__all__ = list(sorted(_EXPORTS))  # noqa: C414 - a list literal form for linters


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'matching' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
