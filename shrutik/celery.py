import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shrutik.settings")

app = Celery("shrutik")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
