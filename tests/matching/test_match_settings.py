"""Match settings: declarative, round-trip to dict/YAML, errors carry the path of the bad key."""

from pathlib import Path

import pytest
import yaml

from matching.settings import MatchSettings, SettingsError

ENTITIES = Path(__file__).resolve().parents[2] / "mdm" / "config" / "entities"


def minimal(**over):
    d = {
        "comparisons": [
            {"name": "name", "template": "company_name", "attribute": "name"},
            {"name": "city", "attribute": "city__normalized", "levels": [
                {"label": "null", "method": "null"},
                {"label": "exact", "method": "exact", "tf_adjust": True},
                {"label": "close", "method": "jaro_winkler", "threshold": 0.9},
                {"label": "else", "method": "else"},
            ]},
            {"name": "phone", "template": "phone", "attribute": "phone"},
        ],
        "blocking": {"passes": [{"name": "ph", "keys": [{"attribute": "phone"}]},
                                {"name": "nm", "keys": [{"attribute": "name__core", "transform": ["first_token", "metaphone"]},
                                                        {"attribute": "postcode__zip5"}]}]},
    }
    d.update(over)
    return d


def error_of(d) -> SettingsError:
    with pytest.raises(SettingsError) as exc:
        MatchSettings.from_dict(d)
    return exc.value


@pytest.mark.parametrize("entity", ["customer", "product"])
def test_the_shipped_entity_settings_round_trip(entity):
    section = yaml.safe_load((ENTITIES / f"{entity}.yaml").read_text())["matching"]
    settings = MatchSettings.from_dict(section)
    assert MatchSettings.from_dict(settings.to_dict()) == settings
    assert MatchSettings.from_yaml(settings.to_yaml()) == settings


def test_a_template_expands_into_levels_null_first_else_last():
    s = MatchSettings.from_dict(minimal())
    name = s.comparison("name")
    assert name.levels[0].is_null and name.levels[-1].is_else
    assert name.levels[1].label == "exact" and name.levels[1].tf_adjust


def test_defaults_are_filled_and_fingerprint_is_stable():
    s = MatchSettings.from_dict(minimal())
    assert s.thresholds.auto == 0.95 and s.blocking.max_block_size == 100
    assert s.fingerprint() == MatchSettings.from_dict(s.to_dict()).fingerprint()


def test_from_yaml_accepts_a_whole_entity_file():
    text = yaml.safe_dump({"code": "x", "matching": minimal()})
    assert MatchSettings.from_yaml(text) == MatchSettings.from_dict(minimal())


def test_a_bad_threshold_points_at_the_level():
    d = minimal()
    d["comparisons"][1]["levels"][2]["threshold"] = 1.5
    err = error_of(d)
    assert err.path == "comparisons[1].levels[2].threshold"
    assert "<= 1" in err.message


def test_a_missing_threshold_points_at_it():
    d = minimal()
    del d["comparisons"][1]["levels"][2]["threshold"]
    assert error_of(d).path == "comparisons[1].levels[2].threshold"


def test_an_unknown_key_is_named():
    d = minimal()
    d["comparisons"][0]["tresholds"] = 1
    err = error_of(d)
    assert err.path == "comparisons[0].tresholds" and "unknown key" in err.message


def test_an_unknown_method_lists_the_known_ones():
    d = minimal()
    d["comparisons"][1]["levels"][2]["method"] = "jarowinkler"
    err = error_of(d)
    assert err.path == "comparisons[1].levels[2].method" and "jaro_winkler" in err.message


def test_the_last_level_must_be_else():
    d = minimal()
    d["comparisons"][1]["levels"].pop()
    assert error_of(d).path == "comparisons[1].levels[2]"


def test_duplicate_comparison_names_are_refused():
    d = minimal()
    d["comparisons"][2]["name"] = "name"
    assert error_of(d).path == "comparisons[2].name"


def test_a_rule_referring_to_a_missing_level_is_refused():
    d = minimal(rules=[{"name": "r", "levels": {"city": ["exactly"]}, "weight": 3}])
    err = error_of(d)
    assert err.path == "rules[0].levels.city" and "exactly" in err.message


def test_a_rule_needs_a_weight_but_a_prior_rule_does_not():
    err = error_of(minimal(rules=[{"name": "r", "levels": {"city": ["exact"]}}]))
    assert err.path == "rules[0].weight"
    s = MatchSettings.from_dict(minimal(prior={"rules": [{"name": "r", "levels": {"city": ["exact"]}}]}))
    assert s.prior.rules[0].weight is None


def test_an_unknown_transform_points_at_the_key_part():
    d = minimal()
    d["blocking"]["passes"][1]["keys"][0]["transform"] = ["first_token", "metafone"]
    assert error_of(d).path == "blocking.passes[1].keys[0].transform[1]"


def test_thresholds_must_be_ordered():
    assert error_of(minimal(thresholds={"auto": 0.9, "review": 0.95})).path == "thresholds.review"
    assert error_of(minimal(thresholds={"auto": 0.9, "merge": 0.5})).path == "thresholds.merge"


def test_training_passes_must_exist():
    assert error_of(minimal(training={"passes": ["nope"]})).path == "training.passes[0]"


def test_one_per_source_accepts_true_false_or_unless_certain():
    for v in (True, False, "unless_certain"):
        assert MatchSettings.from_dict(minimal(clustering={"one_per_source": v})).clustering.one_per_source == v
    assert error_of(minimal(clustering={"one_per_source": "yes"})).path == "clustering.one_per_source"


def test_a_prior_rule_may_leave_out_pairs_inside_one_source():
    rule = {"name": "same_code", "levels": {"name": ["exact"]}, "within_source": False}
    settings = MatchSettings.from_dict(minimal(prior={"rules": [rule]}))
    assert settings.prior.rules[0].within_source is False
    assert MatchSettings.from_dict(settings.to_dict()).prior.rules[0].within_source is False
    assert "within_source" not in MatchSettings.from_dict(minimal(prior={"rules": [
        {"name": "same_code", "levels": {"name": ["exact"]}}]})).to_dict()["prior"]["rules"][0]
    assert error_of(minimal(prior={"rules": [dict(rule, within_source="no")]})).path == "prior.rules[0].within_source"
    # evidence rules weigh every pair they hold for; the option is the prior's only
    assert error_of(minimal(rules=[{"name": "r", "levels": {"name": ["exact"]}, "weight": 3,
                                    "within_source": False}])).path == "rules[0].within_source"


def test_referenced_attributes_name_record_attributes_not_features():
    d = minimal(features=[{"name": "name__codes", "kind": "model_numbers", "from": ["name", "description"]}])
    d["comparisons"].append({"name": "codes", "template": "model_numbers", "attribute": "name__codes"})
    s = MatchSettings.from_dict(d)
    refs = dict(s.referenced_attributes())
    assert "name__codes" not in refs.values()
    assert refs["features[0].from[1]"] == "description"
    assert refs["blocking.passes[1].keys[1].attribute"] == "postcode__zip5"


def test_a_pass_holds_fixed_the_comparisons_on_its_key_attributes():
    s = MatchSettings.from_dict(minimal())
    assert s.fixed_comparisons(s.blocking.passes[0]) == ("phone",)
    assert s.fixed_comparisons(s.blocking.passes[1]) == ("name",)


def test_explicit_fixes_override_the_default():
    d = minimal()
    d["blocking"]["passes"][0]["fixes"] = []
    s = MatchSettings.from_dict(d)
    assert s.fixed_comparisons(s.blocking.passes[0]) == ()
