"""The hub's Celery application.

Broker and behaviour come from Django settings (``CELERY_*``). Without
``REDIS_URL`` the settings switch Celery to eager mode, so a first run needs no
server software; with it, a real Redis broker and worker are used.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm.settings")

app = Celery("mdm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
