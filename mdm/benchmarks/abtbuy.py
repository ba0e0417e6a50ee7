"""Abt-Buy: real retailer catalogs matched through the hub's own commands.

    python manage.py benchmark abtbuy [--data ../shared/benchmarks/abt-buy]

Runs what a user would: add_source abt/buy, ingest both CSVs (Abt.csv is
Latin-1, detected), match --entity product, export_xref; then scores the
exported cross-reference pairwise against abt_buy_perfectMapping.csv.
Needs a database without other product records.
"""
from __future__ import annotations

import csv
import io
import tempfile
import time
from itertools import combinations
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from mdm.benchmarks.common import database_label, peak_rss_mib
from mdm.models import SourceRecord

DEFAULT_DATA = Path(settings.BASE_DIR).parent / "shared" / "benchmarks" / "abt-buy"


def add_arguments(parser):
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--retrain", action="store_true")


def score(xref_path: Path, mapping_path: Path) -> dict:
    golden_of: dict[tuple[str, str], str] = {}
    with open(xref_path, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["source"] in ("abt", "buy"):
                golden_of[(row["source"], row["source_id"])] = row["golden_id"]
    members: dict[str, list[tuple[str, str]]] = {}
    for key, golden in golden_of.items():
        members.setdefault(golden, []).append(key)
    predicted = set()
    for group in members.values():
        for a, b in combinations(sorted(group), 2):
            if a[0] != b[0]:  # the mapping only lists Abt-Buy pairs
                predicted.add((a[1], b[1]) if a[0] == "abt" else (b[1], a[1]))
    with open(mapping_path, encoding="utf-8") as handle:
        truth = {(r["idAbt"], r["idBuy"]) for r in csv.DictReader(handle)}
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"predicted": len(predicted), "true": len(truth), "tp": tp,
            "precision": precision, "recall": recall, "f1": f1}


def run(command, *, data, retrain, **_):
    out = command.stdout.write
    if SourceRecord.objects.filter(entity_type__code="product").exclude(source_system__code__in=["abt", "buy"]).exists():
        out(command.style.ERROR("This database holds other product records; run on an empty database."))
        return
    quiet = io.StringIO()
    started = time.perf_counter()
    for path in sorted((Path(settings.BASE_DIR) / "mdm" / "config" / "entities").glob("*.yaml")):
        call_command("load_entity_config", str(path), stdout=quiet)
    call_command("add_source", "abt", "--name", "Abt", "--kind", "ecommerce", stdout=quiet)
    call_command("add_source", "buy", "--name", "Buy", "--kind", "ecommerce", stdout=quiet)
    timings = {}
    for source, name, maps in (("abt", "Abt.csv", ["price=list_price"]),
                               ("buy", "Buy.csv", ["price=list_price"])):
        t0 = time.perf_counter()
        args = [str(data / name), "--source", source, "--entity", "product", "--defer-match", "--no-progress"]
        for m in maps:
            args += ["--map", m]
        try:
            call_command("ingest", *args, stdout=quiet)
        except SystemExit as exc:  # some rows rejected: reported, not fatal
            out(f"{name}: ingest exited {exc.code} (rows rejected)")
        timings[f"ingest {name}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    match_out = io.StringIO()
    call_command("match", "--entity", "product", "--no-progress", *(["--retrain"] if retrain else []), stdout=match_out)
    timings["match"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        xref = Path(tmp) / "xref.csv"
        call_command("export_xref", "--entity", "product", "--output", str(xref), stdout=quiet)
        result = score(xref, data / "abt_buy_perfectMapping.csv")
    out(match_out.getvalue().strip())
    out(f"database: {database_label()}; " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        + f"; total {time.perf_counter() - started:.1f}s; peak RSS {peak_rss_mib():.0f} MiB")
    out(f"Abt-Buy pairwise: precision {result['precision']:.3f}  recall {result['recall']:.3f}  "
        f"F1 {result['f1']:.3f}  ({result['tp']} of {result['true']} true pairs, {result['predicted']} predicted)")
    # The same scored pairs clustered as plain connected components (chains), for comparison.
    from mdm.models import EntityType
    from mdm.services.matching import match_all

    stats = match_all("product")  # a re-run: same model, same pairs, golden IDs unchanged
    engine_result = stats.result
    from mdm.services.matching import engine_for

    components = engine_for(EntityType.objects.get(code="product")).connected_components(engine_result)
    ids = dict(SourceRecord.objects.filter(entity_type__code="product").values_list("id", "source_system__code"))
    sids = dict(SourceRecord.objects.filter(entity_type__code="product").values_list("id", "source_id"))
    with tempfile.TemporaryDirectory() as tmp:
        xref = Path(tmp) / "cc.csv"
        with open(xref, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "source_id", "golden_id"])
            for n, members in enumerate(components):
                for rid in members:
                    writer.writerow([ids[rid], sids[rid], f"CC-{n}"])
        cc = score(xref, data / "abt_buy_perfectMapping.csv")
    out(f"  plain connected components of the same pairs: precision {cc['precision']:.3f}  "
        f"recall {cc['recall']:.3f}  F1 {cc['f1']:.3f}")
