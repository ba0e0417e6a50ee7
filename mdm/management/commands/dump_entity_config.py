from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mdm.models import EntityType
from mdm.services.entity_config import dump_entity_config


class Command(BaseCommand):
    help = "Write an entity type's config (as stored, comments kept) to stdout or a file."

    def add_arguments(self, parser):
        parser.add_argument("entity")
        parser.add_argument("--output", "-o", type=Path)

    def handle(self, *args, **opts):
        entity = EntityType.objects.filter(code=opts["entity"]).first()
        if entity is None:
            raise CommandError(f"unknown entity type {opts['entity']!r}")
        text = dump_entity_config(entity)
        if opts["output"]:
            opts["output"].write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {opts['output']} ({entity.code} v{entity.version})")
        else:
            self.stdout.write(text, ending="")
