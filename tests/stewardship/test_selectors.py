"""Read-side queries of the steward UI (stewardship.selectors)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from mdm.models import StewardTask
from stewardship import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_of_five(hub):
    """Five open possible matches: priorities 5, 9, 5, 1, 5, the three fives opened at one instant."""
    tasks = [hub.possible_match(hub.customer(f"Firm {i} Co"), hub.customer(f"Firm {i} Company", source="crm"),
                                priority=priority)
             for i, priority in enumerate([5, 9, 5, 1, 5])]
    moment = timezone.now() - timedelta(hours=1)
    StewardTask.objects.filter(pk__in=[tasks[0].pk, tasks[2].pk, tasks[4].pk]).update(created_at=moment)
    return tasks


def test_neighbours_walk_the_queue_in_its_own_order_ties_broken_by_age_then_id(queue_of_five):
    queue = selectors.queue_base().filter(status=StewardTask.Status.OPEN)
    order = list(queue.values_list("id", flat=True))
    t = [task.pk for task in queue_of_five]
    assert order == [t[1], t[0], t[2], t[4], t[3]]

    for i, pk in enumerate(order):
        expected = (order[i - 1] if i else None, order[i + 1] if i + 1 < len(order) else None)
        assert selectors.neighbours(queue, StewardTask.objects.get(pk=pk)) == expected


def test_a_task_outside_the_filtered_queue_has_the_queues_first_task_next(queue_of_five):
    urgent = selectors.queue_base().filter(status=StewardTask.Status.OPEN, priority__gte=5)

    assert selectors.neighbours(urgent, queue_of_five[3]) == (None, queue_of_five[1].pk)
    assert selectors.neighbours(urgent.filter(priority__gt=100), queue_of_five[3]) == (None, None)


def test_a_task_the_steward_skipped_moves_behind_the_others_for_that_steward_only(queue_of_five, users):
    top = queue_of_five[1]
    top.details = {**(top.details or {}), "skipped_by": [users["steward"].get_username()]}
    top.save(update_fields=["details"])
    mine = selectors.queue_base(users["steward"]).filter(status=StewardTask.Status.OPEN)
    theirs = selectors.queue_base(users["steward2"]).filter(status=StewardTask.Status.OPEN)

    assert selectors.neighbours(mine, top) == (queue_of_five[3].pk, None)
    assert selectors.neighbours(theirs, top) == (None, queue_of_five[0].pk)
