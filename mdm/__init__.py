"""The MDM hub's Django project and core domain.

Importing the Celery app here makes ``@shared_task`` bind to it whenever Django
starts, so tasks enqueued from web requests use the configured broker.
"""
from mdm.celery import app as celery_app

__all__ = ["celery_app"]
