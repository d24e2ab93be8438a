"""S3 storage that builds its per-thread connections from one boto3 session.

django-storages keeps one boto3 resource per thread (resources are not
thread-safe) and builds each from a new boto3 session. Under ASGI, Django runs
each request's synchronous code in a thread of its own, so every request that
touched storage (signing the audio URLs of a lease, saving an upload) built a
new session, which loads botocore's service models again: 100 to 600 ms of CPU
per request on a 2-core machine. Resources built from one session share its
loaded models and cost a few milliseconds. Building clients from one session
concurrently is not safe, hence the lock.

Signed URLs go to browsers, which may reach the S3 endpoint under another
address than the app does: in docker-compose the app talks to
``http://s3:8333`` on the internal network, while browsers fetch the audio
through nginx on the published port. ``AWS_S3_PUBLIC_ENDPOINT_URL`` names the
endpoint the URLs are signed for; signing is local (no request), so a client
for that endpoint costs nothing but its construction.

A module of its own: the embedded shape never imports boto3.
"""

from __future__ import annotations

import threading

from storages.backends.s3 import S3Storage as BaseS3Storage
from storages.utils import clean_name, setting

_SESSION_LOCK = threading.Lock()


class S3Storage(BaseS3Storage):
    def __init__(self, **settings):
        super().__init__(**settings)
        self._session = None
        self._client = None

    def get_default_settings(self):
        return {
            **super().get_default_settings(),
            "public_endpoint_url": setting("AWS_S3_PUBLIC_ENDPOINT_URL"),
        }

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_session", None)
        state.pop("_client", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._session = None
        self._client = None

    def _resource(self, endpoint_url):
        with _SESSION_LOCK:
            if self._session is None:
                self._session = self._create_session()
            # The arguments django-storages builds its resource with.
            return self._session.resource(
                "s3",
                region_name=self.region_name,
                use_ssl=self.use_ssl,
                endpoint_url=endpoint_url,
                config=self.client_config,
                verify=self.verify,
            )

    @property
    def connection(self):
        connection = getattr(self._connections, "connection", None)
        if connection is None:
            connection = self._connections.connection = self._resource(self.endpoint_url)
        return connection

    def url(self, name, parameters=None, expire=None, http_method=None):
        if not self.public_endpoint_url or self.custom_domain:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        signer = getattr(self._connections, "public", None)
        if signer is None:
            signer = self._connections.public = self._resource(self.public_endpoint_url)
        params = {
            **(parameters or {}),
            "Bucket": self.bucket_name,
            "Key": self._normalize_name(clean_name(name)),
        }
        return signer.meta.client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )

    @property
    def client(self):
        """One boto3 client for every thread of the process (clients, unlike
        resources, are thread-safe): what small, frequent writes use, so that
        no thread builds a resource of its own for them."""
        if self._client is None:
            # Any thread's will do; two threads racing here both build one and
            # one of them is kept.
            self._client = self.connection.meta.client
        return self._client
