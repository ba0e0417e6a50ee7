"""Standardization of raw source values: canonical values, match parts, issues."""

from __future__ import annotations

import doctest
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import phonenumbers
import pytest

import matching.standardize as standardize_module
from matching.standardize import (
    ATTRIBUTE_TYPES,
    AttributeSpec,
    Context,
    RecordResult,
    Standardized,
    ascii_fold,
    clear_caches,
    standardize_record,
    standardize_value,
)

US = Context(default_region="US")


def value_of(attr_type, raw, context=US, **kwargs):
    return standardize_value(attr_type, raw, context, **kwargs).value


def parts_of(attr_type, raw, context=US):
    return dict(standardize_value(attr_type, raw, context).parts)


def code_of(attr_type, raw, context=US):
    return standardize_value(attr_type, raw, context).code


@pytest.fixture(autouse=True)
def _fresh_caches():
    # Memoised results must never leak between tests that vary the context.
    clear_caches()
    yield
    clear_caches()


# --------------------------------------------------------------------------- #
# The API surface
# --------------------------------------------------------------------------- #

def test_the_module_docstring_examples_hold():
    failures, _ = doctest.testmod(standardize_module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_all_documented_attribute_types_are_supported():
    assert ATTRIBUTE_TYPES == {
        "company_name", "person_name", "address_line", "city", "region", "postcode",
        "country", "phone", "email", "tax_id", "gtin", "mpn", "uom", "currency", "money",
        "decimal", "integer", "boolean", "date", "datetime", "text", "code", "url", "reference",
    }


def test_an_unknown_attribute_type_is_a_programmer_error():
    with pytest.raises(ValueError, match="unknown attribute type"):
        standardize_value("colour", "red")


def test_an_attribute_spec_with_an_unknown_type_is_rejected_on_creation():
    with pytest.raises(ValueError, match="unknown attribute type"):
        AttributeSpec("colour", "colour")


def test_match_parts_of_a_memoised_result_cannot_be_mutated():
    result = standardize_value("city", "St. Louis")
    with pytest.raises(TypeError):
        result.parts["normalized"] = "hacked"  # type: ignore[index]


def test_a_valid_value_has_no_issue_and_an_invalid_one_has_no_value():
    good = standardize_value("email", "a@acme.com")
    bad = standardize_value("email", "nope")
    assert (good.issue, good.code) == (None, None)
    assert bad == Standardized(None, {}, bad.issue, "invalid_email")
    assert "nope" in bad.issue


# --------------------------------------------------------------------------- #
# Cleaning: empty values, control characters, hostile strings
# --------------------------------------------------------------------------- #

EMPTYISH = ["", "   ", "\t\n", None, "NULL", "null", "N/A", "n/a", "-", "none", "None",
            float("nan")]


@pytest.mark.parametrize("attr_type", sorted(ATTRIBUTE_TYPES))
@pytest.mark.parametrize("raw", EMPTYISH, ids=repr)
def test_empty_ish_values_are_empty_without_an_issue(attr_type, raw):
    result = standardize_value(attr_type, raw, US)
    assert result.value is None
    assert result.issue is None and result.code is None
    assert dict(result.parts) == {}


HOSTILE = [
    "<script>alert(1)</script>Acme",
    "Robert'); DROP TABLE customers;--",
    "\x00\x01\x02\x1b[31m",
    "\u202eevil\u202c",
    "😀" * 10,
    "x" * 100_000,
    "%s%s%n{0}{__class__}",
    "../../etc/passwd",
    "a\u0000b\u0085c",
    "１２３",
    "ﬁ ligature",
    b"bytes \xff value",
    12.5,
    -1,
    True,
    Decimal("1e999"),
    float("inf"),
    date(2024, 1, 2),
    [1, 2],
    {"a": 1},
    object(),
]


@pytest.mark.parametrize("attr_type", sorted(ATTRIBUTE_TYPES))
@pytest.mark.parametrize("raw", HOSTILE, ids=lambda r: repr(r)[:30])
def test_hostile_input_never_raises_and_is_either_a_value_or_an_issue(attr_type, raw):
    result = standardize_value(attr_type, raw, US)
    assert isinstance(result, Standardized)
    if result.value is None:
        assert (result.code is None) == (result.issue is None)
    else:
        assert result.code is None


@pytest.mark.parametrize("attr_type", sorted(ATTRIBUTE_TYPES))
def test_a_100_kb_string_is_too_long_for_every_type(attr_type):
    result = standardize_value(attr_type, "7" * 100_000, US)
    assert result.value is None
    assert result.code == "too_long"
    assert "100000" in result.issue


def test_an_explicit_max_length_overrides_the_type_default():
    assert code_of("reference", "ABCDEF") is None
    assert standardize_value("reference", "ABCDEF", max_length=5).code == "too_long"


def test_max_length_is_measured_after_cleaning():
    assert value_of("reference", "  AB   CD  ", max_length=5) == "AB CD"


def test_html_is_kept_verbatim_because_escaping_is_the_uis_job():
    assert value_of("company_name", "<script>alert(1)</script>Acme") == \
        "<script>alert(1)</script>Acme"
    assert value_of("text", "<b>bold</b> & <i>it</i>") == "<b>bold</b> & <i>it</i>"


def test_control_characters_are_removed_silently_and_separators_become_spaces():
    result = standardize_value("company_name", "Acme\x00\x07 Supply\tInc\u200b")
    assert result.value == "Acme Supply Inc."
    assert result.issue is None
    assert value_of("text", "line one\r\nline\x1ftwo\x85three") == "line one line two three"


def test_text_is_unicode_nfc_normalised():
    decomposed = "Cafe\u0301"
    assert value_of("text", decomposed) == "Caf\u00e9"


def test_non_scalar_values_are_reported_as_invalid_type():
    result = standardize_value("company_name", ["Acme"])
    assert result.value is None and result.code == "invalid_type"


@pytest.mark.parametrize("attr_type, raw, value, part, folded", [
    ("company_name", "Café Crème® GmbH", "Café Crème® GmbH", "core", "cafe creme"),
    ("company_name", "Müller & Söhne", "Müller & Söhne", "core", "muller and sohne"),
    ("person_name", "Zoë Müller", "Zoë Müller", "normalized", "zoe muller"),
    ("city", "Montréal", "Montréal", "normalized", "montreal"),
    ("city", "Düsseldorf", "Düsseldorf", "normalized", "dusseldorf"),
    ("address_line", "Königstraße 5", "KÖNIGSTRASSE 5", "street", "KONIGSTRASSE 5"),
    ("text", "Ünïcödé — naïve façade®", "Ünïcödé — naïve façade®", "normalized",
     "unicode naive facade"),
    ("mpn", "ÄB-12", "ÄB-12", "compact", "AB12"),
])
def test_latin_characters_are_kept_in_values_and_folded_in_match_parts(
        attr_type, raw, value, part, folded):
    result = standardize_value(attr_type, raw)
    assert result.value == value
    assert result.parts[part] == folded


@pytest.mark.parametrize("raw, folded", [
    ("Müller", "muller"), ("Straße", "strasse"), ("Øresund", "oresund"), ("Łódź", "lodz"),
    ("Ærø", "aero"), ("Acme™", "acme "), ("plain", "plain"),
])
def test_ascii_fold_lower_cases_and_strips_accents(raw, folded):
    assert ascii_fold(raw) == folded


# --------------------------------------------------------------------------- #
# company_name
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, value, core, legal_form", [
    ("Acme Supply, Inc.", "Acme Supply, Inc.", "acme supply", "inc"),
    ("ACME SUPPLY CO., INC", "Acme Supply Co., Inc.", "acme supply", "inc"),
    ("acme & sons, inc", "Acme & Sons, Inc.", "acme and sons", "inc"),
    ("Acme Holdings L.L.C.", "Acme Holdings LLC", "acme holdings", "llc"),
    ("acme llc", "Acme LLC", "acme", "llc"),
    ("ACME GMBH", "Acme GmbH", "acme", "gmbh"),
    ("Siemens Aktiengesellschaft", "Siemens Aktiengesellschaft",
     "siemens aktiengesellschaft", None),
    ("Acme Incorporated", "Acme Incorporated", "acme", "inc"),
    ("Acme Corporation", "Acme Corporation", "acme", "corp"),
    ("ACME LIMITED", "Acme Limited", "acme", "ltd"),
    ("Acme Ltd", "Acme Ltd.", "acme", "ltd"),
    ("Samsung Co., Ltd.", "Samsung Co., Ltd.", "samsung", "ltd"),
    ("The Coca-Cola Company", "The Coca-Cola Company", "coca cola", "co"),
    ("Smith & Co", "Smith & Co.", "smith", "co"),
    ("Acme Pty Ltd", "Acme Pty Ltd", "acme", "pty ltd"),
    ("Acme S.A. de C.V.", "Acme S.A. de C.V.", "acme", "sa de cv"),
    ("Acme Supply", "Acme Supply", "acme supply", None),
    ("Inc.", "Inc.", "inc", None),
])
def test_company_names_separate_the_legal_form(raw, value, core, legal_form):
    result = standardize_value("company_name", raw)
    assert result.value == value
    assert result.parts["core"] == core
    assert result.parts.get("legal_form") == legal_form


@pytest.mark.parametrize("raw, value", [
    ("JOE'S O'BRIEN & SONS OF NY LLC", "Joe's O'Brien & Sons of NY LLC"),
    ("mcdonald industrial supply", "McDonald Industrial Supply"),
    ("BBQ GUYS LTD", "BBQ Guys Ltd."),
    ("THE HOME DEPOT INC", "The Home Depot Inc."),
    ("HVAC DISTRIBUTORS OF AMERICA", "HVAC Distributors of America"),
    ("Acme GmbH", "Acme GmbH"),
    ("iRobot Corp", "iRobot Corp."),
    ("McMaster-Carr Supply Company", "McMaster-Carr Supply Company"),
])
def test_company_names_in_all_caps_or_all_lower_are_title_cased_sensibly(raw, value):
    assert value_of("company_name", raw) == value


@pytest.mark.parametrize("a, b", [
    ("Acme International Manufacturing Inc.", "ACME INTL MFG INC"),
    ("Acme Services Corp", "Acme Svcs, Inc."),
    ("Acme Distribution LLC", "Acme Dist."),
    ("The Acme Company", "Acme Co., Ltd."),
    ("A.B.C. Supply", "A B C Supply Co."),
    ("Johnson & Johnson", "Johnson and Johnson"),
    ("Acme Co. of America", "ACME COMPANY OF AMERICA"),
    ("Müller Werkzeuge GmbH", "Muller Werkzeuge"),
    ("Acme Brothers", "ACME BROS"),
])
def test_company_name_variants_meet_at_the_same_core(a, b):
    assert parts_of("company_name", a)["core"] == parts_of("company_name", b)["core"]


def test_company_tokens_sorted_ignore_word_order():
    assert parts_of("company_name", "Supply Acme Inc")["tokens_sorted"] == \
        parts_of("company_name", "Acme Supply LLC")["tokens_sorted"] == "acme supply"


def test_words_that_look_like_rare_legal_forms_stay_in_the_core():
    assert parts_of("company_name", "Acme UK")["core"] == "acme uk"
    assert parts_of("company_name", "Storage Unlimited")["core"] == "storage unlimited"


# --------------------------------------------------------------------------- #
# person_name
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, value, given, family, normalized", [
    ("John A. Smith", "John A. Smith", "john", "smith", "john a smith"),
    ("John A Smith", "John A. Smith", "john", "smith", "john a smith"),
    ("SMITH, JOHN", "John Smith", "john", "smith", "john smith"),
    ("SMITH, JOHN A.", "John A. Smith", "john", "smith", "john a smith"),
    ("john smith", "John Smith", "john", "smith", "john smith"),
    ("Dr. John Smith Jr.", "Dr. John Smith Jr.", "john", "smith", "john smith"),
    ("DR JOHN SMITH III", "Dr. John Smith III", "john", "smith", "john smith"),
    ("Mrs. Mary O'Brien", "Mrs. Mary O'Brien", "mary", "obrien", "mary obrien"),
    ("John Smith, Jr.", "John Smith Jr.", "john", "smith", "john smith"),
    ("Smith, Dr. John, PhD", "Dr. John Smith PhD", "john", "smith", "john smith"),
    ("O'BRIEN, MARY-KATE", "Mary-Kate O'Brien", "mary kate", "obrien", "mary kate obrien"),
    ("ludwig van beethoven", "Ludwig van Beethoven", "ludwig", "van beethoven",
     "ludwig van beethoven"),
    ("Zoë Müller-Lüdenscheidt", "Zoë Müller-Lüdenscheidt", "zoe", "muller ludenscheidt",
     "zoe muller ludenscheidt"),
])
def test_person_names(raw, value, given, family, normalized):
    result = standardize_value("person_name", raw)
    assert result.value == value
    assert dict(result.parts) == {"given": given, "family": family, "normalized": normalized}


def test_a_leading_initial_is_not_mistaken_for_an_honorific():
    assert parts_of("person_name", "M. Smith") == {"given": "m", "family": "smith",
                                                   "normalized": "m smith"}


def test_a_single_word_person_name_is_taken_as_the_family_name():
    assert parts_of("person_name", "Madonna") == {"family": "madonna", "normalized": "madonna"}


# --------------------------------------------------------------------------- #
# address_line
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, value, parts", [
    ("123 North Main Street, Suite 200", "123 N MAIN ST STE 200",
     {"number": "123", "street": "N MAIN ST", "unit": "STE 200"}),
    ("123 N. Main St., Ste. 200", "123 N MAIN ST STE 200",
     {"number": "123", "street": "N MAIN ST", "unit": "STE 200"}),
    ("500 Fifth Avenue #12", "500 5TH AVE STE 12",
     {"number": "500", "street": "5TH AVE", "unit": "STE 12"}),
    ("1600 Pennsylvania Avenue NW", "1600 PENNSYLVANIA AVE NW",
     {"number": "1600", "street": "PENNSYLVANIA AVE NW"}),
    ("10 Sunset Boulevard", "10 SUNSET BLVD", {"number": "10", "street": "SUNSET BLVD"}),
    ("4 Lakeview Drive", "4 LAKEVIEW DR", {"number": "4", "street": "LAKEVIEW DR"}),
    ("9 Elm Lane", "9 ELM LN", {"number": "9", "street": "ELM LN"}),
    ("77 Oak Road", "77 OAK RD", {"number": "77", "street": "OAK RD"}),
    ("1 Commerce Parkway", "1 COMMERCE PKWY", {"number": "1", "street": "COMMERCE PKWY"}),
    ("12 State Highway 9", "12 STATE HWY 9", {"number": "12", "street": "STATE HWY 9"}),
    ("Building 5, 2nd Floor", "BLDG 5 FL 2", {"unit": "BLDG 5 FL 2"}),
    ("Suite 200", "STE 200", {"unit": "STE 200"}),
    ("Apt # 5", "APT 5", {"unit": "APT 5"}),
    ("#200", "STE 200", {"unit": "STE 200"}),
    ("P.O. Box 123", "PO BOX 123", {"street": "PO BOX 123"}),
    ("Post Office Box 42", "PO BOX 42", {"street": "PO BOX 42"}),
    ("1 Boxwood Ln", "1 BOXWOOD LN", {"number": "1", "street": "BOXWOOD LN"}),
    ("100 Bay Street", "100 BAY ST", {"number": "100", "street": "BAY ST"}),
    ("123 1/2 Main St Rear", "123 1/2 MAIN ST REAR",
     {"number": "123 1/2", "street": "MAIN ST", "unit": "REAR"}),
    ("12B Harbour Road", "12B HARBOUR RD", {"number": "12B", "street": "HARBOUR RD"}),
])
def test_address_lines_are_usps_style(raw, value, parts):
    result = standardize_value("address_line", raw)
    assert result.value == value
    assert dict(result.parts) == parts


def test_suite_and_hash_units_agree():
    assert parts_of("address_line", "1 Main St #200")["unit"] == \
        parts_of("address_line", "1 Main Street, Suite 200")["unit"]


# --------------------------------------------------------------------------- #
# city, region, postcode, country
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, value, normalized", [
    ("ST. LOUIS", "St. Louis", "saint louis"),
    ("st louis", "St Louis", "saint louis"),
    ("Saint Louis", "Saint Louis", "saint louis"),
    ("FT. WORTH", "Ft. Worth", "fort worth"),
    ("Fort Worth", "Fort Worth", "fort worth"),
    ("MT. PLEASANT", "Mt. Pleasant", "mount pleasant"),
    ("winston-salem", "Winston-Salem", "winston salem"),
    ("New York", "New York", "new york"),
])
def test_cities_keep_their_spelling_and_expand_abbreviations_in_the_match_form(
        raw, value, normalized):
    result = standardize_value("city", raw)
    assert result.value == value
    assert result.parts["normalized"] == normalized


@pytest.mark.parametrize("raw, code", [
    ("California", "CA"), ("Calif.", "CA"), ("CA", "CA"), ("ca", "CA"), ("N.Y.", "NY"),
    ("new york", "NY"), ("District of Columbia", "DC"), ("W. Va.", "WV"), ("Penna", "PA"),
    ("Ontario", "ON"), ("Québec", "QC"), ("B.C.", "BC"), ("Puerto Rico", "PR"),
])
def test_us_states_and_canadian_provinces_become_two_letter_codes(raw, code):
    assert value_of("region", raw) == code


@pytest.mark.parametrize("raw, country, code", [
    ("Bayern", "DE", "BY"), ("BY", "DE", "BY"), ("Ontario", "CA", "ON"),
    ("Texas", "US", "TX"), ("Île-de-France", "FR", "IDF"),
])
def test_regions_of_other_countries_use_pycountry_subdivisions(raw, country, code):
    assert value_of("region", raw, Context(country=country)) == code


def test_an_unknown_region_is_kept_upper_case_without_an_issue():
    result = standardize_value("region", "Some Province")
    assert (result.value, result.code) == ("SOME PROVINCE", None)


@pytest.mark.parametrize("raw, value, zip5", [
    ("12345", "12345", "12345"),
    ("12345-6789", "12345-6789", "12345"),
    ("123456789", "12345-6789", "12345"),
    ("12345 6789", "12345-6789", "12345"),
    ("2134", "02134", "02134"),
    (2134, "02134", "02134"),
    ("501", "00501", "00501"),
])
def test_us_zip_codes(raw, value, zip5):
    result = standardize_value("postcode", raw, US)
    assert result.value == value
    assert result.parts["zip5"] == zip5


@pytest.mark.parametrize("raw", ["ABCDE", "1234567", "00000", "12", "K1A 0B1"])
def test_invalid_us_zip_codes_are_issues(raw):
    assert code_of("postcode", raw, US) == "invalid_postcode"


@pytest.mark.parametrize("raw, country, value", [
    ("k1a0b1", "CA", "K1A 0B1"), ("K1A-0B1", "CA", "K1A 0B1"),
    ("sw1a1aa", "GB", "SW1A 1AA"), ("EC1A  1BB", "GB", "EC1A 1BB"), ("m1 1ae", "GB", "M1 1AE"),
    ("75008", "FR", "75008"), ("1012 ab", "NL", "1012 AB"),
])
def test_postcodes_of_other_countries(raw, country, value):
    assert value_of("postcode", raw, Context(default_region="US", country=country)) == value


@pytest.mark.parametrize("raw, country", [("D1A 0B1", "CA"), ("12345", "CA"), ("XX1 1XX", "GB")])
def test_invalid_canadian_and_uk_postcodes_are_issues(raw, country):
    assert code_of("postcode", raw, Context(country=country)) == "invalid_postcode"


def test_without_any_country_a_postcode_is_only_cleaned():
    assert value_of("postcode", " ab 12 ", Context()) == "AB 12"


@pytest.mark.parametrize("raw, code", [
    ("US", "US"), ("us", "US"), ("USA", "US"), ("U.S.A.", "US"), ("United States", "US"),
    ("United States of America", "US"), ("840", "US"), ("Canada", "CA"), ("CAN", "CA"),
    ("DEU", "DE"), ("Germany", "DE"), ("Deutschland", "DE"), ("UK", "GB"),
    ("Great Britain", "GB"), ("United Kingdom", "GB"), ("the Netherlands", "NL"),
    ("Holland", "NL"), ("Côte d'Ivoire", "CI"), ("Viet Nam", "VN"), ("Vietnam", "VN"),
    ("México", "MX"), ("Russia", "RU"), ("South Korea", "KR"), ("Türkiye", "TR"),
])
def test_countries_become_iso_alpha_2_codes(raw, code):
    assert value_of("country", raw) == code


@pytest.mark.parametrize("raw", ["Narnia", "XX", "Europe", "12"])
def test_unknown_countries_are_issues(raw):
    assert code_of("country", raw) == "invalid_country"


# --------------------------------------------------------------------------- #
# phone
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, context, value, parts", [
    ("(415) 555-0123", US, "+14155550123", {"national": "4155550123"}),
    ("415.555.0199", US, "+14155550199", {"national": "4155550199"}),
    ("+1 212 555 1234", US, "+12125551234", {"national": "2125551234"}),
    ("1-800-555-0100", US, "+18005550100", {"national": "8005550100"}),
    ("4155550123", US, "+14155550123", {"national": "4155550123"}),
    (4155550123, US, "+14155550123", {"national": "4155550123"}),
    ("(201) 555-0123 x123", US, "+12015550123", {"national": "2015550123", "extension": "123"}),
    ("201-555-0123 ext. 7", US, "+12015550123", {"national": "2015550123", "extension": "7"}),
    ("+44 20 7946 0958", US, "+442079460958", {"national": "2079460958"}),
    ("020 7946 0958", Context(default_region="US", country="GB"), "+442079460958",
     {"national": "2079460958"}),
    ("030 12345678", Context(country="DE"), "+493012345678", {"national": "3012345678"}),
    ("(416) 555-0199", Context(default_region="US", country="CA"), "+14165550199",
     {"national": "4165550199"}),
    ("+14165550199", Context(), "+14165550199", {"national": "4165550199"}),
])
def test_valid_phone_numbers_become_e164(raw, context, value, parts):
    result = standardize_value("phone", raw, context)
    assert result.value == value
    assert dict(result.parts) == parts


@pytest.mark.parametrize("raw", ["12", "call me", "555-1234", "+1 555 555 5555", "000-000-0000",
                                 "415-555-012", "(415) 555-0123 or 0124"])
def test_invalid_phone_numbers_are_issues(raw):
    assert code_of("phone", raw, US) == "invalid_phone"


def test_a_national_number_without_any_region_cannot_be_read():
    assert code_of("phone", "(415) 555-0123", Context()) == "invalid_phone"


def test_a_record_country_that_does_not_fit_falls_back_to_the_source_region():
    # A US number on a record whose country says GB: read as GB it is invalid,
    # read with the source's default region it is fine.
    ctx = Context(default_region="US", country="GB")
    assert value_of("phone", "(415) 555-0123", ctx) == "+14155550123"


def test_the_nanp_shortcut_agrees_with_phonenumbers_on_random_numbers():
    rng = random.Random(20240303)
    regions = ["US", "CA", "BB", "JM", "PR"]
    for _ in range(3000):
        national = f"{rng.randint(200, 999)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if rng.random() < 0.2:  # Barbados/Jamaica constrain 7 digits: exercise them
            national = rng.choice(["246521", "876606", "246234", "876300"]) + \
                f"{rng.randint(0, 9999):04d}"
        region = rng.choice(regions)
        expected = phonenumbers.parse(national, region)
        expected_valid = phonenumbers.is_valid_number(expected)
        result = standardize_value("phone", national, Context(default_region=region))
        assert (result.value is not None) == expected_valid, (national, region)
        if expected_valid:
            assert result.value == phonenumbers.format_number(
                expected, phonenumbers.PhoneNumberFormat.E164)


# --------------------------------------------------------------------------- #
# email, url
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, value, local, domain", [
    ("Jane.Doe@Acme.COM", "jane.doe@acme.com", "jane.doe", "acme.com"),
    ("  jane@acme.com  ", "jane@acme.com", "jane", "acme.com"),
    ("MAILTO:Jane@Acme.com", "jane@acme.com", "jane", "acme.com"),
    ("Jane Doe <jane@acme.com>", "jane@acme.com", "jane", "acme.com"),
    ("ap+invoices@sub.acme.co.uk", "ap+invoices@sub.acme.co.uk", "ap+invoices", "sub.acme.co.uk"),
    ("josé@müller.de", "josé@müller.de", "josé", "müller.de"),
])
def test_valid_email_addresses(raw, value, local, domain):
    result = standardize_value("email", raw)
    assert result.value == value
    assert dict(result.parts) == {"local": local, "domain": domain}


@pytest.mark.parametrize("raw", [
    "nope", "a@b", "a@b.c", "two@@acme.com", "a b@acme.com", "a@acme.com; b@acme.com",
    "@acme.com", "jane@", "jane.@acme.com", "jane..doe@acme.com", "jane@-acme.com",
])
def test_invalid_email_addresses_are_issues(raw):
    assert code_of("email", raw) == "invalid_email"


@pytest.mark.parametrize("raw, value, domain", [
    ("www.acme.com", "https://www.acme.com", "acme.com"),
    ("acme.com", "https://acme.com", "acme.com"),
    ("WWW.Acme.com/", "https://www.acme.com", "acme.com"),
    ("HTTP://WWW.ACME.COM/Catalog", "http://www.acme.com/Catalog", "acme.com"),
    ("https://Acme.com/Path?q=1#top", "https://acme.com/Path?q=1#top", "acme.com"),
    ("HTTPS://WWW.ACME.COM:443/", "https://www.acme.com", "acme.com"),
    ("acme.com:8080/x", "https://acme.com:8080/x", "acme.com"),
    ("http://user:secret@acme.com/x", "http://acme.com/x", "acme.com"),
    ("//cdn.acme.com/a", "https://cdn.acme.com/a", "cdn.acme.com"),
    ("https://münchen.de", "https://münchen.de", "münchen.de"),
])
def test_urls_get_a_scheme_and_a_lower_case_host(raw, value, domain):
    result = standardize_value("url", raw)
    assert result.value == value
    assert result.parts["domain"] == domain


@pytest.mark.parametrize("raw", ["acme", "not a url", "mailto:x@acme.com", "ftp://acme.com",
                                 "javascript:alert(1)", "http://", "https://acme.com:99999"])
def test_invalid_urls_are_issues(raw):
    assert code_of("url", raw) == "invalid_url"


# --------------------------------------------------------------------------- #
# tax_id
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, context, value, compact, scheme", [
    ("12-3456789", US, "12-3456789", "US:123456789", "us_ein"),
    ("123456789", US, "12-3456789", "US:123456789", "us_ein"),
    ("US 12-3456789", US, "12-3456789", "US:123456789", "us_ein"),
    ("912-70-1234", US, "912-70-1234", "US:912701234", "us_itin"),
    ("234-56-7890", US, "234-56-7890", "US:234567890", "us_ssn"),
    ("DE136695976", US, "DE136695976", "VAT:DE136695976", "vat"),
    ("DE 136 695 976", Context(), "DE136695976", "VAT:DE136695976", "vat"),
    ("136695976", Context(country="DE"), "DE136695976", "VAT:DE136695976", "vat"),
    ("FR 40 303 265 045", Context(country="FR"), "FR40303265045", "VAT:FR40303265045", "vat"),
    ("EL094259216", Context(), "EL094259216", "VAT:EL094259216", "vat"),
    ("094259216", Context(country="GR"), "EL094259216", "VAT:EL094259216", "vat"),
    ("GB980780684", US, "GB980780684", "VAT:GB980780684", "vat"),
    ("CHE-123.456.788 MWST", Context(country="CH"), "CHE123456788MWST",
     "VAT:CHE123456788MWST", "vat"),
])
def test_valid_tax_ids(raw, context, value, compact, scheme):
    result = standardize_value("tax_id", raw, context)
    assert result.value == value
    assert dict(result.parts) == {"compact": compact, "scheme": scheme}


@pytest.mark.parametrize("raw, context", [
    ("00-1234567", US),          # no IRS campus uses prefix 00
    ("12-345", US),
    ("abc", US),
    ("DE136695975", Context()),  # bad check digit
    ("136695975", Context(country="DE")),
    ("12-3456789", Context(country="DE")),
    ("!!", Context()),
])
def test_invalid_tax_ids_are_issues(raw, context):
    assert code_of("tax_id", raw, context) == "invalid_tax_id"


def test_the_same_ein_written_two_ways_has_one_compact_form():
    assert parts_of("tax_id", "12-3456789")["compact"] == parts_of("tax_id", "123456789")["compact"]


def test_a_tax_id_that_cannot_be_checked_is_kept_as_unverified():
    result = standardize_value("tax_id", "abc-123", Context())
    assert result.value == "ABC-123"
    assert dict(result.parts) == {"compact": "RAW:ABC123", "scheme": "unverified"}


# --------------------------------------------------------------------------- #
# gtin, mpn, uom, code, reference, text
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, value", [
    ("036000291452", "00036000291452"),     # UPC-A
    ("4006381333931", "04006381333931"),    # EAN-13
    ("96385074", "00000096385074"),         # EAN-8
    ("10036000291459", "10036000291459"),   # GTIN-14
    ("0360-0029-1452", "00036000291452"),
    ("36000291452", "00036000291452"),      # UPC-A that lost its leading zero
    (36000291452, "00036000291452"),
])
def test_valid_gtins_are_padded_to_14_digits(raw, value):
    assert value_of("gtin", raw) == value


@pytest.mark.parametrize("raw", ["036000291453", "12345", "ABCDEFGHIJKL", "123456789012345",
                                 "４００６３８１３３３９３１"])
def test_invalid_gtins_are_issues(raw):
    assert code_of("gtin", raw) == "invalid_gtin"


@pytest.mark.parametrize("raw, value, compact", [
    (" ab-123/x ", "AB-123/X", "AB123X"),
    ("3M 1860", "3M 1860", "3M1860"),
    ("6ES7 214-1AG40-0XB0", "6ES7 214-1AG40-0XB0", "6ES72141AG400XB0"),
])
def test_manufacturer_part_numbers(raw, value, compact):
    result = standardize_value("mpn", raw)
    assert (result.value, result.parts["compact"]) == (value, compact)


@pytest.mark.parametrize("raw, code", [
    ("each", "EA"), ("EA", "EA"), ("ea", "EA"), ("pc", "EA"), ("Pcs", "EA"), ("piece", "EA"),
    ("unit", "EA"), ("un", "EA"), ("case", "CS"), ("CS", "CS"), ("cse", "CS"), ("box", "BX"),
    ("bx", "BX"), ("pack", "PK"), ("pk", "PK"), ("pkg", "PK"), ("package", "PK"),
    ("dozen", "DZ"), ("dz", "DZ"), ("pair", "PR"), ("roll", "RL"), ("bag", "BG"),
    ("carton", "CT"), ("ctn", "CT"), ("pallet", "PL"), ("plt", "PL"), ("kg", "KG"),
    ("g", "G"), ("lb", "LB"), ("lbs", "LB"), ("oz", "OZ"), ("l", "L"), ("ml", "ML"),
    ("m", "M"), ("ft", "FT"), ("in", "IN"), ("gal", "GAL"), ("set", "SET"), ("kit", "KIT"),
    ("Ea.", "EA"),
])
def test_units_of_measure_map_to_short_codes(raw, code):
    assert value_of("uom", raw) == code


@pytest.mark.parametrize("raw", ["furlong", "12", "each case"])
def test_unknown_units_of_measure_are_issues(raw):
    assert code_of("uom", raw) == "invalid_uom"


@pytest.mark.parametrize("raw, value, compact", [
    ("net 30", "NET 30", "NET30"), ("NET30", "NET30", "NET30"), (" Active ", "ACTIVE", "ACTIVE"),
    ("2/10  net 30", "2/10 NET 30", "210NET30"),
])
def test_codes_are_upper_case_with_a_compact_match_form(raw, value, compact):
    result = standardize_value("code", raw)
    assert (result.value, result.parts["compact"]) == (value, compact)


def test_codes_are_limited_to_100_characters():
    assert code_of("code", "A" * 101) == "too_long"


def test_references_are_kept_as_is_apart_from_whitespace():
    assert value_of("reference", "  AbC-12  x ") == "AbC-12 x"
    assert code_of("reference", "x" * 256) == "too_long"


def test_text_collapses_newlines_and_has_a_normalised_match_form():
    result = standardize_value("text", "Deliver to\nREAR dock,\n\n  ring bell!")
    assert result.value == "Deliver to REAR dock, ring bell!"
    assert result.parts["normalized"] == "deliver to rear dock ring bell"


def test_text_allows_4000_characters_by_default():
    assert value_of("text", "a" * 4000) == "a" * 4000
    assert code_of("text", "a" * 4001) == "too_long"


# --------------------------------------------------------------------------- #
# currency, money, decimal, integer, boolean
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, context, code", [
    ("USD", US, "USD"), ("usd", US, "USD"), ("$", US, "USD"), ("US Dollar", US, "USD"),
    ("US$", US, "USD"), ("€", US, "EUR"), ("Euro", US, "EUR"), ("£", US, "GBP"),
    ("Pound Sterling", US, "GBP"), ("C$", US, "CAD"), ("$", Context(country="CA"), "CAD"),
    ("¥", US, "JPY"), ("chf", US, "CHF"), ("Canadian Dollars", US, "CAD"),
])
def test_currencies_become_iso_4217_codes(raw, context, code):
    assert value_of("currency", raw, context) == code


@pytest.mark.parametrize("raw", ["XYZ", "money", "$$"])
def test_unknown_currencies_are_issues(raw):
    assert code_of("currency", raw) == "invalid_currency"


@pytest.mark.parametrize("raw, value, currency", [
    ("$1,234.50", "1234.50", "USD"),
    ("1.234,50 €", "1234.50", "EUR"),
    ("€ 1 234,50", "1234.50", "EUR"),
    ("(12.00)", "-12.00", None),
    ("($12.00)", "-12.00", "USD"),
    ("-$5", "-5.00", "USD"),
    ("$-5", "-5.00", "USD"),
    ("1234.5-", "-1234.50", None),
    ("USD 12", "12.00", "USD"),
    ("12 USD", "12.00", "USD"),
    ("$12 CAD", "12.00", "CAD"),
    ("£0.99", "0.99", "GBP"),
    ("12", "12.00", None),
    ("0.125", "0.125", None),
    ("1,5", "1.50", None),
    ("1,234", "1234.00", None),
    ("1.234.567,89", "1234567.89", None),
    ("1,234,567.891", "1234567.891", None),
    ("CHF 1'234.50", "1234.50", "CHF"),
    (".5", "0.50", None),
    ("−12.00", "-12.00", None),
    (12.5, "12.50", None),
    (Decimal(3), "3.00", None),
    (7, "7.00", None),
])
def test_money_amounts(raw, value, currency):
    result = standardize_value("money", raw, US)
    assert result.value == value
    assert result.parts.get("currency") == currency


@pytest.mark.parametrize("raw", ["abc", "$", "12..5", "1,23,4", "12 USD EUR", "1e5", "12 apples",
                                 True, "--5", "1" * 25])
def test_invalid_money_amounts_are_issues(raw):
    assert code_of("money", raw) == "invalid_money"


def test_money_honours_a_short_max_length_and_rejects_absurd_amounts():
    assert standardize_value("money", "12345.00", US, max_length=5).code == "too_long"
    assert value_of("money", "$1" + ",000" * 5) == "1000000000000000.00"
    assert code_of("money", "$1" + ",000" * 8) == "invalid_money"  # 10^24


def test_money_values_are_strings_never_floats():
    assert isinstance(value_of("money", 0.1), str)
    assert value_of("money", 0.1) == "0.10"


@pytest.mark.parametrize("raw, value", [
    ("1,234.5000", "1234.5"), ("0.10", "0.1"), ("-0", "0"), ("1e3", "1000"),
    ("1.2E+15", "1200000000000000"), ("(3.5)", "-3.5"), ("+5", "5"), (1.5, "1.5"), (7, "7"),
    (Decimal("2.50"), "2.5"), ("1,5", "1.5"),
])
def test_decimals_are_normalised_strings_without_exponent(raw, value):
    assert value_of("decimal", raw) == value


@pytest.mark.parametrize("raw", ["abc", "12%", "$12", True, "1.2.3", float("inf")])
def test_invalid_decimals_are_issues(raw):
    assert code_of("decimal", raw) == "invalid_decimal"


@pytest.mark.parametrize("raw, value", [
    ("12", 12), ("12.0", 12), ("1,234", 1234), ("-7", -7), (7, 7), (7.0, 7), ("1e3", 1000),
    ("-0", 0),
])
def test_integers(raw, value):
    result = value_of("integer", raw)
    assert result == value and type(result) is int


@pytest.mark.parametrize("raw", ["12.5", "abc", True, "99999999999999999999", "1/2"])
def test_invalid_integers_are_issues(raw):
    assert code_of("integer", raw) == "invalid_integer"


@pytest.mark.parametrize("raw, value", [
    ("Y", True), ("y", True), ("yes", True), ("YES", True), ("1", True), ("true", True),
    ("T", True), (True, True), (1, True),
    ("N", False), ("no", False), ("0", False), ("False", False), ("f", False), (False, False),
    (0, False),
])
def test_booleans(raw, value):
    assert value_of("boolean", raw) is value


@pytest.mark.parametrize("raw", ["maybe", 2, "active", "2"])
def test_invalid_booleans_are_issues(raw):
    assert code_of("boolean", raw) == "invalid_boolean"


# --------------------------------------------------------------------------- #
# date, datetime
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("raw, context, value", [
    ("2024-03-03", US, "2024-03-03"),
    ("2024-3-3", US, "2024-03-03"),
    ("03/04/2024", US, "2024-03-04"),
    ("03/04/2024", Context(dayfirst=True), "2024-04-03"),
    ("13/01/2024", US, "2024-01-13"),        # only readable one way
    ("31.12.2024", US, "2024-12-31"),        # dotted dates are day-first
    ("20240303", US, "2024-03-03"),
    (20240303, US, "2024-03-03"),
    ("2024/03/04", US, "2024-03-04"),
    ("Mar 3 2024", US, "2024-03-03"),
    ("March 3, 2024", US, "2024-03-03"),
    ("3 March 2024", US, "2024-03-03"),
    ("2024-03-03T10:00:00Z", US, "2024-03-03"),
    ("2024-03-03 23:59:59-05:00", US, "2024-03-03"),
    ("1/2/24", US, "2024-01-02"),
    ("03/04/2024 10:15 AM", US, "2024-03-04"),
    (date(2024, 1, 2), US, "2024-01-02"),
    (datetime(2024, 1, 2, 3, 4), US, "2024-01-02"),
])
def test_dates_become_iso(raw, context, value):
    assert value_of("date", raw, context) == value


@pytest.mark.parametrize("raw", ["not a date", "March 2024", "02/30/2024", "2024-13-01",
                                 "13/13/2024", "2024", "12345", "32.01.2024"])
def test_invalid_dates_are_issues(raw):
    assert code_of("date", raw) == "invalid_date"


@pytest.mark.parametrize("raw, value", [
    ("2024-03-03T10:00:00Z", "2024-03-03T10:00:00Z"),
    ("2024-03-03T10:00:00+02:00", "2024-03-03T08:00:00Z"),
    ("2024-03-03 10:00", "2024-03-03T10:00:00Z"),
    ("2024-03-03", "2024-03-03T00:00:00Z"),
    ("2024-03-03T10:00:00.5Z", "2024-03-03T10:00:00.500000Z"),
    ("03/04/2024 10:15 AM", "2024-03-04T10:15:00Z"),
    ("03/04/2024", "2024-03-04T00:00:00Z"),
    ("Mar 3 2024 10:00 PM EST", "2024-03-04T03:00:00Z"),
    (datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))), "2024-01-02T08:04:05Z"),
    (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),
    (date(2024, 1, 2), "2024-01-02T00:00:00Z"),
])
def test_datetimes_become_utc_iso_8601_with_z(raw, value):
    assert value_of("datetime", raw) == value


@pytest.mark.parametrize("raw", ["garbage", "2024-02-30T10:00:00", "25:00", "March 2024"])
def test_invalid_datetimes_are_issues(raw):
    assert code_of("datetime", raw) == "invalid_datetime"


# --------------------------------------------------------------------------- #
# standardize_record
# --------------------------------------------------------------------------- #

CUSTOMER = [
    AttributeSpec("name", "company_name", required=True),
    AttributeSpec("phone", "phone"),
    AttributeSpec("postcode", "postcode"),
    AttributeSpec("region", "region"),
    AttributeSpec("tax_id", "tax_id"),
    AttributeSpec("email", "email", required=True),
    AttributeSpec("country", "country"),
]


def test_a_record_flattens_values_and_parts_into_one_attribute_dict():
    result = standardize_record(CUSTOMER, {
        "name": "ACME SUPPLY INC", "phone": "(415) 555-0123 x9", "postcode": "94105",
        "region": "Calif.", "tax_id": "12-3456789", "email": "AP@ACME.COM", "country": "USA",
    }, US)
    assert isinstance(result, RecordResult)
    assert result.attributes == {
        "name": "Acme Supply Inc.",
        "name__core": "acme supply",
        "name__legal_form": "inc",
        "name__tokens_sorted": "acme supply",
        "phone": "+14155550123",
        "phone__national": "4155550123",
        "phone__extension": "9",
        "postcode": "94105",
        "postcode__zip5": "94105",
        "region": "CA",
        "tax_id": "12-3456789",
        "tax_id__compact": "US:123456789",
        "tax_id__scheme": "us_ein",
        "email": "ap@acme.com",
        "email__local": "ap",
        "email__domain": "acme.com",
        "country": "US",
    }
    assert result.issues == []
    assert result.missing_required == []


def test_the_records_country_is_read_first_and_drives_phone_postcode_region_and_tax_id():
    # "country" is the *last* spec; the record is still read as a UK / German one.
    uk = standardize_record(CUSTOMER, {
        "name": "Acme Ltd", "phone": "020 7946 0958", "postcode": "sw1a1aa",
        "email": "a@acme.co.uk", "country": "United Kingdom",
    }, US)
    assert uk.attributes["phone"] == "+442079460958"
    assert uk.attributes["postcode"] == "SW1A 1AA"
    de = standardize_record(CUSTOMER, {
        "name": "Acme GmbH", "region": "Bayern", "tax_id": "136695976",
        "email": "a@acme.de", "country": "Deutschland",
    }, US)
    assert de.attributes["region"] == "BY"
    assert de.attributes["tax_id"] == "DE136695976"
    assert de.issues == []


def test_without_a_country_the_source_default_region_applies():
    result = standardize_record(CUSTOMER, {"name": "Acme", "email": "a@acme.com",
                                           "phone": "415-555-0123", "postcode": "2134"}, US)
    assert result.attributes["phone"] == "+14155550123"
    assert result.attributes["postcode"] == "02134"


def test_an_invalid_country_leaves_the_source_region_in_charge():
    result = standardize_record(CUSTOMER, {"name": "Acme", "email": "a@acme.com",
                                           "phone": "415-555-0123", "country": "Narnia"}, US)
    assert result.attributes["phone"] == "+14155550123"
    assert [i["code"] for i in result.issues] == ["invalid_country"]


def test_invalid_values_are_left_out_and_reported_as_issues():
    result = standardize_record(CUSTOMER, {"name": "Acme", "email": "not-an-email",
                                           "phone": "call me"}, US)
    assert "email" not in result.attributes and "phone" not in result.attributes
    assert result.issues == [
        {"attribute": "phone", "code": "invalid_phone",
         "message": "'call me' is not a valid phone number", "value": "call me"},
        {"attribute": "email", "code": "invalid_email",
         "message": "'not-an-email' is not a valid email address", "value": "not-an-email"},
    ]


def test_required_attributes_that_are_empty_or_invalid_are_missing():
    result = standardize_record(CUSTOMER, {"name": "  ", "email": "broken"}, US)
    assert result.missing_required == ["name", "email"]
    assert [i["attribute"] for i in result.issues] == ["email"]  # empty is not an issue


def test_attributes_absent_from_the_raw_record_are_simply_empty():
    result = standardize_record(CUSTOMER, {}, US)
    assert result.attributes == {}
    assert result.issues == []
    assert result.missing_required == ["name", "email"]


def test_keys_without_a_spec_are_ignored():
    result = standardize_record(CUSTOMER, {"name": "Acme", "email": "a@acme.com",
                                           "shoe_size": "42"}, US)
    assert "shoe_size" not in result.attributes


def test_the_issue_value_is_the_raw_value_truncated_to_200_characters():
    result = standardize_record([AttributeSpec("note", "text", max_length=10)],
                                {"note": "y" * 100_000})
    (issue,) = result.issues
    assert issue["code"] == "too_long"
    assert issue["value"] == "y" * 200


def test_a_spec_max_length_is_honoured_in_records():
    result = standardize_record([AttributeSpec("code", "code", max_length=3)], {"code": "ABCD"})
    assert result.issues[0]["code"] == "too_long"


def test_a_record_full_of_hostile_values_never_raises():
    specs = [AttributeSpec(t, t, required=True) for t in sorted(ATTRIBUTE_TYPES)]
    for hostile in HOSTILE:
        result = standardize_record(specs, {t: hostile for t in ATTRIBUTE_TYPES}, US)
        assert set(result.missing_required) <= ATTRIBUTE_TYPES
        for issue in result.issues:
            assert len(issue["value"]) <= 200


def test_the_benchmark_rows_standardize_without_issues():
    from matching.bench_standardize import CUSTOMER_SPECS, make_rows

    for row in make_rows(500):
        result = standardize_record(CUSTOMER_SPECS, row, US)
        assert result.issues == [], row
        assert result.missing_required == []
