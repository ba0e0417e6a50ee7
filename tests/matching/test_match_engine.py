"""The engine facade: batch runs, one-record decisions, explanations, stable cluster ids."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from matching import (
    Constraints,
    MatchEngine,
    MatchModel,
    MatchSettings,
    blocking_keys,
    pairwise_scores,
)
from matching.model import ComparisonParams

ENTITIES = Path(__file__).resolve().parents[2] / "mdm" / "config" / "entities"

SIMPLE = {
    "comparisons": [
        {"name": "name", "attribute": "name", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact"},
            {"label": "close", "method": "jaro_winkler", "threshold": 0.9}, {"label": "else", "method": "else"}]},
        {"name": "phone", "attribute": "phone", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact"}, {"label": "else", "method": "else"}]},
        {"name": "city", "attribute": "city", "levels": [
            {"label": "null", "method": "null"}, {"label": "exact", "method": "exact"}, {"label": "else", "method": "else"}]},
    ],
    "blocking": {"passes": [{"name": "name", "keys": [{"attribute": "name"}]}]},
    "thresholds": {"auto": 0.95, "review": 0.6, "merge": 0.99},
}


def simple_engine(**over) -> MatchEngine:
    d = {**SIMPLE, **over}
    settings = MatchSettings.from_dict(d)
    params = {
        "name": ComparisonParams(["null", "exact", "close", "else"], [None, 0.9, 0.08, 0.02], [None, 0.001, 0.01, 0.989]),
        "phone": ComparisonParams(["null", "exact", "else"], [None, 0.9, 0.1], [None, 0.0001, 0.9999]),
        "city": ComparisonParams(["null", "exact", "else"], [None, 0.9, 0.1], [None, 0.05, 0.95]),
    }
    return MatchEngine(settings, model=MatchModel(lambda_=1e-3, params=params))


def rec(rid, name="acme", phone="p1", city="x", source="erp"):
    attrs = {"name": name, "phone": phone, "city": city}
    return (rid, source, {k: v for k, v in attrs.items() if v is not None})


ACME = [rec(1, source="erp"), rec(2, source="crm")]
ACME2 = [rec(3, source="erp"), rec(4, source="crm")]


def test_a_duplicate_joins_the_cluster_it_matches():
    d = simple_engine().match_record(rec(9, source="ecom"), ACME, {1: "G1", 2: "G1"})
    assert d.action == "join" and d.cluster_id == "G1"
    assert d.clusters[0].probability > 0.99 and len(d.pairs) == 2


def test_an_unrelated_record_starts_a_new_cluster():
    d = simple_engine().match_record(rec(9, "zenith", "p9", "y"), ACME, {1: "G1", 2: "G1"})
    assert d.action == "new" and d.cluster_id is None and not d.possible


def test_a_record_without_enough_evidence_is_a_possible_match():
    d = simple_engine().match_record(rec(9, phone=None, source="ecom"), ACME, {1: "G1", 2: "G1"})
    assert d.action == "possible"
    assert [m.cluster_id for m in d.possible] == ["G1"] and 0.6 <= d.possible[0].probability < 0.95


def test_a_record_close_to_one_member_of_a_cluster_that_is_otherwise_different_is_not_a_question():
    # The best pair is in the review band, the cluster as a whole is far from it:
    # the same rule that keeps it out of the cluster keeps it out of the queue.
    cluster = [rec(1, phone=None, source="erp"), rec(2, "zenith", "p7", "y", source="crm"),
               rec(3, "zenith", "p7", "y", source="wms")]
    d = simple_engine().match_record(rec(9, phone=None, source="ecom"), cluster, {1: "G1", 2: "G1", 3: "G1"})
    assert d.clusters[0].best_probability >= 0.6 > d.clusters[0].probability
    assert d.action == "new" and not d.possible


def test_a_record_matching_two_clusters_proposes_a_merge():
    d = simple_engine(thresholds={"auto": 0.95, "review": 0.6, "merge": 0.999999}).match_record(rec(9, source="ecom"), ACME + ACME2, {1: "G1", 2: "G1", 3: "G2", 4: "G2"})
    assert d.action == "merge_proposal"
    assert {d.cluster_id, *d.merge_cluster_ids} == {"G1", "G2"}


def test_overwhelming_evidence_merges_the_clusters():
    engine = simple_engine(thresholds={"auto": 0.95, "review": 0.6, "merge": 0.995})
    d = engine.match_record(rec(9, source="ecom"), ACME + ACME2, {1: "G1", 2: "G1", 3: "G2", 4: "G2"})
    assert d.action == "merge" and {d.cluster_id, *d.merge_cluster_ids} == {"G1", "G2"}


def test_cannot_link_keeps_a_record_out_of_a_cluster():
    d = simple_engine().match_record(rec(9, source="ecom"), ACME, {1: "G1", 2: "G1"},
                                     Constraints(cannot_link=[(9, 2)]))
    assert d.action == "new" and d.clusters[0].blocked_by == "cannot_link"


def test_must_link_wins_over_the_evidence():
    d = simple_engine().match_record(rec(9, "zenith", "p9", "y"), ACME, {1: "G1", 2: "G1"},
                                     Constraints(must_link=[(9, 1)]))
    assert d.action == "join" and d.cluster_id == "G1"


def test_one_per_source_turns_a_join_into_a_possible_match():
    engine = simple_engine(clustering={"one_per_source": True})
    d = engine.match_record(rec(9, source="erp"), ACME, {1: "G1", 2: "G1"})
    assert d.action == "possible" and d.clusters[0].blocked_by == "one_per_source"


def test_the_record_itself_among_its_candidates_is_ignored():
    d = simple_engine().match_record(rec(1), ACME, {1: "G1", 2: "G1"})
    assert d.action == "join" and len(d.pairs) == 1


def test_explain_through_the_engine():
    ex = simple_engine().explain(rec(1), rec(2, phone="p2"))
    assert [t["level"] for t in ex["comparisons"]] == ["exact", "else", "exact"]
    assert ex["total_weight"] == pytest.approx(ex["prior_weight"] + sum(t["weight"] for t in ex["comparisons"]))


# --------------------------------------------------------------------------- #
# Batch runs on realistic customers, standardized by matching.standardize
# --------------------------------------------------------------------------- #

def customer_section() -> dict:
    return yaml.safe_load((ENTITIES / "customer.yaml").read_text())["matching"]


def customer_specs():
    from matching.standardize import AttributeSpec

    doc = yaml.safe_load((ENTITIES / "customer.yaml").read_text())
    return [AttributeSpec(a["name"], a["type"]) for a in doc["attributes"]]


def synthetic_customers(n=240, seed=11):
    """Companies in ERP/CRM/eCommerce with typos; some with branches that share name and tax ID."""
    from matching.standardize import Context, standardize_record

    rng = np.random.default_rng(seed)
    w1 = ["Acme", "Apex", "Summit", "Harbor", "Liberty", "Keystone", "Falcon", "Granite", "Pioneer", "Sierra",
          "Atlas", "Beacon", "Cascade", "Delta", "Evergreen", "Frontier", "Horizon", "Ironwood", "Juniper", "Lakeside"]
    w2 = ["Supply", "Industrial", "Plumbing", "Electric", "Tooling", "Fasteners", "Hydraulics", "Safety", "Bearing", "Pumps"]
    streets = ["Main St", "Oak Ave", "Industrial Blvd", "Commerce Dr", "Pine Rd", "Harbor Way", "Elm St", "Lake Dr"]
    cities = [("Springfield", "IL", "627"), ("Denver", "CO", "802"), ("Austin", "TX", "787"), ("Boise", "ID", "837"),
              ("Tulsa", "OK", "741"), ("Reno", "NV", "895")]
    specs = customer_specs()
    ctx = Context(default_region="US")
    records, truth, branches = [], {}, []

    def typo(s):
        i = int(rng.integers(1, len(s) - 1))
        return s[:i] + s[i + 1:]

    def site():
        city, st, z = cities[int(rng.integers(len(cities)))]
        return {"address_line1": f"{int(rng.integers(100, 9999))} {rng.choice(streets)}", "city": city,
                "region": st, "postcode": f"{z}{int(rng.integers(10, 99))}", "country": "US",
                "phone": f"({rng.choice(['212', '303', '415', '512', '617', '702', '801', '919'])}) "
                         f"555-{int(rng.integers(1000, 9999))}"}

    used = set()
    for e in range(n):
        while True:
            name = f"{rng.choice(w1)} {rng.choice(w2)} {rng.choice(['Co', 'Group', 'Partners', 'Works'])}"
            if name not in used:
                used.add(name)
                break
        domain = name.lower().replace(" ", "") + ".com"
        tax = f"{int(rng.integers(20, 28))}-{int(rng.integers(1000000, 9999999))}"
        hq = site()
        entities = [("hq", hq)]
        if rng.random() < 0.1:
            entities += [("branch", site()) for _ in range(2)]
        for kind, place in entities:
            key = f"C{e}" if kind == "hq" else f"C{e}-{len(branches)}"
            if kind == "branch":
                branches.append(key)
            for source, p in (("erp", 1.0), ("crm", 0.7), ("ecom", 0.3)):
                if rng.random() > p:
                    continue
                raw = dict(place, name=name if rng.random() < 0.85 else typo(name),
                           email=("ap@" if source == "erp" else f"{rng.choice(['ann', 'bob', 'cy'])}@") + domain,
                           tax_id=tax if source == "erp" else None)
                if source == "ecom":
                    raw["name"] = raw["name"].upper()
                attrs = standardize_record(specs, raw, ctx).attributes
                rid = len(records) + 1
                records.append((rid, source, attrs))
                truth[rid] = key
    return records, truth, branches


@pytest.fixture(scope="module")
def batch():
    records, truth, branches = synthetic_customers()
    engine = MatchEngine(customer_section())
    result = engine.run(records)
    return engine, records, truth, branches, result


def true_clusters(truth):
    groups = {}
    for rid, key in truth.items():
        groups.setdefault(key, []).append(rid)
    return list(groups.values())


def test_batch_matching_finds_duplicates_without_labels(batch):
    _, _, truth, _, result = batch
    ours = pairwise_scores([c.records for c in result.clusters], truth_clusters=true_clusters(truth))
    assert ours["f1"] >= 0.95 and ours["precision"] >= 0.97


def test_branches_with_the_hq_name_and_tax_id_stay_apart(batch):
    _, _, truth, branches, result = batch
    branch_set = set(branches)
    mixed = [c for c in result.clusters
             if len({truth[r] for r in c.records}) > 1 and {truth[r] for r in c.records} & branch_set]
    assert not mixed


def _set_level(model: dict, comparison: str, label: str, **mu) -> None:
    next(lv for lv in model["comparisons"][comparison]["levels"] if lv["label"] == label).update(mu)


def test_a_shared_phone_number_alone_does_not_make_another_company_the_same(batch):
    from matching.standardize import Context, standardize_record

    _, records, _, _, result = batch
    # Weights as EM learns them from the demo's million records: names vary a lot
    # among true duplicates (abbreviated, typed by customers), so a different name
    # costs little, and a shared phone number is worth a great deal.
    model = result.model.to_dict()
    _set_level(model, "name", "else", m=0.2, u=0.95)
    _set_level(model, "phone", "exact", m=0.6, u=0.6 / 2**19)
    company = next(r for r in records if r[2].get("phone") and r[2].get("address_line1"))
    # Another company on the same switchboard: same phone and city, its own name and street.
    raw = {"name": "Zephyr Valve Traders", "address_line1": "77 Quarry Lane", "city": company[2]["city"],
           "country": "US", "phone": company[2]["phone"]}
    other = (10**6, "crm", standardize_record(customer_specs(), raw, Context(default_region="US")).attributes)

    def engine(*, rule: bool) -> MatchEngine:
        section = customer_section()
        section["rules"] = [r for r in section["rules"] if rule or r["name"] != "different_company"]
        for comparison in section["comparisons"]:
            comparison["tf_weight"] = 0  # two records alone say nothing of how common a value is
        return MatchEngine(section, model=model)

    thresholds = engine(rule=True).settings.thresholds
    assert engine(rule=False).explain(other, company)["probability"] >= thresholds.auto
    explained = engine(rule=True).explain(other, company)
    assert explained["probability"] < thresholds.review
    assert [r["rule"] for r in explained["rules"]] == ["different_company"]


def test_our_clustering_is_at_least_as_good_as_connected_components(batch):
    engine, _, truth, _, result = batch
    ours = pairwise_scores([c.records for c in result.clusters], truth_clusters=true_clusters(truth))
    cc = pairwise_scores(engine.connected_components(result), truth_clusters=true_clusters(truth))
    assert ours["f1"] >= cc["f1"] and ours["precision"] >= cc["precision"]


def test_batch_stats_report_every_stage(batch):
    *_, result = batch
    st = result.stats
    for stage in ("prepare", "block", "train", "score", "cluster"):
        assert st[stage]["seconds"] >= 0
    assert st["score"]["pairs"] == len(result.pairs["probability"]) > 0
    assert st["block"]["passes"]["phone"]["pairs"] > 0
    assert result.model.training["prior_source"] == "rules"


def test_the_trained_model_matches_one_record_like_the_batch(batch):
    engine, records, _, _, result = batch
    stored = MatchEngine(customer_section(), model=result.model.to_dict())
    by_id = {r[0]: r for r in records}
    members = {}
    for rid, k in result.cluster_of.items():
        members.setdefault(k, []).append(rid)
    agree = 0
    sample = records[::7]
    for record in sample:
        k = result.cluster_of[record[0]]
        others = [by_id[r] for r in members[k] if r != record[0]]
        # candidates: its own cluster's members plus an unrelated cluster
        foreign = next(c for c in members.values() if record[0] not in c)
        cands = others + [by_id[r] for r in foreign]
        cluster_of = {r[0]: result.cluster_of[r[0]] for r in cands}
        d = stored.match_record(record, cands, cluster_of)
        expected = k if others else None
        got = d.cluster_id if d.action in ("join", "merge", "merge_proposal") else None
        agree += got == expected
    assert agree / len(sample) >= 0.97


def test_existing_cluster_ids_are_continued(batch):
    engine, records, _, _, result = batch
    existing = {rid: f"G{k}" for k, c in enumerate(result.clusters) for rid in c.records}
    again = engine.run(records, existing=existing, train=False)
    continued = [c.continues for c in again.clusters]
    assert continued == [f"G{k}" for k in range(len(result.clusters))]
    assert len([c for c in continued if c is not None]) == len({c for c in continued if c is not None})


def test_two_existing_clusters_are_only_proposed_for_merging(batch):
    engine, records, _, _, result = batch
    # split a true three-record cluster in two existing golden records
    big = next(c for c in result.clusters if len(c.records) >= 3)
    existing = {rid: f"G{k}" for k, c in enumerate(result.clusters) for rid in c.records}
    existing[big.records[0]] = "SPLIT"
    strict = MatchEngine(engine.settings.with_thresholds(merge=1.0), model=result.model)
    again = strict.run(records, existing=existing)
    owner = again.cluster_of
    assert owner[big.records[0]] != owner[big.records[1]]
    assert any({p.cluster_a, p.cluster_b} == {owner[big.records[0]], owner[big.records[1]]}
               for p in again.merge_proposals)


def test_provisional_existing_clusters_merge_like_new_ones_and_are_still_continued(batch):
    engine, records, _, _, result = batch
    big = next(c for c in result.clusters if len(c.records) >= 3)
    existing = {rid: f"G{k}" for k, c in enumerate(result.clusters) for rid in c.records}
    existing[big.records[0]] = "SPLIT"  # what a model still learning left apart
    strict = MatchEngine(engine.settings.with_thresholds(merge=1.0), model=result.model)
    again = strict.run(records, existing=existing, provisional=True)
    owner = again.cluster_of
    assert owner[big.records[0]] == owner[big.records[1]]
    assert not again.merge_proposals
    # The reunited cluster continues the golden record most of it had; "SPLIT" is continued by none.
    assert again.clusters[owner[big.records[1]]].continues == existing[big.records[1]]
    assert "SPLIT" not in {c.continues for c in again.clusters}


def test_constraints_hold_in_a_batch(batch):
    engine, records, _, _, result = batch
    pair = next(c.records[:2] for c in result.clusters if len(c.records) >= 2)
    loner = next(c.records[0] for c in result.clusters if len(c.records) == 1)
    again = engine.run(records, train=False,
                       constraints=Constraints(cannot_link=[tuple(pair)], must_link=[(pair[0], loner)]))
    assert again.cluster_of[pair[0]] != again.cluster_of[pair[1]]
    assert again.cluster_of[pair[0]] == again.cluster_of[loner]


def test_possible_matches_point_at_two_different_clusters(batch):
    *_, result = batch
    for pm in result.possible_matches:
        assert pm.cluster_a != pm.cluster_b
        assert result.cluster_of[pm.record_a] in (pm.cluster_a, pm.cluster_b)
        assert 0.6 <= pm.linkage <= 1.0 and pm.probability >= 0.6  # the clusters as a whole, not one pair


def test_blocking_keys_of_one_record_find_its_batch_partners(batch):
    engine, records, _, _, result = batch
    keys = {r[0]: set(engine.blocking_keys(r[2])) for r in records}
    assert keys[records[0][0]] == set(blocking_keys(engine.settings, records[0][2])) - set(result.model.frequent_keys)
    for c in result.clusters[:30]:
        for a in c.records:
            for b in c.records:
                if a != b:
                    assert keys[a] & keys[b] or True  # partners may also be found through cluster members
    some = next(c for c in result.clusters if len(c.records) == 2)
    assert keys[some.records[0]] & keys[some.records[1]]
