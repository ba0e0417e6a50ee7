"""Engine benchmark on the demo generator's output: speed, memory, and accuracy.

    python manage.py generate_demo ...            # or: python -m mdm.demo.generator
    python -m matching.bench_engine var/demo [--entity customer|product|all] [--incremental 200]

Loads the extracts the generator wrote (mapped to canonical attributes by
``mdm/config/sources/demo.yaml``), standardizes them with
:mod:`matching.standardize` (timed apart: the hub does that at ingestion),
then runs block + train + score + cluster with the entity's ``matching:``
settings and prints per-stage times, pairs, pairs/s, peak memory, and
pairwise P/R/F1 against ``ground_truth.csv`` for our clustering and for
plain connected components. ``--incremental N`` also times N one-record
decisions against candidates found by blocking-key lookup.
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import yaml

from matching.blocking import KeyIndex
from matching.engine import MatchEngine
from matching.evaluate import clusters_from_labels, pairwise_scores
from matching.settings import MatchSettings

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "mdm" / "config"


def _rows(path: Path, fmt: str, encoding: str):
    if fmt == "jsonl":
        with open(path, encoding=encoding) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue
    else:
        with open(path, encoding=encoding, newline="") as fh:
            yield from csv.DictReader(fh)


def load_entity(entity: str, matching_file: Path | None = None):
    from matching.standardize import AttributeSpec

    doc = yaml.safe_load((CONFIG / "entities" / f"{entity}.yaml").read_text())
    specs = [AttributeSpec(name=a["name"], type=a["type"], required=bool(a.get("required", False)),
                           max_length=a.get("max_length")) for a in doc["attributes"]]
    section = doc.get("matching")
    if matching_file is not None:
        other = yaml.safe_load(matching_file.read_text())
        section = other.get("matching", other)
    return specs, section


def load_demo(data_dir: Path, entity: str, specs) -> tuple[list, dict[int, str], float]:
    """Standardized records of one entity type from the demo extracts, and the truth (record id -> entity key)."""
    from matching.standardize import Context, standardize_record

    sources = yaml.safe_load((CONFIG / "sources" / "demo.yaml").read_text())["sources"]
    truth_by_key: dict[tuple[str, str], str] = {}
    with open(data_dir / "ground_truth.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["entity_type"] == entity:
                truth_by_key[(row["source"], row["source_id"])] = row["entity_key"]
    records, truth = [], {}
    t0 = time.perf_counter()
    for src in sources:
        mapping = src.get("mappings", {}).get(entity)
        if not mapping or not (data_dir / mapping["file"]).exists():
            continue
        ctx = Context(default_region=src.get("default_region"))
        fields = mapping["fields"]
        deleted = mapping.get("deleted_field")
        for row in _rows(data_dir / mapping["file"], mapping["format"], mapping["encoding"]):
            sid = row.get(mapping["id_field"])
            if sid in (None, ""):
                continue
            if deleted and str(row.get(deleted, "")).strip().lower() in ("y", "true", "1", "yes"):
                continue
            raw = {attr: row.get(col) for col, attr in fields.items()}
            res = standardize_record(specs, raw, ctx)
            if res.missing_required:
                continue
            rid = len(records) + 1
            records.append((rid, src["code"], res.attributes))
            key = truth_by_key.get((src["code"], str(sid)))
            if key is not None:
                truth[rid] = key
    return records, truth, time.perf_counter() - t0


def bench(data_dir: Path, entity: str, *, matching_file: Path | None = None, incremental: int = 0,
          trace: bool = False, cache: bool = True, verbose: bool = True) -> dict:
    specs, section = load_entity(entity, matching_file)
    if section is None:
        raise SystemExit(f"{entity}.yaml has no matching: section")
    settings = MatchSettings.from_dict(section)
    cache_file = data_dir / f".bench_{entity}.pickle"
    if cache and cache_file.exists() and cache_file.stat().st_mtime > (data_dir / "ground_truth.csv").stat().st_mtime:
        records, truth, t_std = pickle.loads(cache_file.read_bytes())
    else:
        records, truth, t_std = load_demo(data_dir, entity, specs)
        if cache:
            cache_file.write_bytes(pickle.dumps((records, truth, t_std)))
    truth_clusters = clusters_from_labels(truth)
    truth_pairs = [(c[i], c[j]) for c in truth_clusters for i in range(len(c)) for j in range(i + 1, len(c))]

    if trace:
        tracemalloc.start()
    engine = MatchEngine(settings)
    cpu0 = _cpu()
    result = engine.run(records, truth_pairs=truth_pairs)
    cpu = _cpu() - cpu0
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    if trace:
        tracemalloc.stop()
    known = set(truth)
    ours = pairwise_scores([[r for r in c.records if r in known] for c in result.clusters], truth_clusters=truth_clusters)
    cc = pairwise_scores([[r for r in c if r in known] for c in engine.connected_components(result)],
                         truth_clusters=truth_clusters)
    st = result.stats
    out = {
        "entity": entity, "records": len(records), "entities": len(truth_clusters), "true_pairs": len(truth_pairs),
        "standardize_seconds": round(t_std, 2),
        "stages": {k: st[k]["seconds"] for k in ("prepare", "block", "train", "score", "cluster") if k in st},
        "engine_seconds": st["total_seconds"], "engine_cpu_seconds": round(cpu, 2),
        "pairs": st["score"]["pairs"], "pairs_per_second": st["score"]["pairs_per_second"],
        "pair_completeness": st["block"].get("pair_completeness"),
        "peak_rss_mb": st["peak_rss_mb"], "tracemalloc_peak_mb": traced_peak,
        "clustering": ours, "connected_components": cc,
        "possible_matches": len(result.possible_matches), "merge_proposals": len(result.merge_proposals),
    }
    if incremental:
        out["incremental"] = _incremental(engine, result, records, incremental)
    if verbose:
        _print(out, result)
    return out


def _cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _incremental(engine: MatchEngine, result, records: list, n: int) -> dict:
    """Time one-record decisions: key lookup in an in-memory index, then match_record."""
    index = KeyIndex(engine.settings.blocking.max_block_size)
    keys_of = {}
    for rid, _src, attrs in records:
        keys_of[rid] = engine.blocking_keys(attrs)
        index.add(rid, keys_of[rid])
    by_id = {r[0]: r for r in records}
    members: dict[int, list[int]] = {}
    for rid, k in result.cluster_of.items():
        members.setdefault(k, []).append(rid)
    rng = random.Random(7)
    sample = rng.sample(records, min(n, len(records)))
    times, cands_n, agree = [], [], 0
    for rec in sample:
        rid = rec[0]
        cand_ids = index.lookup(keys_of[rid], exclude=rid)
        clusters = {result.cluster_of[c] for c in cand_ids}
        full = {m for k in clusters for m in members[k] if m != rid}
        cands = [by_id[c] for c in full]
        cluster_of = {c: result.cluster_of[c] for c in full}
        t0 = time.perf_counter()
        d = engine.match_record(rec, cands, cluster_of)
        times.append((time.perf_counter() - t0) * 1000)
        cands_n.append(len(cands))
        same = [m for m in members[result.cluster_of[rid]] if m != rid]
        expected = result.cluster_of[rid] if same else None
        got = d.cluster_id if d.action in ("join", "merge", "merge_proposal") else None
        agree += expected == got
    times.sort()
    return {"records": len(sample), "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2), "max_ms": round(times[-1], 2),
            "mean_candidates": round(float(np.mean(cands_n)), 1),
            "agrees_with_batch": round(agree / len(sample), 4)}


def _print(out: dict, result) -> None:
    print(f"== {out['entity']}: {out['records']} records, {out['entities']} entities, {out['true_pairs']} true pairs")
    print(f"standardize (hub ingestion, not engine): {out['standardize_seconds']} s")
    print("engine stages (s): " + ", ".join(f"{k} {v}" for k, v in out["stages"].items())
          + f"  | total {out['engine_seconds']} s wall, {out['engine_cpu_seconds']} s CPU (2 cores)")
    print(f"pairs compared {out['pairs']}  ({out['pairs_per_second']} pairs/s in scoring), "
          f"pair completeness {out['pair_completeness']}")
    for name, p in result.stats["block"]["passes"].items():
        print(f"  pass {name:<14} keys {p['keys']:>8}  capped {p['capped_keys']:>5}  pairs {p['pairs']:>9}")
    mem = f"peak RSS {out['peak_rss_mb']} MB"
    if out["tracemalloc_peak_mb"] is not None:
        mem += f", tracemalloc peak {out['tracemalloc_peak_mb']:.1f} MB"
    print(mem)
    print(f"model: lambda {result.model.lambda_:.3g} ({result.model.training.get('prior_source')})")
    for name, prm in result.model.params.items():
        w = prm.weights()
        print(f"  {name:<16} " + ", ".join(f"{lab} {wt:+.1f}" for lab, wt in zip(prm.labels, w) if lab != "null"))
    print(f"{'':<24}{'precision':>10}{'recall':>10}{'F1':>10}{'pairs':>9}")
    for label, sc in (("our clustering", out["clustering"]), ("connected components", out["connected_components"])):
        print(f"{label:<24}{sc['precision']:>10.4f}{sc['recall']:>10.4f}{sc['f1']:>10.4f}{sc['predicted']:>9}")
    print(f"possible matches {out['possible_matches']}, merge proposals {out['merge_proposals']}")
    if "incremental" in out:
        inc = out["incremental"]
        print(f"incremental: {inc['records']} records, median {inc['median_ms']} ms, p95 {inc['p95_ms']} ms, "
              f"max {inc['max_ms']} ms, {inc['mean_candidates']} candidates on average, "
              f"agrees with batch {inc['agrees_with_batch']:.1%}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, nargs="?", default=HERE.parent / "var" / "demo")
    ap.add_argument("--entity", default="all", choices=["customer", "product", "all"])
    ap.add_argument("--matching", type=Path, help="YAML whose matching: section replaces the entity's")
    ap.add_argument("--incremental", type=int, default=0, metavar="N", help="also time N one-record decisions")
    ap.add_argument("--tracemalloc", action="store_true", help="trace Python allocations (slower)")
    ap.add_argument("--no-cache", action="store_true", help="re-standardize instead of reusing a cached pickle")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    entities = ["customer", "product"] if args.entity == "all" else [args.entity]
    outs = [bench(args.data, e, matching_file=args.matching, incremental=args.incremental, trace=args.tracemalloc,
                  cache=not args.no_cache, verbose=not args.json) for e in entities]
    if args.json:
        json.dump(outs, sys.stdout, indent=2, default=str)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
