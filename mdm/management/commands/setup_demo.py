"""Everything `make run` needs beyond migrate: configs, sources, users, and on
first start the demo data, ingested and matched."""
from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from mdm.demo import generator
from mdm.demo.load import ensure_demo_users, ingest_demo_files, load_configs
from mdm.models import SourceRecord


class Command(BaseCommand):
    help = "Load configs and demo users; on first start generate, ingest and match demo data."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=600)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--force-data", action="store_true", help="load demo data even if records exist")

    def handle(self, *args, **opts):
        started = time.perf_counter()
        load_configs()
        credentials = ensure_demo_users(Path(settings.VAR_DIR) / "demo-credentials.txt")
        if opts["force_data"] or not SourceRecord.objects.exists():
            folder = Path(settings.VAR_DIR) / "demo"
            self.stdout.write(f"Generating demo extracts for {opts['customers']} customers in {folder} …")
            generator.generate(folder, customers=opts["customers"], seed=opts["seed"])
            self.stdout.write("Ingesting:")
            ingest_demo_files(folder, report=self.stdout.write)
            from mdm.services.matching import NotMatchable, match_all

            self.stdout.write("Matching:")
            for code in ("customer", "product", "price"):
                try:
                    stats = match_all(code)
                except NotMatchable as exc:
                    self.stdout.write(f"  {code}: {exc}")
                    continue
                self.stdout.write(f"  {code}: {stats.summary()}")
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.perf_counter() - started:.1f}s."))
        self.stdout.write("Sign in at http://127.0.0.1:8000/ with:")
        for user, password in credentials.items():
            self.stdout.write(f"  {user:8} {password}")
