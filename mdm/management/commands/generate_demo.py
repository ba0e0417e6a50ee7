"""python manage.py generate_demo [--customers N] [--products M] [--seed S] [--output DIR]

Writes the demo extracts of every source system plus ``ground_truth.csv``;
see :mod:`mdm.demo.generator`. Load them with the mappings of
``mdm/config/sources/demo.yaml``.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mdm.demo.generator import PRICE_CAP, Summary, generate


def positive_int(value: str) -> int:
    number = int(value.replace("_", "").replace(",", ""))
    if number < 1:
        raise ValueError(value)
    return number


def default_workers() -> int:
    # Blocks are independent, so processes scale almost linearly; a few are
    # plenty and leave the machine usable.
    return max(1, min(4, os.cpu_count() or 1))


def peak_rss_mb() -> tuple[float, float] | None:
    try:
        import resource
    except ImportError:  # Unix only
        return None
    # ru_maxrss is in KiB on Linux, bytes on macOS
    unit = 1 / 1024 if sys.platform != "darwin" else 1 / 1024 / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
    return own, children


class Command(BaseCommand):
    help = "Generate realistic demo extracts (ERP, CRM, eCommerce, WMS) and their ground truth."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=positive_int,
            default=10_000,
            help="real-world customers (default 10,000)",
        )
        parser.add_argument(
            "--products",
            type=positive_int,
            help="real-world products (default customers // 2, at least 50)",
        )
        parser.add_argument(
            "--prices",
            type=positive_int,
            help=f"approximate price rows (default 2 × customers, at most {PRICE_CAP:,})",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--output", type=Path, help="directory (default var/demo)")
        parser.add_argument(
            "--workers",
            type=positive_int,
            default=default_workers(),
            help="processes; the output does not depend on it (default: up to 4)",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        output: Path = opts["output"] or Path(settings.VAR_DIR) / "demo"
        show = not opts["no_progress"] and sys.stderr.isatty()

        def progress(phase: str, done: int, total: int) -> None:
            if show:
                sys.stderr.write(f"\r{phase}: {done}/{total} blocks")
                if done == total:
                    sys.stderr.write("\n")
                sys.stderr.flush()

        try:
            summary = generate(
                output,
                customers=opts["customers"],
                products=opts["products"],
                prices=opts["prices"],
                seed=opts["seed"],
                workers=opts["workers"],
                progress=progress,
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.report(summary)

    def report(self, summary: Summary) -> None:
        write = self.stdout.write
        write(
            f"Wrote {summary.output} (seed {summary.seed}: {summary.customers:,} customers, "
            f"{summary.products:,} products)"
        )
        width = max(len(f.name) for f in summary.files)
        for f in summary.files:
            what = f"{f.source}/{f.entity}" if f.source else "truth"
            write(f"  {f.name:<{width}}  {what:<14} {f.rows:>11,} rows  {f.bytes / 1e6:>9.1f} MB")
        customer_rows = sum(f.rows for f in summary.files if f.entity == "customer")
        all_rows = sum(f.rows for f in summary.files if f.source)
        secs = summary.seconds
        write(
            f"  products phase {secs['products']:.1f}s; customers and prices phase {secs['customers']:.1f}s "
            f"({customer_rows / max(secs['customers'], 1e-9):,.0f} customer rows/s); "
            f"{all_rows:,} data rows in {summary.total_seconds:.1f}s "
            f"({all_rows / max(summary.total_seconds, 1e-9):,.0f} rows/s)"
        )
        peak = peak_rss_mb()
        if peak:
            workers = f", {peak[1]:,.0f} MB (largest worker process)" if peak[1] else ""
            write(f"  peak RSS: {peak[0]:,.0f} MB (this process){workers}")
        planted = ", ".join(f"{k}={v:,}" for k, v in summary.planted.items())
        write(
            textwrap.fill(
                planted, width=110, initial_indent="  planted: ", subsequent_indent="    "
            )
        )
