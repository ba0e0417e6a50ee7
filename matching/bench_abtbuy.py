"""Abt-Buy benchmark: unsupervised matching of two retailers' product catalogs.

    python -m matching.bench_abtbuy [--data ../shared/benchmarks/abt-buy] [--config mdm/config/entities/product.yaml]

Reads the benchmark from outside the project (it is never copied in),
standardizes each record with :mod:`matching.standardize` using the product
entity's attribute types, trains the model without labels, clusters, and
prints pairwise precision/recall/F1 against ``abt_buy_perfectMapping.csv``
for our clustering and for plain connected components, plus blocking pair
completeness and the number of pairs compared. The labels are only read to
score the result.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import yaml

from matching.engine import MatchEngine
from matching.evaluate import pairwise_scores
from matching.settings import MatchSettings

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "benchmarks" / "abt-buy"
DEFAULT_CONFIG = HERE.parent / "mdm" / "config" / "entities" / "product.yaml"
FIELD_MAP = {"name": "name", "description": "description", "manufacturer": "manufacturer", "price": "list_price"}


def read_text(path: Path) -> str:
    """UTF-8 when it decodes, else Latin-1 (Abt.csv is Latin-1): no need to be told."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_entity(config_path: Path) -> tuple[list, dict]:
    """(attribute specs, matching section) of an entity YAML file."""
    from matching.standardize import AttributeSpec

    doc = yaml.safe_load(config_path.read_text())
    specs = [AttributeSpec(name=a["name"], type=a["type"], required=False, max_length=a.get("max_length"))
             for a in doc["attributes"]]
    return specs, doc.get("matching")


def load_records(data_dir: Path, specs: list) -> tuple[list, dict, list[tuple[int, int]]]:
    """Records ``(id, source, standardized attributes)``, id -> (source, original id), true pairs."""
    from matching.standardize import standardize_record

    records, origin, by_key = [], {}, {}
    for source, fname in (("abt", "Abt.csv"), ("buy", "Buy.csv")):
        for row in csv.DictReader(io.StringIO(read_text(data_dir / fname))):
            raw = {FIELD_MAP[k]: v for k, v in row.items() if k in FIELD_MAP and v not in (None, "")}
            attrs = standardize_record(specs, raw).attributes
            rid = len(records) + 1
            records.append((rid, source, attrs))
            origin[rid] = (source, row["id"])
            by_key[(source, row["id"])] = rid
    truth = []
    for row in csv.DictReader(io.StringIO(read_text(data_dir / "abt_buy_perfectMapping.csv"))):
        a, b = by_key.get(("abt", row["idAbt"])), by_key.get(("buy", row["idBuy"]))
        if a and b:
            truth.append((a, b))
    return records, origin, truth


def run(data_dir: Path, config_path: Path, *, matching: dict | None = None, verbose: bool = True,
        overrides: dict | None = None) -> dict:
    specs, section = load_entity(config_path)
    section = matching or section
    if section is None:
        raise SystemExit(f"{config_path} has no matching: section")
    settings = MatchSettings.from_dict(section)
    if overrides:
        d = settings.to_dict()
        for key, value in overrides.items():
            head, _, tail = key.partition(".")
            d.setdefault(head, {})[tail] = value
        settings = MatchSettings.from_dict(d)
    t0 = time.perf_counter()
    records, _origin, truth = load_records(data_dir, specs)
    t_load = time.perf_counter() - t0
    sources = {rid: src for rid, src, _ in records}

    engine = MatchEngine(settings)
    result = engine.run(records, truth_pairs=truth)
    ours = pairwise_scores([c.records for c in result.clusters], truth_pairs=truth, sources=sources,
                           cross_source_only=True)
    cc = pairwise_scores(engine.connected_components(result), truth_pairs=truth, sources=sources,
                         cross_source_only=True)
    out = {
        "records": len(records), "true_pairs": len(truth),
        "pair_completeness": result.stats["block"].get("pair_completeness"),
        "pairs_compared": result.stats["score"]["pairs"],
        "clustering": ours, "connected_components": cc,
        "seconds": {"load_and_standardize": round(t_load, 2),
                    **{k: v.get("seconds") for k, v in result.stats.items() if isinstance(v, dict) and "seconds" in v},
                    "total_engine": result.stats["total_seconds"]},
        "lambda": result.model.lambda_,
        "settings": {"auto": settings.thresholds.auto, "linkage": settings.clustering.linkage,
                     "one_per_source": settings.clustering.one_per_source},
    }
    if verbose:
        print(f"Abt-Buy: {len(records)} records ({sum(1 for s in sources.values() if s == 'abt')} abt, "
              f"{sum(1 for s in sources.values() if s == 'buy')} buy), {len(truth)} true pairs")
        print(f"blocking: {out['pairs_compared']} pairs compared, pair completeness {out['pair_completeness']:.4f}")
        for name, p in result.stats["block"]["passes"].items():
            print(f"  pass {name:<12} keys {p['keys']:>6}  capped {p['capped_keys']:>4}  pairs {p['pairs']:>7}")
        print(f"model: lambda {result.model.lambda_:.3g} ({result.model.training.get('prior_source')})")
        for name, prm in result.model.params.items():
            lv = ", ".join(f"{lab} {f'{m:.3g}' if m is not None else '-'}/{f'{u:.3g}' if u is not None else '-'}"
                           for lab, m, u in zip(prm.labels, prm.m, prm.u))
            print(f"  {name:<20} m/u: {lv}")
        print(f"{'':<24}{'precision':>10}{'recall':>10}{'F1':>10}{'pairs':>8}")
        for label, sc in ((f"{settings.clustering.linkage} linkage", ours), ("connected components", cc)):
            print(f"{label:<24}{sc['precision']:>10.4f}{sc['recall']:>10.4f}{sc['f1']:>10.4f}{sc['predicted']:>8}")
        print("seconds: " + ", ".join(f"{k} {v}" for k, v in out["seconds"].items()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="entity YAML with a matching: section")
    ap.add_argument("--matching", type=Path, help="YAML file whose matching: section overrides the config's")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a setting, e.g. --set clustering.one_per_source=false")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    matching = None
    if args.matching:
        doc = yaml.safe_load(args.matching.read_text())
        matching = doc.get("matching", doc)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    out = run(args.data, args.config, matching=matching, verbose=not args.json, overrides=overrides)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
