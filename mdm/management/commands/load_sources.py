from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mdm.services.sources import SourceConfigInvalid, load_sources


class Command(BaseCommand):
    help = "Load source systems and their field mappings from a YAML file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, **opts):
        path = opts["file"]
        if not path.exists():
            raise CommandError(f"no such file: {path}")
        try:
            sources = load_sources(path.read_text(encoding="utf-8"), str(path))
        except SourceConfigInvalid as exc:
            raise CommandError(str(exc)) from exc
        for source in sources:
            mapped = ", ".join(m.entity_type.code for m in source.mappings.select_related("entity_type"))
            self.stdout.write(f"source {source.code}: {source.name} (mappings: {mapped or 'none'})")
