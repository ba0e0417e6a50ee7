from django.core.management.base import BaseCommand, CommandError

from mdm.api.common import parse_time
from mdm.models import Delivery, Subscription
from mdm.services.publishing import replay


class Command(BaseCommand):
    help = ("Replay dead letters (deliveries that failed with a 4xx or ran out of retries). "
            "Deliveries whose record the subscriber has since received at a newer version are marked superseded.")

    def add_arguments(self, parser):
        parser.add_argument("--subscription", help="name or id of one subscription")
        parser.add_argument("--since", help="only events written since this ISO 8601 time")
        parser.add_argument("--delivery", type=int, action="append", default=[], help="a delivery id (repeatable)")
        parser.add_argument("--all-dead", action="store_true", help="every dead letter (of the subscription if given)")

    def handle(self, *args, **opts):
        if not (opts["all_dead"] or opts["delivery"] or opts["subscription"] or opts["since"]):
            raise CommandError("say what to replay: --all-dead, --delivery ID, --subscription or --since")
        deliveries = Delivery.objects.all()
        if opts["delivery"]:
            deliveries = deliveries.filter(pk__in=opts["delivery"])
        if opts["subscription"]:
            key = opts["subscription"]
            sub = Subscription.objects.filter(name=key).first() or (
                Subscription.objects.filter(pk=int(key)).first() if key.isdigit() else None)
            if sub is None:
                raise CommandError(f"no subscription {key!r}")
            deliveries = deliveries.filter(subscription=sub)
        if opts["since"]:
            try:
                since = parse_time(opts["since"], "since")
            except Exception as exc:  # DRF's ValidationError carries the message
                raise CommandError(f"--since: {opts['since']!r} is not an ISO 8601 time") from exc
            deliveries = deliveries.filter(created_at__gte=since)
        candidates = deliveries.filter(status__in=Delivery.DEAD_LETTERS).count()
        result = replay(deliveries, actor="manage.py replay")
        self.stdout.write(f"{candidates} dead letter(s): {result.requeued} re-queued, "
                          f"{result.superseded} superseded by newer versions")
