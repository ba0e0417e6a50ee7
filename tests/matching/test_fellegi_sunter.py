"""The Fellegi-Sunter model: EM for m, random sampling for u, term frequencies, rules, explanations."""

import json
import math

import numpy as np
import pytest

from matching.blocking import generate_pairs
from matching.comparisons import RecordTable
from matching.model import (
    ComparisonParams,
    MatchModel,
    Scorer,
    build_tf_tables,
    estimate_u,
    run_em,
    train_model,
    weight_to_prob,
)
from matching.settings import MatchSettings


def test_em_recovers_known_m_from_pairs_drawn_from_known_parameters():
    rng = np.random.default_rng(42)
    true_m = [[None, 0.7, 0.2, 0.1], [None, 0.85, 0.15], [None, 0.6, 0.3, 0.1]]
    true_u = [[None, 0.01, 0.09, 0.90], [None, 0.05, 0.95], [None, 0.02, 0.18, 0.80]]
    lam, n = 0.3, 40_000
    is_match = rng.random(n) < lam
    levels = np.zeros((3, n), dtype=np.int8)
    for c in range(3):
        pm = np.array(true_m[c][1:])
        pu = np.array(true_u[c][1:])
        levels[c, is_match] = 1 + rng.choice(len(pm), is_match.sum(), p=pm)
        levels[c, ~is_match] = 1 + rng.choice(len(pu), (~is_match).sum(), p=pu)
    # a tenth of the values missing: the null level carries no information
    levels[0, rng.random(n) < 0.1] = 0
    m_start = [[None, 0.4, 0.3, 0.3], [None, 0.5, 0.5], [None, 0.4, 0.3, 0.3]]
    m, lam_hat, _, converged = run_em(levels, [4, 3, 4], [0, 0, 0], m_start, true_u, [True, True, True],
                                          max_iter=200, tol=1e-6)
    assert converged
    assert lam_hat == pytest.approx(lam, abs=0.02)
    for c in range(3):
        for i in range(1, len(true_m[c])):
            assert m[c][i] == pytest.approx(true_m[c][i], abs=0.03)


def test_em_leaves_a_fixed_comparison_untouched():
    rng = np.random.default_rng(1)
    levels = rng.integers(1, 3, size=(2, 500)).astype(np.int8)
    m0 = [[None, 0.9, 0.1], [None, 0.5, 0.5]]
    m, *_ = run_em(levels, [3, 3], [0, 0], m0, [[None, 0.1, 0.9], [None, 0.1, 0.9]], [False, True])
    assert m[0] == m0[0]


def city_settings(**over) -> MatchSettings:
    d = {"comparisons": [
        {"name": "city", "attribute": "city", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact", "tf_adjust": True},
            {"label": "else", "method": "else"}]}],
        "blocking": {"passes": [{"name": "c", "keys": [{"attribute": "city"}]}]}}
    d.update(over)
    return MatchSettings.from_dict(d)


def test_u_from_random_pairs_matches_the_value_distribution():
    cities = [f"city{i % 10}" for i in range(1000)]
    table = RecordTable([(i, "s", {"city": c}) for i, c in enumerate(cities)])
    u, stats = estimate_u(city_settings(), table, size=50_000, seed=3)
    assert stats["u_pairs"] == 50_000
    assert u["city"][1] == pytest.approx(0.1, abs=0.01)
    assert u["city"][0] is None


def test_u_of_a_level_never_seen_is_small_but_not_zero():
    table = RecordTable([(i, "s", {"city": f"c{i}"}) for i in range(300)])
    u, _ = estimate_u(city_settings(), table, size=10_000)
    assert 0 < u["city"][1] < 1e-3


def fixed_model(settings: MatchSettings, table: RecordTable, **params) -> MatchModel:
    prm = {c.name: ComparisonParams(c.labels, *params[c.name]) for c in settings.comparisons}
    return MatchModel(lambda_=1e-3, params=prm, tf_tables=build_tf_tables(settings, table))


def test_term_frequency_makes_a_rare_value_count_more_than_a_common_one():
    settings = city_settings()
    recs = [(i, "s", {"city": "springfield"}) for i in range(50)]
    recs += [(100, "s", {"city": "ogden"}), (101, "s", {"city": "ogden"})] + [(200 + i, "s", {"city": f"x{i}"})
                                                                                 for i in range(48)]
    table = RecordTable(recs)
    model = fixed_model(settings, table, city=([None, 0.9, 0.1], [None, 0.02, 0.98]))
    scorer = Scorer(settings, model)
    w, _ = scorer.score(table, np.array([0, 50]), np.array([1, 51]))
    common, rare = w
    assert rare > common
    # the common value is worth less than the average agreement, the rare one more
    base = model.prior_weight + math.log2(0.9 / 0.02)
    assert common < base < rare


def tax_settings() -> MatchSettings:
    return MatchSettings.from_dict({
        "comparisons": [{"name": "name", "attribute": "name", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact"},
            {"label": "else", "method": "else"}]}],
        "rules": [
            {"name": "same_tax_id", "when": [{"method": "exact", "attribute": "tax", "check": "tax_id"}], "weight": 4},
            {"name": "different_tax_ids", "when": [{"method": "different", "attribute": "tax", "check": "tax_id"}],
             "weight": -10},
            {"name": "same_name_no_gtin_clash", "levels": {"name": ["exact"]},
             "unless": [{"method": "different", "attribute": "gtin", "check": "gtin"}], "weight": 1}],
        "blocking": {"passes": [{"name": "n", "keys": [{"attribute": "name"}]}]}})


def test_deterministic_rules_add_their_weight_only_when_they_hold():
    s = tax_settings()
    recs = [(1, "a", {"name": "acme", "tax": "DE:136695976"}), (2, "b", {"name": "acme", "tax": "DE:136695976"}),
            (3, "b", {"name": "acme", "tax": "US:123456789"}), (4, "b", {"name": "acme", "tax": "DE:136695975"}),
            (5, "b", {"name": "acme", "gtin": "04006381333931"}), (6, "b", {"name": "acme", "gtin": "00012345678905"})]
    table = RecordTable(recs)
    model = fixed_model(s, table, name=([None, 0.9, 0.1], [None, 0.01, 0.99]))
    scorer = Scorer(s, model)
    base = model.prior_weight + math.log2(0.9 / 0.01)
    w, _ = scorer.score(table, np.array([0, 0, 0, 4]), np.array([1, 2, 3, 5]))
    assert w[0] == pytest.approx(base + 4 + 1)       # same valid tax ID
    assert w[1] == pytest.approx(base - 10 + 1)      # two different valid tax IDs: strong non-match
    assert w[2] == pytest.approx(base + 1)           # an invalid tax ID proves nothing
    assert w[3] == pytest.approx(base)               # the "unless" clause: GTINs clash


def test_the_explanation_adds_up_to_the_total_weight_and_probability():
    s = tax_settings()
    table = RecordTable([(1, "a", {"name": "acme", "tax": "DE:136695976"}),
                         (2, "b", {"name": "acme", "tax": "DE:136695976"})])
    model = fixed_model(s, table, name=([None, 0.9, 0.1], [None, 0.01, 0.99]))
    scorer = Scorer(s, model)
    ex = scorer.explain(table, 0, 1)
    parts = ex["prior_weight"] + sum(t["weight"] for t in ex["comparisons"]) + sum(r["weight"] for r in ex["rules"])
    assert ex["total_weight"] == pytest.approx(parts)
    assert ex["probability"] == pytest.approx(float(weight_to_prob(ex["total_weight"])))
    assert ex["total_weight"] == pytest.approx(scorer.score(table, np.array([0]), np.array([1]))[0][0])
    term = ex["comparisons"][0]
    assert term["level"] == "exact" and term["value_a"] == "acme" and term["m"] == 0.9
    assert [r["rule"] for r in ex["rules"]] == ["same_tax_id", "same_name_no_gtin_clash"]


def people(n_entities=300, seed=5):
    """Entities in two sources, most in both, with some typos; sources: crm and erp."""
    rng = np.random.default_rng(seed)
    first = ["anna", "ben", "carla", "dmitri", "eve", "farid", "gina", "hugo", "ines", "jonas", "kate", "liam"]
    last = [f"surname{i}" for i in range(200)] + ["smith"] * 40
    cities = ["springfield"] * 10 + [f"town{i}" for i in range(60)]
    recs, truth = [], {}
    for e in range(n_entities):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        city = rng.choice(cities)
        phone = f"+1555{e:07d}"
        for src in ("crm", "erp"):
            if src == "erp" and rng.random() < 0.2:
                continue
            nm = name if rng.random() < 0.8 else name[:-1]
            rid = len(recs) + 1
            recs.append((rid, src, {"name": nm, "city": city, "phone": phone if rng.random() < 0.9 else None}))
            truth[rid] = e
    return recs, truth


def people_settings(**over) -> MatchSettings:
    d = {"comparisons": [
        {"name": "name", "attribute": "name", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact", "tf_adjust": True},
            {"label": "close", "method": "jaro_winkler", "threshold": 0.9}, {"label": "else", "method": "else"}]},
        {"name": "city", "attribute": "city", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact", "tf_adjust": True},
            {"label": "else", "method": "else"}]},
        {"name": "phone", "template": "phone", "attribute": "phone"}],
        "blocking": {"passes": [{"name": "phone", "keys": [{"attribute": "phone"}]},
                                {"name": "name", "keys": [{"attribute": "name", "transform": "soundex"}]}]},
        "prior": {"rules": [{"name": "phone", "levels": {"phone": ["exact"]}}], "recall": 0.8}}
    d.update(over)
    return MatchSettings.from_dict(d)


def test_training_learns_sensible_weights_without_labels():
    recs, _ = people()
    s = people_settings()
    table = RecordTable(recs)
    model = train_model(s, table, generate_pairs(s, table))
    w = {name: dict(zip(p.labels, p.weights())) for name, p in model.params.items()}
    assert w["name"]["exact"] > w["name"]["close"] > 0 > w["name"]["else"]
    assert w["phone"]["exact"] > 5 and w["phone"]["else"] < 0
    assert model.training["prior_source"] == "rules"
    assert 0 < model.lambda_ < 0.01
    assert set(model.training["passes"]) == {"phone", "name"}
    assert model.training["passes"]["phone"]["fixed"] == ["phone"]


def test_u_is_cleared_of_the_matches_hidden_among_random_pairs():
    recs, _ = people()
    s = people_settings()
    table = RecordTable(recs)
    raw, _ = estimate_u(s, table)
    model = train_model(s, table, generate_pairs(s, table))
    assert model.params["phone"].u[1] < raw["phone"][1]


def test_prior_is_estimated_per_pair_of_sources():
    recs, _ = people()
    s = people_settings()
    table = RecordTable(recs)
    model = train_model(s, table, generate_pairs(s, table))
    assert set(model.lambda_by_source_pair) == {"crm|crm", "crm|erp", "erp|erp"}
    assert model.prior_for("erp", "crm") > model.prior_for("crm", "crm")
    assert model.prior_for("crm", "new_source") == model.lambda_


def test_a_prior_rule_can_leave_out_its_hits_inside_one_source():
    recs, _ = people()
    # the CRM holds some of its records twice, phone and all
    twice = [(10_000 + rid, src, dict(attrs)) for rid, src, attrs in recs[:80] if src == "crm" and attrs["phone"]]
    table = RecordTable(recs + twice)
    rule = {"name": "phone", "levels": {"phone": ["exact"]}}
    counted = people_settings(prior={"rules": [rule], "recall": 0.8})
    left_out = people_settings(prior={"rules": [dict(rule, within_source=False)], "recall": 0.8})
    with_dups = train_model(counted, table, generate_pairs(counted, table))
    without = train_model(left_out, table, generate_pairs(left_out, table))
    assert with_dups.training["prior_rule_pairs_by_source"]["crm|crm"] == len(twice)
    assert "crm|crm" not in without.training["prior_rule_pairs_by_source"]
    assert without.prior_for("crm", "crm") < with_dups.prior_for("crm", "crm") / 10
    assert without.prior_for("crm", "erp") == pytest.approx(with_dups.prior_for("crm", "erp"))


def test_a_trained_model_is_a_plain_dict_that_scores_the_same_after_a_round_trip():
    recs, _ = people()
    s = people_settings()
    table = RecordTable(recs)
    model = train_model(s, table, generate_pairs(s, table))
    stored = json.loads(json.dumps(model.to_dict()))
    again = MatchModel.from_dict(stored)
    I, J = np.arange(0, 40), np.arange(1, 41)
    assert np.allclose(Scorer(s, model).score(table, I, J)[0], Scorer(s, again).score(table, I, J)[0])
    assert stored["settings_fingerprint"] == s.fingerprint()


def test_a_model_that_does_not_fit_the_settings_is_refused():
    recs, _ = people(50)
    s = people_settings()
    table = RecordTable(recs)
    model = train_model(s, table, generate_pairs(s, table))
    other = city_settings()
    with pytest.raises(ValueError):
        Scorer(other, model)
