from django.core.management.base import BaseCommand, CommandError

from mdm.models import SourceSystem
from mdm.services.sources import SourceConfigInvalid, add_source


class Command(BaseCommand):
    help = "Register (or update) a source system."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", default="other", choices=[k.value for k in SourceSystem.Kind])
        parser.add_argument("--region", default="US", help="default phone/postcode region (ISO alpha-2)")
        parser.add_argument("--inactive", action="store_true")

    def handle(self, *args, **opts):
        try:
            source, created = add_source(code=opts["code"], name=opts["name"], kind=opts["kind"],
                                         default_region=opts["region"], active=not opts["inactive"])
        except SourceConfigInvalid as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"source {source.code} {'created' if created else 'updated'} ({source.get_kind_display()})")
