"""python manage.py explain_golden CUS-000123: each value with its source, rule and the values it beat."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from mdm.models import SourceRecord
from mdm.selectors import explain
from mdm.services.golden import resolve


def _show(value) -> str:
    if isinstance(value, list):  # aggregate: every distinct value with its sources
        return "; ".join(f"{v['value']} ({', '.join(v['sources'])})" for v in value)
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


class Command(BaseCommand):
    help = "Explain a golden record: values with lineage (source, rule, competing values), and its members."

    def add_arguments(self, parser):
        parser.add_argument("golden_id")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        golden = resolve(opts["golden_id"])
        if golden is None:
            raise CommandError(f"no golden record {opts['golden_id']!r}")
        lineage = explain(golden)
        if opts["json"]:
            self.stdout.write(json.dumps({"golden_id": golden.golden_id, "lineage": lineage}, indent=2,
                                         ensure_ascii=False, default=str))
            return
        if golden.golden_id != opts["golden_id"]:
            self.stdout.write(f"{opts['golden_id']} was merged into {golden.golden_id}")
        members = SourceRecord.objects.filter(golden=golden, deleted=False).values_list("source_system__code", "source_id")
        self.stdout.write(f"{golden.golden_id} v{golden.version} ({golden.status}), sources: "
                          + ", ".join(f"{s}:{i}" for s, i in sorted(members)))
        for name, entry in lineage.items():
            where = f"{entry['source']}:{entry['source_id']}" if entry["source"] else "several sources"
            if entry["override"]:
                where = f"override by {entry['override']['by']}: {entry['override']['reason']}"
            self.stdout.write(f"  {name:14} {_show(entry['value'])}  [{entry['rule']}, {where}]")
            for other in entry["competing"]:
                self.stdout.write(f"  {'':14}   beat {_show(other['value'])} from {other['source']}:"
                                  f"{other['source_id']} ({other['eliminated_by']})")
