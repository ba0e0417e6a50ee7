"""python manage.py benchmark <name> [options]: measure, print figures.

Each benchmark lives in ``mdm/benchmarks/<name>.py`` with ``add_arguments(parser)``
and ``run(command, **options)``.
"""
from __future__ import annotations

import importlib
import pkgutil

from django.core.management.base import BaseCommand

import mdm.benchmarks


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(mdm.benchmarks.__path__)
        if not m.name.startswith("_") and m.name != "common"
    )


class Command(BaseCommand):
    help = "Run a benchmark and print its figures: " + ", ".join(available())

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="benchmark", required=True)
        for name in available():
            module = importlib.import_module(f"mdm.benchmarks.{name}")
            sub_parser = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
            module.add_arguments(sub_parser)

    def handle(self, *args, **options):
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # benchmarks usually run on a fresh database
        module = importlib.import_module(f"mdm.benchmarks.{options['benchmark']}")
        module.run(self, **options)
