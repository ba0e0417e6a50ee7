"""Derived features: model numbers out of free text, colours, brands, check digits."""

import pytest

from matching.features import (
    colors,
    compute_features,
    first_token,
    gtin_valid,
    luhn_valid,
    model_bases,
    model_numbers,
    tax_id_valid,
    tokens,
)
from matching.settings import FeatureSpec


@pytest.mark.parametrize("text, code", [
    ("Sony Turntable - PSLX350H", "pslx350h"),
    ("Sony PS-LX350H Belt-Drive Turntable", "pslx350h"),
    ("Apple MacBook Pro Notebook - MB470LL/A", "mb470lla"),
    ("Garmin Canvas Deluxe Carry Case - 010-10231-01", "0101023101"),
    ("Canon XH A1S - 3238B001", "xha1s"),
    ("Speck SeeThru Case for MacBook Air - MBA-CLR-SEE", "mbaclrsee"),
    ("Sanus Euro Foundations Satellite Speaker Stand - EFSATB", "efsatb"),
])
def test_model_numbers_are_found_and_normalised(text, code):
    assert code in model_numbers(text)


@pytest.mark.parametrize("text", [
    "Apple MacBook Pro 2.4GHz 250GB 1080p 52' 10ft",
    "Panasonic DECT 6.0 phone, USB 2.0, 10/100 switch, 10-Cup",
    "MINI CKT BRKR 3-POLE DIN RAIL",
])
def test_quantities_and_sizes_are_not_model_numbers(text):
    assert model_numbers(text) == frozenset()


@pytest.mark.parametrize("text", [
    "HI-VISIBILITY SAFETY VEST, ANSI",
    "CUTRES GLV ANSI A2 LATEX PLM SZ 2XL",
    "SPEAKER STAND - SATELLITE",
])
def test_an_all_capitals_description_has_no_codes_by_layout_alone(text):
    # In ERP and WMS descriptions every word is upper-case, so an upper-case,
    # hyphenated or trailing word is just a word there.
    assert model_numbers(text) == frozenset()


def test_an_all_capitals_description_still_yields_codes_with_digits():
    assert "3238b001" in model_numbers("CANON XH A1S CAMCORDER - 3238B001")


def test_colour_suffixes_are_cut_so_variant_spellings_meet():
    assert model_bases("Sony Speaker System - SRSA212BK") & model_bases("Computer Speakers - SRSA212/BLK")
    assert "nnh965" in model_bases("Panasonic Microwave - NNH965WH") & model_bases("Panasonic NN-H965WF Microwave")


def test_colours_are_folded_to_base_colours():
    assert colors("Nikon Coolpix - Graphite Black") == {"gray", "black"}
    assert colors("Camera - Plum") == {"purple"}
    assert colors("no colour here") == frozenset()


def test_tokens_and_first_token():
    assert tokens("Acme Supply, Inc.") == {"acme", "supply", "inc"}
    assert first_token(None, "", "LG Electronics") == "lg"


def test_compute_features_adds_derived_attributes_and_leaves_input_alone():
    attrs = {"name": "Sony Turntable - PSLX350H", "manufacturer__core": None}
    specs = [FeatureSpec("name__codes", "model_numbers", ("name",)),
             FeatureSpec("brand", "first_token", ("manufacturer__core", "name"))]
    out = compute_features(specs, attrs)
    assert out["name__codes"] == {"pslx350h"} and out["brand"] == "sony"
    assert "name__codes" not in attrs


def test_a_feature_without_value_is_null():
    out = compute_features([FeatureSpec("c", "model_numbers", ("name",))], {"name": "plain words"})
    assert out["c"] is None


def test_gtin_check_digit():
    assert gtin_valid("4006381333931") and gtin_valid("00012345678905")
    assert not gtin_valid("4006381333932") and not gtin_valid("123") and not gtin_valid("00000000000000")


def test_luhn_check_digit():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_tax_id_check_uses_the_country_rules():
    assert tax_id_valid("US:123456789")
    assert tax_id_valid("DE:136695976") and not tax_id_valid("DE:136695975")
    assert not tax_id_valid("123456789") and not tax_id_valid(None)
