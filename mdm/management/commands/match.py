"""python manage.py match --entity E [--retrain]: match every active record."""
from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mdm.models import EntityType
from mdm.services.matching import NotMatchable, match_all
from mdm.services.prices import is_price_entity

STAGES = ["load", "block, train, score, cluster", "write"]


class Command(BaseCommand):
    help = "Match all active records of an entity type into golden records (trains first if needed)."

    def add_arguments(self, parser):
        parser.add_argument("--entity", required=True)
        parser.add_argument("--retrain", action="store_true", help="train a new model version first")
        parser.add_argument("--wait", action="store_true",
                            help="for a big batch, wait until the background job has computed the golden values")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        entity = EntityType.objects.filter(code=opts["entity"]).first()
        if entity is None:
            raise CommandError(f"unknown entity type {opts['entity']!r}")
        disabled = opts["no_progress"] or None
        if is_price_entity(entity):
            # Prices are resolved chunk by chunk, not in stages: count the records.
            bar = tqdm(total=0, unit=" prices", desc="resolve prices", file=sys.stderr, disable=disabled)
            progress = None

            def counted(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)
        else:
            bar = tqdm(total=len(STAGES), unit=" stage", file=sys.stderr, disable=disabled)
            counted = None

            def progress(stage: str) -> None:
                bar.set_description(stage)
                if stage != STAGES[0]:
                    bar.update(1)

        started = time.perf_counter()
        try:
            stats = match_all(entity, retrain=opts["retrain"], progress=progress, counted=counted)
        except NotMatchable as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.update(bar.total - bar.n)
            bar.close()
        self.stdout.write(f"{entity.code}: {stats.summary()}")
        if stats.model_version:
            self.stdout.write(f"model version {stats.model_version}")
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in stats.stages.items())
        self.stdout.write(f"done in {time.perf_counter() - started:.1f}s ({stages})")
        if stats.recompute_job:
            self._follow(stats.recompute_job, opts)

    def _follow(self, job_id: int, opts) -> None:
        from mdm.models import RuleChangeJob

        job = RuleChangeJob.objects.get(pk=job_id)
        if job.finished or not opts["wait"]:
            self.stdout.write(f"golden values: job #{job_id} {job.status} ({job.processed}/{job.total}); "
                              "follow it in the admin (rule change jobs)")
            return
        bar = tqdm(total=job.total, unit=" golden", file=sys.stderr, disable=opts["no_progress"] or None,
                   desc="golden values")
        waited_idle = 0.0
        while not job.finished:
            time.sleep(0.5)
            previous = job.processed
            job.refresh_from_db()
            bar.update(job.processed - previous)
            waited_idle = 0.0 if job.processed != previous else waited_idle + 0.5
            if waited_idle == 30:
                self.stderr.write("no progress for 30 s: is a worker running? (celery -A mdm worker)")
        bar.close()
        self.stdout.write(f"golden values: job #{job_id} {job.status}, {job.processed} recomputed")
