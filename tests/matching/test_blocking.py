"""Blocking keys are pure per-record strings; pairs come from shared keys; frequent keys are capped."""

import numpy as np
import pytest

from matching.blocking import (
    KeyIndex,
    blocking_keys,
    generate_pairs,
    pair_completeness,
    part_values,
)
from matching.comparisons import RecordTable
from matching.settings import KeyPart, MatchSettings


def settings(passes, **over) -> MatchSettings:
    d = {"comparisons": [{"name": "n", "template": "code", "attribute": "name"}],
         "blocking": {"passes": passes, "max_block_size": over.pop("cap", 100)}}
    d.update(over)
    return MatchSettings.from_dict(d)


@pytest.mark.parametrize("transform, value, keys", [
    ([], "Acme Supply", ["Acme Supply"]),
    (["lower"], "Acme Supply", ["acme supply"]),
    (["first_token", "metaphone"], "robert smith", ["RBRT"]),
    (["soundex"], "Robert", ["R163"]),
    (["tokens"], "acme supply acme", ["acme", "supply"]),
    (["tokens", "min_length:5"], "acme supply co", ["supply"]),
    (["qgrams:3"], "abcd", ["abc", "bcd"]),
    (["prefix:3"], "62704", ["627"]),
    (["suffix:4"], "FR01051874", ["1874"]),
    (["digits"], "+1 (415) 555", ["1415555"]),
    (["sorted_tokens"], "supply acme", ["acme supply"]),
])
def test_transforms(transform, value, keys):
    assert part_values(KeyPart("a", tuple(transform)), value) == keys


def test_keys_are_pass_prefixed_strings_and_parts_combine():
    s = settings([{"name": "nz", "keys": [{"attribute": "name", "transform": ["first_token", "soundex"]},
                                          {"attribute": "zip"}]},
                  {"name": "tok", "keys": [{"attribute": "name", "transform": "tokens"}]}])
    assert blocking_keys(s, {"name": "Robert Smith", "zip": "62704"}) == ["nz:R163|62704", "tok:Robert", "tok:Smith"]


def test_a_missing_part_gives_no_key_for_that_pass():
    s = settings([{"name": "nz", "keys": [{"attribute": "name"}, {"attribute": "zip"}]}])
    assert blocking_keys(s, {"name": "Acme"}) == []


def test_set_valued_features_give_one_key_per_element():
    s = settings([{"name": "code", "keys": [{"attribute": "name__codes"}]}],
                 features=[{"name": "name__codes", "kind": "model_numbers", "from": ["name"]}])
    assert sorted(blocking_keys(s, {"name": "Sony PS-LX350H Turntable"})) == ["code:lx350h", "code:pslx350h"]


def test_a_list_repeating_a_value_gives_its_key_once():
    s = settings([{"name": "em", "keys": [{"attribute": "emails"}]}])
    assert blocking_keys(s, {"emails": ["ap@acme.com", "ap@acme.com", "sales@acme.com"]}) == [
        "em:ap@acme.com", "em:sales@acme.com"]


def test_pairs_are_records_sharing_a_key():
    s = settings([{"name": "ph", "keys": [{"attribute": "phone"}]}])
    recs = [(1, "a", {"phone": "1"}), (2, "b", {"phone": "1"}), (3, "a", {"phone": "2"}), (4, "b", {"phone": "1"})]
    cp = generate_pairs(s, RecordTable(recs))
    assert sorted(zip(cp.I.tolist(), cp.J.tolist())) == [(0, 1), (0, 3), (1, 3)]
    assert cp.stats["pairs"] == 3


def test_a_key_shared_by_too_many_records_is_skipped():
    s = settings([{"name": "city", "keys": [{"attribute": "city"}]}], cap=3)
    recs = [(i, "s", {"city": "springfield" if i < 5 else "ogden"}) for i in range(7)]
    cp = generate_pairs(s, RecordTable(recs))
    assert sorted(zip(cp.I.tolist(), cp.J.tolist())) == [(5, 6)]
    assert cp.stats["passes"]["city"]["capped_keys"] == 1
    assert cp.frequent_keys == ["city:springfield"]


def test_a_pass_can_have_its_own_cap():
    s = settings([{"name": "city", "keys": [{"attribute": "city"}], "max_block_size": 10}], cap=2)
    cp = generate_pairs(s, RecordTable([(i, "s", {"city": "x"}) for i in range(4)]))
    assert len(cp) == 6


def test_passes_are_unioned_and_remember_who_found_a_pair():
    s = settings([{"name": "ph", "keys": [{"attribute": "phone"}]}, {"name": "em", "keys": [{"attribute": "email"}]}])
    recs = [(1, "a", {"phone": "1", "email": "x"}), (2, "b", {"phone": "1", "email": "x"}), (3, "c", {"email": "x"})]
    cp = generate_pairs(s, RecordTable(recs))
    assert len(cp) == 3
    assert cp.of_pass("ph").tolist() == [0]
    assert sorted(cp.of_pass("em").tolist()) == [0, 1, 2]


def test_link_only_and_one_per_source_skip_same_source_pairs():
    recs = [(1, "a", {"phone": "1"}), (2, "a", {"phone": "1"}), (3, "b", {"phone": "1"})]
    for extra in ({"link_type": "link_only"}, {"clustering": {"one_per_source": True}}):
        cp = generate_pairs(settings([{"name": "ph", "keys": [{"attribute": "phone"}]}], **extra), RecordTable(recs))
        assert sorted(zip(cp.I.tolist(), cp.J.tolist())) == [(0, 2), (1, 2)]


def test_batch_pairs_equal_grouping_by_the_key_strings():
    s = settings([{"name": "nm", "keys": [{"attribute": "name", "transform": ["first_token", "metaphone"]}]},
                  {"name": "tok", "keys": [{"attribute": "name", "transform": ["tokens", "min_length:4"]}]}], cap=15)
    rng = np.random.default_rng(3)
    words = ["acme", "akme", "zenith", "supply", "tools", "north", "nord", "group"]
    recs = [(i, "s", {"name": " ".join(rng.choice(words, 2))}) for i in range(60)]
    cp = generate_pairs(s, RecordTable(recs))
    index = KeyIndex(max_block_size=15)
    for rid, _, attrs in recs:
        index.add(rid, blocking_keys(s, attrs))
    expected = set()
    for rid, _, attrs in recs:
        for other in index.lookup(blocking_keys(s, attrs), exclude=rid):
            expected.add((min(rid, other), max(rid, other)))
    assert expected and set(zip(cp.I.tolist(), cp.J.tolist())) == expected


def test_key_index_lookup_skips_frequent_keys():
    idx = KeyIndex(max_block_size=2)
    idx.add(1, ["p:a", "p:b"])
    idx.add(2, ["p:a"])
    idx.add(3, ["p:a", "p:c"])
    assert idx.lookup(["p:a", "p:b"], exclude=1) == set()  # p:a has three records
    assert idx.lookup(["p:c", "p:b"]) == {1, 3}
    idx.remove(3, ["p:a"])
    assert idx.lookup(["p:a"], exclude=1) == {2}


def test_pair_completeness_is_the_share_of_true_pairs_proposed():
    s = settings([{"name": "ph", "keys": [{"attribute": "phone"}]}])
    recs = [(10, "a", {"phone": "1"}), (11, "b", {"phone": "1"}), (12, "a", {"phone": "2"}), (13, "b", {"phone": "3"})]
    cp = generate_pairs(s, RecordTable(recs))
    assert pair_completeness(cp, np.array([10, 11, 12, 13]), [(10, 11), (12, 13)]) == 0.5


def test_no_shared_key_means_no_pairs():
    s = settings([{"name": "ph", "keys": [{"attribute": "phone"}]}])
    cp = generate_pairs(s, RecordTable([(1, "a", {"phone": "1"}), (2, "b", {"phone": "2"})]))
    assert len(cp) == 0 and cp.stats["pairs"] == 0


def test_a_batch_run_hands_back_the_same_keys_blocking_keys_gives_one_record_at_a_time():
    from matching.engine import MatchEngine

    settings = {
        "comparisons": [{"name": "name", "template": "company_name", "attribute": "name"}],
        "blocking": {"passes": [
            {"name": "nm", "keys": [{"attribute": "name__core", "transform": "first_token"}]},
            {"name": "tok", "keys": [{"attribute": "name__core", "transform": "tokens"}]},
        ]},
    }
    records = [(1, "a", {"name__core": "acme supply"}), (2, "b", {"name__core": "acme supplies"}),
               (3, "a", {"name__core": "bolt and nut"}), (4, "b", {}), (5, "b", {"name__core": "bolt nuts"})]
    engine = MatchEngine(settings)
    result = engine.run(records)
    from_batch: dict[int, set] = {}
    for rid, key in result.record_keys():
        from_batch.setdefault(rid, set()).add(key)
    for rid, _, attributes in records:
        assert from_batch.get(rid, set()) == set(engine.blocking_keys(attributes)), rid
