from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mdm.services.entity_config import EntityConfigInvalid, save_entity_config


class Command(BaseCommand):
    help = "Validate and load entity type configs (YAML). A new entity type needs only a config file."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--check", action="store_true", help="validate only, write nothing")

    def handle(self, *args, **opts):
        from mdm.services.entity_config import check_entity_config

        failures = []
        for path in opts["files"]:
            if not path.exists():
                raise CommandError(f"no such file: {path}")
            text = path.read_text(encoding="utf-8")
            try:
                if opts["check"]:
                    data = check_entity_config(text, str(path))
                    self.stdout.write(f"{path}: valid ({data['code']}, {len(data['attributes'])} attributes)")
                    continue
                entity, created, changed = save_entity_config(text, filename=str(path), user="command line")
            except EntityConfigInvalid as exc:
                failures.append(str(exc))
                continue
            state = "created" if created else (f"updated to v{entity.version}" if changed else "unchanged")
            self.stdout.write(f"{path}: entity type {entity.code} {state}")
        if failures:
            raise CommandError("invalid entity config:\n" + "\n".join(failures))
