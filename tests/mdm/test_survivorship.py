"""Survivorship engine: rule chains, lineage, overrides and conflicts. No database."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.survivorship import (
    RULES,
    AttributeRule,
    Conflict,
    Contribution,
    Override,
    compile_rules,
    compute_golden,
    diff_values,
    validate_rule_chain,
    validate_survivorship_config,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ENTITIES = Path(__file__).resolve().parents[2] / "mdm" / "config" / "entities"


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def member(record_id, source, *, updated=0, received=None, issues=(), **attributes) -> Contribution:
    """A member record; ``updated``/``received`` are days after T0, ``updated=None`` means unknown."""
    return Contribution(
        record_id=record_id,
        source=source,
        source_id=f"{source.upper()}-{record_id}",
        attributes=attributes,
        issues=list(issues),
        updated_at=None if updated is None else at(updated),
        received_at=at(received if received is not None else (updated or 0)),
    )


def invalid(attribute, value, code="invalid"):
    return {"attribute": attribute, "code": code, "message": f"{value!r} rejected", "value": value}


def rules_for(chain, attr_type="text", name="x", critical=False, default=None):
    config = {"attributes": [{"name": name, "type": attr_type}],
              "survivorship": {"attributes": {name: chain}, "critical": [name] if critical else []}}
    if default is not None:
        config["survivorship"] = {"default": default, "critical": [name] if critical else []}
    return compile_rules(config)


def golden(chain, members, attr_type="text", **kwargs):
    """Lineage of the single attribute ``x`` under ``chain``."""
    result = compute_golden(rules_for(chain, attr_type), members, **kwargs)
    return result.lineage.get("x")


PRIORITY = {"rule": "source_priority", "sources": ["erp", "crm"]}


# --- compile_rules -------------------------------------------------------------

def test_every_declared_attribute_gets_its_own_chain_else_the_default_else_most_recent():
    config = {
        "attributes": [{"name": "name", "type": "company_name"}, {"name": "phone", "type": "phone"},
                       {"name": "parent_id", "type": "reference", "references": "customer"}],
        "survivorship": {"default": [{"rule": "valid_only"}, "most_recent"],
                         "attributes": {"phone": [{"rule": "aggregate", "limit": 3}]}},
    }
    rules = compile_rules(config)
    assert list(rules) == ["name", "phone", "parent_id"]
    assert rules["name"].chain == ({"rule": "valid_only"}, {"rule": "most_recent"})
    assert rules["phone"].chain == ({"rule": "aggregate", "limit": 3},)
    assert rules["parent_id"].attr_type == "reference"
    assert rules["parent_id"].chain == rules["name"].chain

    bare = compile_rules({"attributes": [{"name": "city", "type": "city"}]})
    assert bare["city"] == AttributeRule("city", "city", ({"rule": "most_recent"},), False)


def test_compile_rules_marks_critical_attributes():
    rules = compile_rules({"attributes": [{"name": "a", "type": "money"}, {"name": "b", "type": "code"}],
                           "survivorship": {"critical": ["a"]}})
    assert rules["a"].critical and not rules["b"].critical


def test_compile_rules_refuses_an_invalid_section():
    with pytest.raises(ValueError, match="unknown rule 'newest'"):
        compile_rules({"attributes": [{"name": "a", "type": "text"}],
                       "survivorship": {"default": [{"rule": "newest"}]}})


def test_an_attribute_rule_built_by_hand_is_checked():
    with pytest.raises(ValueError, match="source_priority needs a list"):
        AttributeRule("a", "text", ({"rule": "source_priority"},))


@pytest.mark.parametrize("filename", ["customer.yaml", "product.yaml", "price.yaml"])
def test_the_shipped_entity_configs_compile(filename):
    config = yaml.safe_load((ENTITIES / filename).read_text())
    rules = compile_rules(config)
    assert set(rules) == {a["name"] for a in config["attributes"]}
    assert {name for name, rule in rules.items() if rule.critical} == set(config["survivorship"]["critical"])


# --- validate_survivorship_config ----------------------------------------------

NAMES = {"name", "phone", "credit_limit"}


def test_a_valid_section_has_no_errors():
    section = {"default": [{"rule": "valid_only"}, {"rule": "source_priority", "sources": ["erp"]}, "most_recent"],
               "attributes": {"phone": [{"rule": "aggregate", "limit": 2}]},
               "critical": ["credit_limit"], "price_tolerance": 0.05}
    assert validate_survivorship_config(section, NAMES) == []


@pytest.mark.parametrize(("section", "path", "fragment"), [
    (["most_recent"], "", "must be a mapping"),
    ({"defaults": []}, "defaults", "unknown key"),
    ({"default": []}, "default", "non-empty list"),
    ({"default": "most_recent"}, "default", "non-empty list"),
    ({"default": [{"sources": ["erp"]}]}, "default[0]", "'rule' key"),
    ({"default": [{"rule": "newest"}]}, "default[0].rule", "unknown rule 'newest'"),
    ({"default": [{"rule": "most_recent", "limit": 2}]}, "default[0].limit", "takes no parameter"),
    ({"default": [{"rule": "source_priority"}]}, "default[0].sources", "list of source system codes"),
    ({"default": [{"rule": "source_priority", "sources": "erp"}]}, "default[0].sources", "list of source"),
    ({"default": [{"rule": "source_priority", "sources": []}]}, "default[0].sources", "list of source"),
    ({"default": [{"rule": "aggregate", "limit": 0}]}, "default[0].limit", "positive integer"),
    ({"attributes": ["phone"]}, "attributes", "mapping of attribute name"),
    ({"attributes": {"fax": ["most_recent"]}}, "attributes.fax", "unknown attribute 'fax'"),
    ({"attributes": {"phone": [{"rule": "longest", "sources": ["erp"]}]}}, "attributes.phone[0].sources",
     "takes no parameter"),
    ({"critical": "credit_limit"}, "critical", "list of attribute names"),
    ({"critical": ["name", "fax"]}, "critical[1]", "unknown attribute 'fax'"),
    ({"price_tolerance": 5}, "price_tolerance", "fraction"),
    ({"price_tolerance": "5%"}, "price_tolerance", "fraction"),
])
def test_validation_names_the_path_of_each_problem(section, path, fragment):
    errors = validate_survivorship_config(section, NAMES)
    assert any(p == path and fragment in message for p, message in errors), errors


def test_validation_reports_every_problem_not_just_the_first():
    errors = validate_survivorship_config({"default": [{"rule": "newest"}, {"rule": "aggregate", "limit": -1}],
                                           "critical": ["fax"]}, NAMES)
    assert [p for p, _ in errors] == ["default[0].rule", "default[1].limit", "critical[0]"]


def test_validate_rule_chain_accepts_bare_rule_names():
    assert validate_rule_chain(["valid_only", "most_recent"], "default") == []


def test_every_catalogued_rule_is_implemented():
    members = [member(1, "erp", x="a"), member(2, "crm", x="b")]
    for rule in RULES:
        step = {"rule": rule, "sources": ["erp"]} if rule == "source_priority" else {"rule": rule}
        assert golden([step], members) is not None


# --- candidates and the simple cases --------------------------------------------

def test_a_single_candidate_survives_as_the_only_value():
    lineage = golden([PRIORITY], [member(1, "crm", x="Acme"), member(2, "erp")])
    assert lineage == {"value": "Acme", "record_id": 1, "source": "crm", "source_id": "CRM-1",
                       "rule": "only_value", "valid": True, "competing": [], "override": None}


def test_attributes_nobody_has_are_left_out_and_match_parts_are_ignored():
    rules = compile_rules({"attributes": [{"name": "name", "type": "text"}, {"name": "city", "type": "city"}]})
    result = compute_golden(rules, [member(1, "erp", name="Acme", name__core="acme", city="")])
    assert result.values == {"name": "Acme"}
    assert set(result.lineage) == {"name"}


def test_no_members_and_no_overrides_give_an_empty_golden_record():
    result = compute_golden(rules_for(["most_recent"]), [])
    assert (result.values, result.lineage, result.conflicts) == ({}, {}, [])


# --- source_priority ------------------------------------------------------------

def test_source_priority_keeps_the_best_ranked_source_present():
    lineage = golden([{"rule": "source_priority", "sources": ["erp", "crm", "ecom"]}],
                     [member(1, "ecom", x="Web"), member(2, "crm", x="Crm")])
    assert (lineage["value"], lineage["source"], lineage["rule"]) == ("Crm", "crm", "source_priority")
    assert lineage["competing"] == [{"value": "Web", "source": "ecom", "source_id": "ECOM-1", "record_id": 1,
                                     "valid": True, "eliminated_by": "source_priority"}]


def test_source_priority_falls_through_when_no_listed_source_has_a_value():
    lineage = golden([{"rule": "source_priority", "sources": ["erp"]}, {"rule": "most_recent"}],
                     [member(1, "wms", updated=5, x="Old"), member(2, "ecom", updated=9, x="New")])
    assert (lineage["value"], lineage["rule"]) == ("New", "most_recent")
    assert lineage["competing"][0]["eliminated_by"] == "most_recent"


def test_unlisted_sources_lose_to_any_listed_one():
    lineage = golden([{"rule": "source_priority", "sources": ["crm"]}],
                     [member(1, "erp", x="Erp"), member(2, "crm", x="Crm")])
    assert lineage["value"] == "Crm"


# --- valid_only and invalid raw values ------------------------------------------

def test_a_rejected_raw_value_competes_as_an_invalid_candidate():
    members = [member(1, "erp", issues=[invalid("x", "not@valid")]), member(2, "crm", x="ok@example.com")]
    lineage = golden([PRIORITY], members)
    assert (lineage["value"], lineage["valid"]) == ("not@valid", False)
    assert lineage["competing"][0]["value"] == "ok@example.com"


def test_valid_only_drops_invalid_raw_values():
    members = [member(1, "erp", issues=[invalid("x", "not@valid")]), member(2, "crm", x="ok@example.com")]
    lineage = golden([{"rule": "valid_only"}, PRIORITY], members)
    assert (lineage["value"], lineage["valid"], lineage["rule"]) == ("ok@example.com", True, "valid_only")
    assert lineage["competing"] == [{"value": "not@valid", "source": "erp", "source_id": "ERP-1", "record_id": 1,
                                     "valid": False, "eliminated_by": "valid_only"}]


def test_a_rule_that_would_eliminate_every_candidate_keeps_them_all():
    members = [member(1, "erp", updated=1, issues=[invalid("x", "bad-1")]),
               member(2, "crm", updated=2, issues=[invalid("x", "bad-2")])]
    lineage = golden([{"rule": "valid_only"}, {"rule": "most_recent"}], members)
    assert (lineage["value"], lineage["valid"], lineage["rule"]) == ("bad-2", False, "most_recent")


def test_an_issue_without_a_raw_value_is_no_candidate():
    lineage = golden([PRIORITY], [member(1, "erp", issues=[{"attribute": "x", "code": "required",
                                                            "message": "missing", "value": None}])])
    assert lineage is None


def test_an_invalid_value_that_is_all_there_is_becomes_the_golden_value_flagged_invalid():
    result = compute_golden(rules_for([{"rule": "valid_only"}]), [member(1, "erp", issues=[invalid("x", "bad")])])
    assert result.values == {"x": "bad"}
    assert result.lineage["x"]["valid"] is False


# --- most_recent ----------------------------------------------------------------

def test_most_recent_compares_the_sources_own_updated_at():
    members = [member(1, "erp", updated=9, received=1, x="Edited later"),
               member(2, "crm", updated=3, received=20, x="Arrived later")]
    assert golden(["most_recent"], members)["value"] == "Edited later"


def test_most_recent_uses_received_at_for_everyone_when_any_updated_at_is_missing():
    members = [member(1, "erp", updated=9, received=1, x="Has updated_at"),
               member(2, "crm", updated=None, received=20, x="Arrived later")]
    lineage = golden(["most_recent"], members)
    assert (lineage["value"], lineage["rule"]) == ("Arrived later", "most_recent")


def test_equally_recent_candidates_stay_tied_for_the_next_rule():
    members = [member(1, "erp", updated=5, x="Short"), member(2, "crm", updated=5, x="Much longer"),
               member(3, "ecom", updated=1, x="The longest value of all")]
    lineage = golden(["most_recent", "longest"], members)
    assert (lineage["value"], lineage["rule"]) == ("Much longer", "longest")
    assert [(c["record_id"], c["eliminated_by"]) for c in lineage["competing"]] == [(1, "longest"),
                                                                                    (3, "most_recent")]


# --- most_frequent, most_complete, longest --------------------------------------

def test_most_frequent_counts_strings_case_insensitively():
    members = [member(1, "erp", x="ACME"), member(2, "crm", x=" acme "), member(3, "ecom", x="Apex"),
               member(4, "wms", x="Apex Ltd")]
    lineage = golden(["most_frequent"], members)
    assert lineage["value"] in {"ACME", " acme "}
    assert lineage["rule"] == "most_frequent"
    assert {c["value"]: c["eliminated_by"] for c in lineage["competing"]}["Apex"] == "most_frequent"


def test_most_frequent_compares_money_numerically():
    members = [member(1, "erp", x="100.00"), member(2, "crm", x="100"), member(3, "ecom", x="90")]
    assert golden(["most_frequent"], members, attr_type="money")["value"] in {"100.00", "100"}


@pytest.mark.parametrize("rule", ["most_complete", "longest"])
def test_the_longest_string_is_the_most_complete(rule):
    members = [member(1, "erp", x="Acme"), member(2, "crm", x="Acme Supply Co.  "), member(3, "ecom", x="Acme Inc")]
    lineage = golden([rule], members)
    assert (lineage["value"], lineage["rule"]) == ("Acme Supply Co.  ", rule)


def test_the_most_complete_mapping_has_the_most_filled_members():
    members = [member(1, "erp", x={"street": "1 Main St", "city": "", "zip": None, "note": "a very long note"}),
               member(2, "crm", x={"street": "1 Main", "city": "Boston", "zip": "02134"})]
    assert golden(["most_complete"], members)["record_id"] == 2


# --- minimum / maximum ----------------------------------------------------------

def test_maximum_compares_decimal_strings_as_numbers():
    members = [member(1, "erp", x="9.50"), member(2, "crm", x="10.00"), member(3, "ecom", x="100")]
    assert golden(["maximum"], members, attr_type="money")["value"] == "100"
    assert golden(["minimum"], members, attr_type="money")["value"] == "9.50"


def test_minimum_compares_iso_dates_in_date_order():
    members = [member(1, "erp", x="2024-03-01"), member(2, "crm", x="2023-12-31"), member(3, "ecom", x="2024-01-15")]
    assert golden(["minimum"], members, attr_type="date")["value"] == "2023-12-31"
    assert golden(["maximum"], members, attr_type="date")["value"] == "2024-03-01"


def test_minimum_falls_back_to_string_order_when_not_every_value_is_a_number():
    members = [member(1, "erp", x="B-10"), member(2, "crm", x="9"), member(3, "ecom", x="A-2")]
    assert golden(["minimum"], members, attr_type="code")["value"] == "9"
    assert golden(["maximum"], members, attr_type="code")["value"] == "B-10"


def test_numerically_equal_maxima_are_one_value():
    members = [member(1, "erp", updated=1, x="10"), member(2, "crm", updated=2, x="10.0")]
    lineage = golden(["maximum"], members, attr_type="decimal")
    # Numerically one value, so the maximum decided; recency only picks which record stands for it.
    assert (lineage["value"], lineage["rule"]) == ("10.0", "only_value")


# --- aggregate ------------------------------------------------------------------

def test_aggregate_lists_every_distinct_value_with_its_sources_most_frequent_first():
    members = [member(1, "erp", updated=1, x="+14155550100"), member(2, "crm", updated=9, x="+14155550199"),
               member(3, "ecom", updated=2, x="+14155550100"), member(4, "wms", updated=5, x="+14155550123")]
    lineage = golden([{"rule": "aggregate"}], members, attr_type="phone")
    assert lineage["rule"] == "aggregate"
    assert lineage["record_id"] is None
    assert lineage["value"] == [
        {"value": "+14155550100", "sources": ["ecom", "erp"], "record_ids": [1, 3]},
        {"value": "+14155550199", "sources": ["crm"], "record_ids": [2]},
        {"value": "+14155550123", "sources": ["wms"], "record_ids": [4]},
    ]


def test_aggregate_runs_after_earlier_rules_and_cuts_at_its_limit():
    members = [member(1, "erp", updated=1, x="a@x.com"), member(2, "crm", updated=3, x="b@x.com"),
               member(3, "crm", updated=2, x="c@x.com"), member(4, "ecom", issues=[invalid("x", "bad@")])]
    lineage = golden([{"rule": "valid_only"}, {"rule": "aggregate", "limit": 2}], members, attr_type="email")
    assert [entry["value"] for entry in lineage["value"]] == ["b@x.com", "c@x.com"]
    assert [(c["value"], c["eliminated_by"]) for c in lineage["competing"]] == [("a@x.com", "aggregate"),
                                                                                ("bad@", "valid_only")]


def test_aggregate_of_a_single_value_is_still_a_list():
    result = compute_golden(rules_for([{"rule": "aggregate"}]), [member(1, "erp", x="only")])
    assert result.values == {"x": [{"value": "only", "sources": ["erp"], "record_ids": [1]}]}


def test_aggregate_merges_spelling_variants_under_the_most_recent_spelling():
    members = [member(1, "erp", updated=1, x="ACME"), member(2, "crm", updated=4, x="Acme")]
    assert golden([{"rule": "aggregate"}], members)["value"] == [
        {"value": "Acme", "sources": ["crm", "erp"], "record_ids": [1, 2]}]


# --- tie-break and the deciding rule --------------------------------------------

def test_distinct_values_left_after_the_chain_go_to_the_most_recent():
    members = [member(1, "erp", updated=1, x="Old"), member(2, "erp", updated=7, x="New")]
    lineage = golden([PRIORITY], members)
    assert (lineage["value"], lineage["rule"]) == ("New", "tie_break")
    assert lineage["competing"][0]["eliminated_by"] == "tie_break"


def test_a_tie_in_recency_goes_to_the_lowest_record_id():
    members = [member(8, "erp", updated=3, x="Eight"), member(5, "erp", updated=3, x="Five")]
    lineage = golden([PRIORITY], members)
    assert (lineage["value"], lineage["record_id"], lineage["rule"]) == ("Five", 5, "tie_break")


def test_identical_values_are_decided_by_the_last_rule_that_narrowed():
    members = [member(1, "erp", updated=1, x="Acme"), member(2, "erp", updated=2, x="ACME"),
               member(3, "crm", x="Other")]
    lineage = golden([PRIORITY, "longest"], members)
    assert (lineage["value"], lineage["rule"]) == ("ACME", "source_priority")
    assert [(c["record_id"], c["eliminated_by"]) for c in lineage["competing"]] == [(1, "tie_break"),
                                                                                    (3, "source_priority")]


def test_members_that_all_agree_need_no_rule():
    members = [member(1, "erp", updated=1, x="USD"), member(2, "crm", updated=1, x="USD")]
    assert golden(["most_recent"], members)["rule"] == "only_value"


def test_competing_lists_every_other_candidate_runner_up_first():
    members = [member(1, "ecom", updated=9, x="Web"), member(2, "erp", updated=1, x="Erp old"),
               member(3, "erp", updated=5, x="Erp new"), member(4, "crm", issues=[invalid("x", "??")])]
    lineage = golden([{"rule": "valid_only"}, PRIORITY, "most_recent"], members)
    assert lineage["value"] == "Erp new"
    assert [(c["value"], c["eliminated_by"]) for c in lineage["competing"]] == [
        ("Erp old", "most_recent"), ("Web", "source_priority"), ("??", "valid_only")]


# --- overrides ------------------------------------------------------------------

def test_an_override_wins_and_shows_what_the_rules_would_have_chosen():
    rules = rules_for([PRIORITY])
    override = Override("Acme Corporation", "legal name per contract", "jdoe", at(30))
    result = compute_golden(rules, [member(1, "erp", x="Acme Corp"), member(2, "crm", x="ACME")], {"x": override})
    lineage = result.lineage["x"]
    assert result.values == {"x": "Acme Corporation"}
    assert (lineage["rule"], lineage["record_id"], lineage["source"]) == ("override", None, None)
    assert lineage["override"] == {
        "value": "Acme Corporation", "reason": "legal name per contract", "by": "jdoe",
        "at": "2024-01-31T00:00:00+00:00", "computed": "Acme Corp",
        "computed_by": {"rule": "source_priority", "record_id": 1, "source": "erp", "source_id": "ERP-1"},
    }
    assert [(c["value"], c["eliminated_by"]) for c in lineage["competing"]] == [("Acme Corp", "override"),
                                                                                ("ACME", "source_priority")]


def test_an_override_sticks_when_the_sources_change_while_the_computed_value_follows_them():
    rules = rules_for([PRIORITY])
    override = {"x": Override("Steward value", "checked by phone", "jdoe", at(30))}
    before = compute_golden(rules, [member(1, "erp", x="Erp v1")], override)
    after = compute_golden(rules, [member(1, "erp", updated=40, x="Erp v2"), member(9, "crm", x="Crm")], override)
    assert before.values == after.values == {"x": "Steward value"}
    assert after.lineage["x"]["override"]["computed"] == "Erp v2"
    cleared = compute_golden(rules, [member(1, "erp", updated=40, x="Erp v2")], {})
    assert cleared.values == {"x": "Erp v2"}


def test_an_override_supplies_a_value_no_source_has():
    result = compute_golden(rules_for(["most_recent"]), [member(1, "erp")], {"x": Override("set", "r", "u", T0)})
    assert result.values == {"x": "set"}
    assert result.lineage["x"]["override"]["computed"] is None
    assert result.lineage["x"]["competing"] == []


def test_an_override_of_an_undeclared_attribute_is_ignored():
    result = compute_golden(rules_for(["most_recent"]), [member(1, "erp", x="a")],
                            {"gone": Override("v", "r", "u", T0)})
    assert set(result.lineage) == {"x"}


# --- conflicts on critical attributes -------------------------------------------

CUSTOMER = yaml.safe_load((ENTITIES / "customer.yaml").read_text())
CUSTOMER_RULES = compile_rules(CUSTOMER)


def test_trusted_sources_disagreeing_on_a_critical_attribute_is_a_conflict_and_still_gives_a_value():
    members = [member(1, "erp", updated=1, payment_terms="NET30"), member(2, "crm", updated=2, payment_terms="NET60")]
    result = compute_golden(CUSTOMER_RULES, members)
    assert result.values["payment_terms"] == "NET30"
    [conflict] = result.conflicts
    assert conflict.attribute == "payment_terms"
    assert conflict.values == [
        {"value": "NET30", "source": "erp", "source_id": "ERP-1", "record_id": 1,
         "updated_at": "2024-01-02T00:00:00+00:00"},
        {"value": "NET60", "source": "crm", "source_id": "CRM-2", "record_id": 2,
         "updated_at": "2024-01-03T00:00:00+00:00"},
    ]


def test_only_trusted_sources_can_conflict():
    # credit_limit trusts only erp (its first source_priority rule).
    disagree_untrusted = [member(1, "erp", credit_limit="5000.00"), member(2, "crm", credit_limit="9000.00")]
    assert compute_golden(CUSTOMER_RULES, disagree_untrusted).conflicts == []
    two_erp_records = [member(1, "erp", credit_limit="5000.00"), member(2, "erp", credit_limit="9000.00")]
    [conflict] = compute_golden(CUSTOMER_RULES, two_erp_records).conflicts
    assert conflict.attribute == "credit_limit"


def test_without_source_priority_every_source_is_trusted():
    rules = compile_rules({"attributes": [{"name": "gtin", "type": "gtin"}],
                           "survivorship": {"default": ["most_recent"], "critical": ["gtin"]}})
    members = [member(1, "wms", gtin="00012345678905"), member(2, "ecom", gtin="00012345678912")]
    assert [c.attribute for c in compute_golden(rules, members).conflicts] == ["gtin"]


def test_agreement_up_to_case_or_number_format_is_no_conflict():
    members = [member(1, "erp", payment_terms="net30", credit_limit="5000"),
               member(2, "crm", payment_terms="NET30 "), member(3, "erp", credit_limit="5000.00")]
    assert compute_golden(CUSTOMER_RULES, members).conflicts == []


def test_invalid_values_do_not_conflict():
    members = [member(1, "erp", tax_id="DE123456789"), member(2, "crm", issues=[invalid("tax_id", "DE12")])]
    assert compute_golden(CUSTOMER_RULES, members).conflicts == []


def test_money_within_the_price_tolerance_is_no_conflict():
    # The shipped price type compares prices per base unit (mdm.services.prices);
    # the engine's own money tolerance still serves any critical money attribute.
    config = yaml.safe_load((ENTITIES / "price.yaml").read_text())
    config["survivorship"]["critical"] = ["unit_price"]
    rules = compile_rules(config)
    members = [member(1, "erp", unit_price="100.00"), member(2, "crm", unit_price="104.50")]
    assert compute_golden(rules, members, price_tolerance=0.05).conflicts == []
    assert len(compute_golden(rules, members).conflicts) == 1
    far_apart = [member(1, "erp", unit_price="100.00"), member(2, "crm", unit_price="106.00")]
    assert len(compute_golden(rules, far_apart, price_tolerance=0.05).conflicts) == 1


def test_the_price_tolerance_does_not_blur_other_quantities():
    rules = compile_rules(yaml.safe_load((ENTITIES / "product.yaml").read_text()))
    members = [member(1, "wms", pack_qty="12"), member(2, "erp", pack_qty="12.5")]
    assert [c.attribute for c in compute_golden(rules, members, price_tolerance=0.05).conflicts] == ["pack_qty"]


def test_a_steward_override_resolves_the_conflict():
    members = [member(1, "erp", payment_terms="NET30"), member(2, "crm", payment_terms="NET60")]
    result = compute_golden(CUSTOMER_RULES, members, {"payment_terms": Override("NET45", "agreed", "jdoe", T0)})
    assert result.conflicts == []
    assert result.values["payment_terms"] == "NET45"


def test_the_conflict_key_is_stable_across_recomputes_and_tells_conflicts_apart():
    def key(*members):
        [conflict] = compute_golden(CUSTOMER_RULES, list(members)).conflicts
        return conflict.key

    first = key(member(1, "erp", updated=1, payment_terms="NET30"), member(2, "crm", updated=2, payment_terms="NET60"))
    again = key(member(7, "crm", updated=9, payment_terms="net60"), member(3, "erp", updated=5, payment_terms="NET30"))
    other = key(member(1, "erp", payment_terms="NET30"), member(2, "crm", payment_terms="NET90"))
    assert first == again != other
    assert len(first) == 64 and int(first, 16) >= 0


# --- lineage and diff -----------------------------------------------------------

def test_the_whole_result_is_json_serialisable():
    members = [member(1, "erp", updated=1, name="Acme", phone="+1", credit_limit="10"),
               member(2, "crm", updated=None, received=3, name="Acme Inc", phone="+2", payment_terms="NET30",
                      issues=[invalid("email", "x@")])]
    result = compute_golden(CUSTOMER_RULES, members, {"status": Override("ACTIVE", "r", "u", T0)})
    json.dumps(result.lineage)
    json.dumps(result.values)
    assert isinstance(result.conflicts, list) and all(isinstance(c, Conflict) for c in result.conflicts)


def test_diff_values_reports_only_changed_attributes():
    before = {"name": "Acme", "city": "Boston", "phone": [{"value": "+1"}], "fax": None}
    after = {"name": "Acme", "city": "Cambridge", "phone": [{"value": "+1"}], "email": "a@x.com"}
    assert diff_values(before, after) == {"city": ("Boston", "Cambridge"), "email": (None, "a@x.com")}
    assert diff_values(after, after) == {}
    assert list(diff_values({"b": 1, "a": 1}, {})) == ["a", "b"]


# --- determinism ----------------------------------------------------------------

PROPERTY_RULES = compile_rules({
    "attributes": [{"name": n, "type": t} for n, t in [
        ("a", "text"), ("b", "money"), ("c", "code"), ("d", "phone"), ("e", "text"), ("f", "decimal"),
        ("g", "text")]],
    "survivorship": {
        "default": [{"rule": "valid_only"}, {"rule": "source_priority", "sources": ["erp", "crm"]}, "most_recent"],
        "attributes": {"b": ["maximum"], "c": ["most_frequent"], "d": [{"rule": "aggregate", "limit": 2}],
                       "e": ["longest"], "f": ["minimum", "most_recent"], "g": ["most_recent"]},
        "critical": ["a", "b", "c"],
    },
})
VALUES = {"a": ["Acme", "ACME", "Apex", " acme"], "b": ["100", "100.00", "99.5", "104"],
          "c": ["X", "Y", "x"], "d": ["+1", "+2", "+3"], "e": ["ab", "abc", "xyz", "AB"],
          "f": ["1", "1.0", "2"], "g": ["p", "q"]}
TIMES = [None, at(1), at(2)]


@st.composite
def member_lists(draw):
    ids = draw(st.lists(st.integers(1, 50), min_size=1, max_size=6, unique=True))
    members = []
    for record_id in ids:
        attributes, issues = {}, []
        for name, choices in VALUES.items():
            kind = draw(st.sampled_from(["value", "value", "missing", "invalid"]))
            if kind == "value":
                attributes[name] = draw(st.sampled_from(choices))
            elif kind == "invalid":
                issues.append(invalid(name, draw(st.sampled_from(choices)) + "!"))
        members.append(Contribution(record_id, draw(st.sampled_from(["erp", "crm", "ecom", "wms"])),
                                    f"S{record_id}", attributes, issues,
                                    draw(st.sampled_from(TIMES)), draw(st.sampled_from(TIMES[1:]))))
    return members


@settings(max_examples=300, deadline=None)
@given(members=member_lists(), data=st.data())
def test_the_result_does_not_depend_on_the_order_of_the_members(members, data):
    shuffled = data.draw(st.permutations(members))
    overrides = {"g": Override("o", "r", "u", T0)} if data.draw(st.booleans()) else None
    price_tolerance = data.draw(st.sampled_from([0.0, 0.05]))
    assert compute_golden(PROPERTY_RULES, shuffled, overrides, price_tolerance=price_tolerance) == \
        compute_golden(PROPERTY_RULES, members, overrides, price_tolerance=price_tolerance)


@settings(max_examples=200, deadline=None)
@given(members=member_lists())
def test_a_chosen_value_always_comes_from_a_member_and_competing_covers_the_rest(members):
    result = compute_golden(PROPERTY_RULES, members)
    for name, lineage in result.lineage.items():
        if lineage["rule"] == "aggregate":
            continue
        winner = next(m for m in members if m.record_id == lineage["record_id"])
        raw = {i["attribute"]: i["value"] for i in winner.issues}
        assert lineage["value"] == (winner.attributes[name] if lineage["valid"] else raw[name])
        candidates = {m.record_id for m in members
                      if name in m.attributes or any(i["attribute"] == name for i in m.issues)}
        assert {c["record_id"] for c in lineage["competing"]} == candidates - {lineage["record_id"]}


def test_codes_written_differently_are_the_same_value_and_no_conflict():
    from datetime import datetime

    t = datetime(2024, 1, 1, tzinfo=UTC)
    rules = compile_rules({"attributes": [{"name": "payment_terms", "type": "code"}],
                           "survivorship": {"default": [{"rule": "source_priority", "sources": ["erp", "crm"]}],
                                            "critical": ["payment_terms"]}})
    members = [Contribution(1, "crm", "C1", {"payment_terms": "2/10 NET 30"}, (), t, t),
               Contribution(2, "erp", "E1", {"payment_terms": "2%10NET30"}, (), t, t)]
    result = compute_golden(rules, members)
    assert result.conflicts == []
    assert result.values == {"payment_terms": "2%10NET30"}
    members[0] = Contribution(1, "crm", "C1", {"payment_terms": "NET 60"}, (), t, t)
    assert [c.attribute for c in compute_golden(rules, members).conflicts] == ["payment_terms"]
