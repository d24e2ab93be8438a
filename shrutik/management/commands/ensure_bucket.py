from django.conf import settings
from django.core.management.base import BaseCommand

from shrutik.storage import storage_bucket_ensure


class Command(BaseCommand):
    help = "Create the S3 bucket named by AWS_STORAGE_BUCKET_NAME if it does not exist."

    def handle(self, *args, **options):
        if settings.STORAGE_BACKEND != "s3":
            self.stdout.write("Storage is the filesystem: no bucket to create.")
            return
        created = storage_bucket_ensure()
        name = settings.AWS_STORAGE_BUCKET_NAME
        self.stdout.write(f"Created bucket {name}." if created else f"Bucket {name} exists.")
