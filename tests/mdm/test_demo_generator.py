"""The demo data generator: deterministic, decodable, mapped, and as messy as promised.

Pure tests (no database): ``pytest -p no:django tests/mdm/test_demo_generator.py``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter, defaultdict
from difflib import SequenceMatcher
from pathlib import Path

import pytest
import yaml

from mdm.demo import generator as gen

ROOT = Path(__file__).resolve().parents[2]
SOURCES_YAML = ROOT / "mdm" / "config" / "sources" / "demo.yaml"
ENTITIES_DIR = ROOT / "mdm" / "config" / "entities"
SEED = 7
CUSTOMERS = 1000
HOSTILE_MARKERS = ("<script>", "onerror=", "=HYPERLINK(", "DROP TABLE", "{{7*7}}", "cmd|")


# --------------------------------------------------------------------------- helpers


def read_rows(directory: Path, spec: gen.FileSpec) -> list[dict]:
    raw = (directory / spec.name).read_bytes().decode(spec.encoding)
    if spec.fmt == "csv":
        return list(csv.DictReader(io.StringIO(raw, newline="")))
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def columns_of(directory: Path, spec: gen.FileSpec) -> set[str]:
    rows = read_rows(directory, spec)
    if spec.fmt == "csv":
        with open(directory / spec.name, encoding=spec.encoding, newline="") as handle:
            return set(next(csv.reader(handle)))
    keys = set(rows[0])
    assert all(set(row) == keys for row in rows), f"{spec.name}: rows with different keys"
    return keys


def spec_for(source: str, entity: str) -> gen.FileSpec:
    return next(s for s in gen.DATA_FILES if s.source == source and s.entity == entity)


def id_column(spec: gen.FileSpec) -> str:
    return spec.id_field


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, gen.Summary]:
    out = tmp_path_factory.mktemp("demo")
    return out, gen.generate(out, customers=CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def out(demo) -> Path:
    return demo[0]


@pytest.fixture(scope="module")
def truth(out) -> dict[tuple[str, str, str], str]:
    """(entity_type, source, source_id) → entity_key, for rows that have an ID."""
    rows = read_rows(out, gen.GROUND_TRUTH)
    return {
        (r["entity_type"], r["source"], r["source_id"]): r["entity_key"]
        for r in rows
        if r["source_id"]
    }


@pytest.fixture(scope="module")
def mappings() -> list[tuple[str, str, dict]]:
    data = yaml.safe_load(SOURCES_YAML.read_text(encoding="utf-8"))
    return [
        (src["code"], entity, spec)
        for src in data["sources"]
        for entity, spec in src["mappings"].items()
    ]


def key_of(truth, entity: str, source: str, source_id: str) -> str | None:
    return truth.get((entity, source, source_id))


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_writes_the_same_bytes(tmp_path, out):
    again = tmp_path / "again"
    gen.generate(again, customers=CUSTOMERS, seed=SEED)
    for spec in gen.ALL_FILES:
        assert (again / spec.name).read_bytes() == (out / spec.name).read_bytes(), spec.name
    assert (again / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()


def test_another_seed_writes_other_data(tmp_path, out):
    gen.generate(tmp_path, customers=CUSTOMERS, seed=SEED + 1)
    assert (tmp_path / "erp_customers.csv").read_bytes() != (out / "erp_customers.csv").read_bytes()


def test_the_bytes_do_not_depend_on_the_number_of_worker_processes(tmp_path):
    customers = gen.BLOCK_SIZE * 2 + 300  # several blocks of both phases
    gen.generate(
        tmp_path / "one", customers=customers, products=gen.BLOCK_SIZE + 10, seed=3, workers=1
    )
    gen.generate(
        tmp_path / "two", customers=customers, products=gen.BLOCK_SIZE + 10, seed=3, workers=2
    )
    for spec in gen.ALL_FILES:
        assert (tmp_path / "one" / spec.name).read_bytes() == (
            tmp_path / "two" / spec.name
        ).read_bytes(), spec.name


def test_no_partial_files_are_left_behind(out):
    assert not list(out.glob("*.partial"))


# --------------------------------------------------------------------------- encodings and mappings


def test_every_file_decodes_in_its_declared_encoding(out):
    for spec in gen.ALL_FILES:
        (out / spec.name).read_bytes().decode(spec.encoding)  # strict


def test_erp_customers_are_really_latin_1_with_non_ascii_names(out):
    data = (out / "erp_customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    names = " ".join(row["CustomerName"] for row in read_rows(out, gen.ERP_CUSTOMERS))
    assert any(ch in names for ch in "éüñ®"), "no accented names in the ERP extract"
    everything_erp = "".join(
        (out / s.name).read_bytes().decode("latin-1") for s in gen.DATA_FILES if s.source == "erp"
    )
    for ch in "éüñ®":
        assert ch in everything_erp, f"{ch!r} never appears in the ERP extracts"


def test_the_word_lists_fit_the_erp_encoding():
    # a name reaches the Latin-1 ERP file unchanged; a new word must not break the export
    words = (
        gen.SURNAMES
        + gen.FIRST_NAMES
        + gen.PLACES
        + gen.COINED
        + gen.TRADES
        + gen.BIZ
        + gen.STREET_NAMES
        + tuple(c[0] for c in gen.CITIES + gen.CA_CITIES)
        + tuple(m[1] for m in gen.MANUFACTURERS)
        + gen.HOSTILE_NAMES
    )
    for word in words:
        word.encode("latin-1")
    for tpl in gen.TEMPLATES:
        (tpl.name + " ".join(v for dim in tpl.dims for v in dim)).encode("latin-1")


def test_the_mapping_file_uses_all_four_sources_and_every_entity_file(mappings):
    assert {code for code, _, _ in mappings} == {"erp", "crm", "ecom", "wms"}
    mapped = {(code, entity) for code, entity, _ in mappings}
    assert mapped == {(s.source, s.entity) for s in gen.DATA_FILES}


def test_mapped_attributes_exist_in_the_entity_configs(mappings):
    attributes = {}
    for path in ENTITIES_DIR.glob("*.yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        attributes[config["code"]] = {a["name"] for a in config["attributes"]}
    for code, entity, spec in mappings:
        unknown = set(spec["fields"].values()) - attributes[entity]
        assert not unknown, f"{code}.{entity}: unknown attributes {unknown}"


def test_required_attributes_are_mapped_for_every_source(mappings):
    required = {}
    for path in ENTITIES_DIR.glob("*.yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        required[config["code"]] = {a["name"] for a in config["attributes"] if a.get("required")}
    for code, entity, spec in mappings:
        missing = required[entity] - set(spec["fields"].values())
        assert not missing, f"{code}.{entity} never fills required {missing}"


def test_every_mapped_column_is_present_in_the_files(out, mappings):
    for code, entity, spec in mappings:
        file_spec = spec_for(code, entity)
        assert spec["file"] == file_spec.name
        assert spec["format"] == file_spec.fmt
        assert spec.get("encoding", file_spec.encoding) == file_spec.encoding
        columns = columns_of(out, file_spec)
        wanted = {spec["id_field"], *spec["fields"]}
        wanted |= {spec[k] for k in ("updated_at_field", "deleted_field") if spec.get(k)}
        assert wanted <= columns, f"{file_spec.name} lacks {wanted - columns}"
        assert spec["id_field"] == id_column(file_spec)


def test_files_have_the_columns_the_generator_declares(out):
    for spec in gen.ALL_FILES:
        if spec.fmt == "csv":
            with open(out / spec.name, encoding=spec.encoding, newline="") as handle:
                assert tuple(next(csv.reader(handle))) == spec.columns
        else:
            assert all(tuple(row) == spec.columns for row in read_rows(out, spec))


def test_every_csv_row_has_as_many_fields_as_the_header(out):
    for spec in gen.ALL_FILES:
        if spec.fmt == "csv":
            with open(out / spec.name, encoding=spec.encoding, newline="") as handle:
                assert {len(row) for row in csv.reader(handle)} == {len(spec.columns)}, spec.name


# --------------------------------------------------------------------------- ground truth


def test_ground_truth_covers_every_row(out, demo):
    truth_rows = read_rows(out, gen.GROUND_TRUTH)
    by_file = defaultdict(Counter)
    for row in truth_rows:
        by_file[(row["entity_type"], row["source"])][row["source_id"]] += 1
    for spec in gen.DATA_FILES:
        ids = Counter(str(row[id_column(spec)] or "") for row in read_rows(out, spec))
        assert ids == by_file[(spec.entity, spec.source)], spec.name
    assert len(truth_rows) == sum(f.rows for f in demo[1].files if f.source)


def test_source_ids_are_unique_within_a_file(out):
    for spec in gen.DATA_FILES:
        ids = Counter(row[id_column(spec)] for row in read_rows(out, spec))
        ids.pop("", None)
        ids.pop(None, None)
        assert max(ids.values()) == 1, spec.name


def test_row_counts_and_manifest_agree_with_the_files(out, demo):
    summary = demo[1]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for spec in gen.ALL_FILES:
        rows = len(read_rows(out, spec))
        assert summary.rows(spec.name) == rows
        assert next(f["rows"] for f in manifest["files"] if f["name"] == spec.name) == rows
        assert (out / spec.name).stat().st_size == next(
            f.bytes for f in summary.files if f.name == spec.name
        )
    assert manifest["seed"] == SEED and manifest["customers"] == CUSTOMERS
    assert summary.products == CUSTOMERS // 2


def test_sources_hold_realistic_shares_of_the_real_customers_and_products(truth):
    def share(entity, source, total):
        return len({k for (e, s, _), k in truth.items() if e == entity and s == source}) / total

    assert 0.80 <= share("customer", "erp", CUSTOMERS) <= 0.95
    assert 0.60 <= share("customer", "crm", CUSTOMERS) <= 0.78
    assert 0.27 <= share("customer", "ecom", CUSTOMERS) <= 0.45
    products = CUSTOMERS // 2
    assert share("product", "erp", products) >= 0.98
    assert 0.70 <= share("product", "wms", products) <= 0.90
    assert 0.50 <= share("product", "ecom", products) <= 0.70
    assert 0.12 <= share("product", "crm", products) <= 0.30


def test_price_rows_are_about_twice_the_customers(demo):
    rows = sum(f.rows for f in demo[1].files if f.entity == "price")
    assert 1.6 * CUSTOMERS <= rows <= 2.4 * CUSTOMERS


# --------------------------------------------------------------------------- planted issues


def test_branches_share_the_hq_name_but_are_other_entities(out, truth):
    rows = {
        row["CustomerNo"]: row for row in read_rows(out, gen.ERP_CUSTOMERS) if row["CustomerNo"]
    }
    same_name = 0
    branches = [row for row in rows.values() if row["ParentCustomerNo"]]
    assert branches
    for branch in branches:
        hq = rows[branch["ParentCustomerNo"]]
        assert branch["AccountType"] == "SHIP_TO"
        assert key_of(truth, "customer", "erp", branch["CustomerNo"]) != key_of(
            truth, "customer", "erp", hq["CustomerNo"]
        )
        assert (branch["Address1"], branch["Zip"]) != (hq["Address1"], hq["Zip"])
        same_name += branch["CustomerName"].lower() == hq["CustomerName"].lower()
    assert same_name >= len(branches) / 3, "branches should mostly carry the HQ's exact name"


def test_crm_parent_ids_point_at_crm_accounts_of_the_hq(out, truth):
    accounts = {row["Id"]: row for row in read_rows(out, gen.CRM_ACCOUNTS) if row["Id"]}
    linked = [row for row in accounts.values() if row["ParentId"]]
    assert linked
    for row in linked:
        assert row["ParentId"] in accounts
        assert key_of(truth, "customer", "crm", row["ParentId"]) != key_of(
            truth, "customer", "crm", row["Id"]
        )


def test_the_crm_has_true_duplicate_accounts(truth):
    per_entity = Counter(k for (e, s, _), k in truth.items() if e == "customer" and s == "crm")
    duplicated = [k for k, n in per_entity.items() if n > 1]
    assert len(duplicated) >= 0.02 * len(per_entity)


def test_some_companies_moved_between_extracts(out, truth):
    erp = {
        key_of(truth, "customer", "erp", r["CustomerNo"]): r
        for r in read_rows(out, gen.ERP_CUSTOMERS)
        if r["CustomerNo"]
    }
    moved = 0
    for row in read_rows(out, gen.CRM_ACCOUNTS):
        other = erp.get(key_of(truth, "customer", "crm", row["Id"] or ""))
        if (
            other
            and row["BillingStreet"]
            and row["BillingStreet"].split()[0] != other["Address1"].split()[0]
        ):
            moved += 1
    assert moved >= 5


def test_hostile_strings_are_kept_verbatim(out):
    names = [r["company_name"] for r in read_rows(out, gen.ECOM_ACCOUNTS)]
    names += [r["Name"] or "" for r in read_rows(out, gen.CRM_ACCOUNTS)]
    assert any(marker in name for name in names for marker in HOSTILE_MARKERS)
    titles = [r["title"] for r in read_rows(out, gen.ECOM_CATALOG)]
    assert any("<script>alert(1)</script>" in t for t in titles)


def test_the_first_block_plants_the_script_tag_customer(out):
    names = [r["company_name"] for r in read_rows(out, gen.ECOM_ACCOUNTS)]
    assert any(n.startswith("<b>") and "</b> <script>alert(1)</script>" in n for n in names)


def test_bad_rows_are_present_at_about_half_a_percent(out, demo):
    planted = demo[1].planted
    bad = sum(v for k, v in planted.items() if k.startswith("bad_row_"))
    rows = sum(f.rows for f in demo[1].files if f.source)
    assert 0.002 <= bad / rows <= 0.01
    missing_ids = sum(1 for s in gen.DATA_FILES for r in read_rows(out, s) if not r[id_column(s)])
    assert missing_ids == planted["bad_row_missing_id"]
    assert (
        any(not (r["CustomerName"] or "").strip() for r in read_rows(out, gen.ERP_CUSTOMERS))
        or any(not (r["company_name"] or "").strip() for r in read_rows(out, gen.ECOM_ACCOUNTS))
        or any(not r["Name"] for r in read_rows(out, gen.CRM_ACCOUNTS))
    )


def test_invalid_gtins_are_planted_and_the_rest_are_valid(out):
    codes = [r["GTIN"] for r in read_rows(out, gen.ERP_ITEMS)] + [
        r["UPC"] for r in read_rows(out, gen.WMS_ITEMS)
    ]
    codes += [r["gtin"] for r in read_rows(out, gen.ECOM_CATALOG) if len(r["gtin"]) >= 12]
    codes = [c for c in codes if c]
    invalid = [c for c in codes if not gen.gtin_is_valid(c)]
    assert invalid, "no invalid GTIN planted"
    assert len(invalid) <= 0.02 * len(codes)


def test_tax_ids_are_mostly_valid_eins_with_a_few_invalid(out):
    ids = [
        r["TaxID"]
        for r in read_rows(out, gen.ERP_CUSTOMERS)
        if r["TaxID"] and "RT" not in r["TaxID"]
    ]
    valid = [
        t
        for t in ids
        if len(t) == 10 and t[2] == "-" and t[:2] in gen.VALID_EIN_PREFIXES and t[3:].isdigit()
    ]
    assert 0.9 * len(ids) <= len(valid) < len(ids)


def test_products_match_across_systems_by_gtin_where_present(out, truth):
    def norm(code):
        return code.lstrip("0")

    erp = defaultdict(set)
    for r in read_rows(out, gen.ERP_ITEMS):
        if r["GTIN"] and r["ItemNo"]:
            erp[key_of(truth, "product", "erp", r["ItemNo"])].add(norm(r["GTIN"]))
    agree = disagree = 0
    for r in read_rows(out, gen.WMS_ITEMS):
        known = erp.get(key_of(truth, "product", "wms", r["ITEM_CODE"]))
        if r["UPC"] and known:
            if norm(r["UPC"]) in known:
                agree += 1
            else:
                disagree += 1
    assert agree > 0 and disagree <= 0.02 * agree
    missing = sum(1 for r in read_rows(out, gen.ECOM_CATALOG) if not r["gtin"])
    assert missing > 0


def test_near_identical_products_are_different_entities(out, truth):
    rows = [r for r in read_rows(out, gen.ECOM_CATALOG) if r["sku"]]
    siblings = 0
    for a, b in itertools.pairwise(rows):
        ka, kb = (
            key_of(truth, "product", "ecom", a["sku"]),
            key_of(truth, "product", "ecom", b["sku"]),
        )
        if (
            ka != kb
            and a["brand"] == b["brand"]
            and SequenceMatcher(None, a["title"], b["title"]).ratio() > 0.9
        ):
            siblings += 1
    assert siblings >= 10


def per_base_unit(price: float, uom: str, item: dict) -> float:
    return price if uom == item["BaseUOM"] else price / float(item["PackQty"])


def test_erp_and_crm_disagree_on_some_prices(out, truth):
    items = {r["ItemNo"]: r for r in read_rows(out, gen.ERP_ITEMS) if r["ItemNo"]}
    erp = {}
    for r in read_rows(out, gen.ERP_PRICES):
        key = key_of(truth, "price", "erp", r["AgreementLineId"])
        if key and r["ContractPrice"] not in ("", "N/A") and r["ItemNo"] in items:
            erp.setdefault(key, (r, items[r["ItemNo"]]))
    other_uom = beyond = within = 0
    for q in read_rows(out, gen.CRM_QUOTES):
        key = key_of(truth, "price", "crm", q["QuoteLineId"] or "")
        if key not in erp or not isinstance(q["UnitPrice"], float | int):
            continue
        contract, item = erp[key]
        a = per_base_unit(float(contract["ContractPrice"]), contract["UOM"], item)
        b = per_base_unit(q["UnitPrice"], q["Uom"], item)
        other_uom += contract["UOM"] != q["Uom"]
        diff = abs(a - b) / a
        beyond += diff > 0.05
        within += 0.001 < diff <= 0.05
    assert other_uom and beyond and within


def test_price_references_use_ids_of_the_same_source(out):
    erp_customers = {r["CustomerNo"] for r in read_rows(out, gen.ERP_CUSTOMERS)}
    erp_items = {r["ItemNo"] for r in read_rows(out, gen.ERP_ITEMS)}
    prices = [r for r in read_rows(out, gen.ERP_PRICES) if r["ItemNo"]]
    assert sum(r["CustomerNo"] not in erp_customers for r in prices) <= 0.01 * len(
        prices
    )  # planted orphans
    assert all(r["ItemNo"] in erp_items for r in prices)
    crm_accounts = {r["Id"] for r in read_rows(out, gen.CRM_ACCOUNTS)}
    crm_products = {r["ProductCode"] for r in read_rows(out, gen.CRM_PRODUCTS)}
    quotes = [r for r in read_rows(out, gen.CRM_QUOTES) if r["ProductCode"]]
    # only a referenced record that was itself planted as a bad row (missing ID) is missing
    dangling = [
        q
        for q in quotes
        if q["AccountId"] not in crm_accounts or q["ProductCode"] not in crm_products
    ]
    assert len(dangling) <= 0.02 * len(quotes)
    skus = {r["sku"] for r in read_rows(out, gen.ECOM_CATALOG)}
    web = [r for r in read_rows(out, gen.ECOM_PRICES) if r["sku"]]
    assert all(r["sku"] in skus and r["price_list"] == "WEB" for r in web)


def test_some_erp_contract_lines_overlap_in_time(out, truth):
    windows = defaultdict(list)
    for r in read_rows(out, gen.ERP_PRICES):
        if r["AgreementLineId"]:
            windows[key_of(truth, "price", "erp", r["AgreementLineId"])].append(
                (r["ValidFrom"], r["ValidTo"] or "9999")
            )
    overlapping = [w for w in windows.values() if len(w) > 1 and sorted(w)[1][0] < min(w)[1]]
    assert overlapping


def test_ecom_accounts_look_typed_by_people(out):
    rows = read_rows(out, gen.ECOM_ACCOUNTS)
    phones = " ".join(r["phone"] for r in rows)
    assert "." in phones and "(" in phones and "+1" in phones
    assert any(r["email"].endswith("@gmail.com") for r in rows)
    assert any(r["company_name"] and r["company_name"] == r["company_name"].lower() for r in rows)
    assert any(not r["phone"] for r in rows)


# --------------------------------------------------------------------------- small parts


def test_gtin_check_digits_follow_gs1():
    assert gen.gtin_is_valid("036000291452")
    assert gen.gtin_is_valid("4006381333931")
    assert gen.gtin_is_valid("00036000291452")
    assert not gen.gtin_is_valid("036000291453")


def test_salesforce_ids_carry_the_case_safe_checksum():
    def reference(body15: str) -> str:
        suffix = ""
        for start in (0, 5, 10):
            bits = sum(1 << j for j, ch in enumerate(body15[start : start + 5]) if ch.isupper())
            suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
        return body15 + suffix

    ids = [gen.salesforce_id("001", n) for n in (0, 61, 3844, 4_000_003, 238_328_000)]
    assert all(len(i) == 18 and i == reference(i[:15]) for i in ids)
    assert len(set(ids)) == len(ids)


def test_the_command_writes_and_reports(tmp_path):
    pytest.importorskip("django")
    from mdm.management.commands.generate_demo import Command

    stdout = io.StringIO()
    Command(stdout=stdout).handle(
        customers=200,
        products=None,
        prices=None,
        seed=1,
        output=tmp_path,
        workers=1,
        no_progress=True,
    )
    text = stdout.getvalue()
    assert "erp_customers.csv" in text and "customer rows/s" in text
    assert (tmp_path / "ground_truth.csv").exists()


def test_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError):
        gen.generate(tmp_path, customers=0)
    with pytest.raises(ValueError):
        gen.generate(tmp_path, customers=10, products=0)
