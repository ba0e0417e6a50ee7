from django.core.management.base import BaseCommand, CommandError

from mdm.models import ApiClient, SourceSystem
from mdm.roles import steward_accounts


class Command(BaseCommand):
    help = ("Issue an API token. Scopes: write:<source>, read:<entity>|read:*, match:<entity>, tasks, "
            "steward:<entity>|steward:*, admin.")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--source", help="the source system this client writes as (adds write:<source>)")
        parser.add_argument("--scope", action="append", default=[], dest="scopes")
        parser.add_argument("--acts-for", metavar="USERNAME",
                            help="the data steward this client's steward actions (task decisions, merges, "
                                 "splits, overrides) are recorded as; needs the tasks or steward scope")

    def handle(self, *args, **opts):
        if ApiClient.objects.filter(name=opts["name"]).exists():
            raise CommandError(f"an API client named {opts['name']!r} exists; pick another name")
        source = None
        scopes = list(opts["scopes"])
        if opts["source"]:
            source = SourceSystem.objects.filter(code=opts["source"]).first()
            if source is None:
                raise CommandError(f"unknown source system {opts['source']!r}")
            scopes.append(f"write:{source.code}")
        if not scopes:
            raise CommandError("give at least one --scope or --source")
        acts_for = None
        if opts["acts_for"]:
            acts_for = steward_accounts().filter(username=opts["acts_for"]).first()
            if acts_for is None:
                raise CommandError(f"{opts['acts_for']!r} is not an active data steward (Stewards or Admins group)")
            if not {"tasks", "steward", "admin"} & {scope.partition(":")[0] for scope in scopes}:
                raise CommandError("--acts-for needs --scope tasks or --scope steward:<entity>")
        client, token = ApiClient.issue(name=opts["name"], scopes=sorted(set(scopes)), source_system=source,
                                        acts_for=acts_for)
        self.stdout.write(f"API client {client.name} ({', '.join(client.scopes)})"
                          + (f", acting for steward {acts_for.username}" if acts_for else ""))
        self.stdout.write(f"token (shown once, store it now): {token}")
