"""Comparison levels, computed column-wise for arrays of pairs: one test per attribute type."""

import datetime as dt

import numpy as np
import pytest

from matching.comparisons import RecordTable, TFTable, abbreviation_score, compute_levels
from matching.settings import Comparison, FeatureSpec


def level_of(comparison: dict, a: dict, b: dict, features=()) -> str:
    comp = Comparison.from_dict(comparison)
    table = RecordTable([(1, "x", a), (2, "y", b)], features)
    levels, _ = compute_levels(comp, table, np.array([0]), np.array([1]))
    return comp.levels[int(levels[0])].label


def tmpl(template: str, attribute: str, **options) -> dict:
    d = {"name": "c", "template": template, "attribute": attribute}
    if options:
        d["options"] = options
    return d


@pytest.mark.parametrize("a, b, level", [
    (None, "acme", "null"),
    ("acme supply", "acme supply", "exact"),
    ("acme supply", "acme suply", "jw_0.95"),
    ("acme industrial supply", "industrial supply acme", "tokens_0.9"),
    ("acme supplies", "acme sup", "jw_0.85"),
    ("northern acme supply group", "acme supply", "tokens_0.9"),
    ("acme", "zenith", "else"),
])
def test_company_name_levels(a, b, level):
    assert level_of(tmpl("company_name", "name"), {"name__core": a}, {"name__core": b}) == level


@pytest.mark.parametrize("a, b, level", [
    ({"address_line1": "12 N MAIN ST", "address_line1__number": "12", "address_line1__street": "N MAIN ST"},
     {"address_line1": "12 N MAIN ST", "address_line1__number": "12", "address_line1__street": "N MAIN ST"}, "exact"),
    ({"address_line1": "12 N MAIN ST", "address_line1__number": "12", "address_line1__street": "N MAIN ST"},
     {"address_line1": "12 N MAIN ST STE 4", "address_line1__number": "12", "address_line1__street": "N MAIN ST"},
     "number_street_close"),
    ({"address_line1": "12 N MAIN ST", "address_line1__number": "12", "address_line1__street": "N MAIN ST"},
     {"address_line1": "940 OAK AVE", "address_line1__number": "940", "address_line1__street": "OAK AVE"}, "else"),
    ({}, {"address_line1": "940 OAK AVE"}, "null"),
])
def test_address_levels(a, b, level):
    assert level_of(tmpl("address_line", "address_line1"), a, b) == level


@pytest.mark.parametrize("a, b, level", [
    ("+14155550123", "+14155550123", "exact"),
    ("+14155550123", "+14155550132", "typo"),
    ("+14155550123", "+12125550199", "else"),
    ("+14155550123", None, "null"),
])
def test_phone_levels(a, b, level):
    assert level_of(tmpl("phone", "phone"), {"phone": a}, {"phone": b}) == level


@pytest.mark.parametrize("a, b, level", [
    ("jo@acme.com", "jo@acme.com", "exact"),
    ("john.doe@acme.com", "john.doe@acme.co", "typo"),
    ("ap@acme.com", "ann@acme.com", "same_domain"),
    ("ap@acme.com", "ann@zen.com", "else"),
])
def test_email_levels(a, b, level):
    rec = lambda e: {"email": e, "email__domain": e.split("@")[1]}
    assert level_of(tmpl("email", "email"), rec(a), rec(b)) == level


@pytest.mark.parametrize("a, b, level", [
    ("62704", "62704", "exact"),
    ("62704-1234", "62704", "zip5"),
    ("62701", "62799", "area"),
    ("62704", "10001", "else"),
])
def test_postcode_levels(a, b, level):
    rec = lambda p: {"postcode": p, "postcode__zip5": p[:5]}
    assert level_of(tmpl("postcode", "postcode"), rec(a), rec(b)) == level


def test_city_and_url_levels():
    assert level_of(tmpl("city", "city"), {"city__normalized": "springfield"}, {"city__normalized": "springfeld"}) == "fuzzy"
    assert level_of(tmpl("url", "website"), {"website__domain": "acme.com"}, {"website__domain": "acme.com"}) == "exact"


def test_person_name_family_and_initial():
    a = {"c__normalized": "john q doe", "c__family": "doe", "c__given": "john"}
    b = {"c__normalized": "jane doe-smith", "c__family": "doe", "c__given": "jq"}
    assert level_of(tmpl("person_name", "c"), a, b) == "family_initial"


def test_tax_id_exact_needs_a_valid_check_digit():
    comp = tmpl("tax_id", "tax_id")
    assert level_of(comp, {"tax_id__compact": "DE:136695976"}, {"tax_id__compact": "DE:136695976"}) == "exact"
    # equal but failing the check digit: not the strong "exact" level
    assert level_of(comp, {"tax_id__compact": "DE:136695975"}, {"tax_id__compact": "DE:136695975"}) == "typo"


def test_gtin_levels():
    comp = tmpl("gtin", "gtin")
    assert level_of(comp, {"gtin": "04006381333931"}, {"gtin": "04006381333931"}) == "exact"
    assert level_of(comp, {"gtin": "04006381333931"}, {"gtin": "00012345678905"}) == "else"


def test_mpn_has_a_cut_prefix_level_but_no_typo_level():
    comp = tmpl("mpn", "mpn")
    assert level_of(comp, {"mpn__compact": "FR01051874"}, {"mpn__compact": "1051874"}) == "suffix"
    assert level_of(comp, {"mpn__compact": "SEN104729F"}, {"mpn__compact": "SEN104729G"}) == "else"


@pytest.mark.parametrize("a, b, level", [
    ("10.00", "10.00", "equal"), (100, 104, "close"), (100.0, 120.0, "near"), (100, 300, "else"), (None, 5, "null"),
])
def test_numeric_levels_on_relative_difference(a, b, level):
    assert level_of(tmpl("money", "price"), {"price": a}, {"price": b}) == level


def test_date_levels_on_days_apart():
    comp = tmpl("date", "d")
    assert level_of(comp, {"d": dt.date(2024, 1, 1)}, {"d": "2024-01-01"}) == "exact"
    assert level_of(comp, {"d": "2024-01-01"}, {"d": "2024-01-20"}) == "close"
    assert level_of(comp, {"d": "2024-01-01"}, {"d": "2026-01-01"}) == "else"


def test_model_number_sets_from_free_text():
    features = [FeatureSpec("name__codes", "model_numbers", ("name",)),
                FeatureSpec("name__bases", "model_bases", ("name",))]
    comp = tmpl("model_numbers", "name__codes", bases="name__bases")
    a = {"name": "Sony Turntable - PSLX350H"}
    assert level_of(comp, a, {"name": "Sony PS-LX350H Turntable"}, features) == "same_code"
    assert level_of(comp, {"name": "Speakers - SRSA212BK"}, {"name": "Speakers - SRSA212/BLK"}, features) == "same_base"
    assert level_of(comp, {"name": "GE Antenna - AV23292"}, {"name": "GE Antenna 23292"}, features) == "contains"
    assert level_of(comp, a, {"name": "Sony Camera - DSCW120"}, features) == "else"
    assert level_of(comp, a, {"name": "Sony turntable"}, features) == "null"


@pytest.mark.parametrize("a, b, score", [
    # an ERP abbreviation against the title cut off at 30 characters by the WMS
    ("hivis sfty vst ansi cl 3 lime sol sz 3xl", "hi visibility safety vest ans", 1.0),
    # words run together on either side: "sd" for "self drilling", "cutres" for "cut resistant"
    ("sd scr ph flt hd 410 ss", "self drilling screw phillips", 1.0),
    ("cutres glv ansi a2 latex plm", "cut resistant gloves ansi a2 latex palm", 1.0),
    # numbers agree exactly or not at all
    ("ppr twl rl 800 ft", "paper towel roll 600 ft", 0.8),
    ("sony bravia lcd tv", "samsung led monitor", 0.0),
    # fewer than three words: too little to go on
    ("ppr twl", "paper towel", 0.0),
])
def test_abbreviation_score_counts_words_written_in_full_or_abbreviated(a, b, score):
    assert abbreviation_score(a, b) == pytest.approx(score)
    assert abbreviation_score(b, a) == pytest.approx(score)


def test_abbreviated_level_catches_what_token_similarity_misses():
    comp = {"name": "name", "attribute": "t", "levels": [
        {"label": "null", "method": "null"},
        {"label": "tokens_0.5", "method": "token_set", "threshold": 0.5},
        {"label": "abbreviated", "method": "abbreviation", "threshold": 0.9},
        {"label": "else", "method": "else"}]}
    erp = {"t": "mp grs fd gr h1 nlgi 2 120 lb keg"}
    assert level_of(comp, erp, {"t": "multi purpose grease food gra"}) == "abbreviated"
    assert level_of(comp, erp, {"t": "multi purpose cleaner glass"}) == "else"


def test_tf_frequency_is_reported_for_tf_levels_only():
    comp = Comparison.from_dict(tmpl("city", "city"))
    recs = [(i, "s", {"city__normalized": c}) for i, c in enumerate(["springfield"] * 3 + ["ogden", "ogdn"])]
    table = RecordTable(recs)
    tf = {"city__normalized": table.column("city__normalized").count_table(100)}
    levels, freq = compute_levels(comp, table, np.array([0, 3]), np.array([1, 4]), tf)
    assert [comp.levels[x].label for x in levels] == ["exact", "fuzzy"]
    assert freq[0] == pytest.approx(3 / 5) and np.isnan(freq[1])


def test_a_common_token_weighs_less_in_weighted_jaccard():
    comp = Comparison.from_dict({"name": "w", "attribute": "t", "levels": [
        {"label": "null", "method": "null"},
        {"label": "half", "method": "weighted_jaccard", "threshold": 0.4},
        {"label": "else", "method": "else"}]})
    recs = [(i, "s", {"t": ("supply", f"word{i}")}) for i in range(20)]
    recs += [(100, "s", {"t": ("zebra", "supply")}), (101, "s", {"t": ("zebra", "tools")})]
    table = RecordTable(recs)
    levels, _ = compute_levels(comp, table, np.array([0, 20]), np.array([1, 21]))
    # sharing the common "supply" is not enough; sharing the rare "zebra" is
    assert [comp.levels[x].label for x in levels] == ["else", "half"]


def test_tf_table_keeps_the_most_frequent_values_and_a_default():
    t = TFTable.from_counts(["a", "b", "c", "d"], np.array([10, 1, 5, 1]), 17, size=2)
    assert set(t.counts) == {"a", "c"} and t.default == 1.0
    assert t.freq("a") == pytest.approx(10 / 17) and t.freq("zzz") == pytest.approx(1 / 17)
    assert TFTable.from_dict(t.to_dict()).counts == t.counts


def test_many_pairs_at_once_match_pair_by_pair():
    comp = Comparison.from_dict(tmpl("company_name", "name"))
    names = ["acme supply", "acme suply", "zenith tools", "zenith tool", "acme", None] * 40
    table = RecordTable([(i, "s", {"name__core": n}) for i, n in enumerate(names)])
    rng = np.random.default_rng(0)
    I, J = rng.integers(0, len(names), 300), rng.integers(0, len(names), 300)
    batch, _ = compute_levels(comp, table, I, J)
    single = [compute_levels(comp, table, np.array([i]), np.array([j]))[0][0] for i, j in zip(I, J)]
    assert batch.tolist() == single
