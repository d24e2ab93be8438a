"""S3 storage that builds its per-thread connections from one boto3 session.

django-storages keeps one boto3 resource per thread (resources are not
thread-safe) and builds each from a new boto3 session. Under ASGI, Django runs
each request's synchronous code in a thread of its own, so every request that
touched storage (signing the audio URLs of a lease, saving an upload) built a
new session, which loads botocore's service models again: 100 to 600 ms of CPU
per request on a 2-core machine. Resources built from one session share its
loaded models and cost a few milliseconds. Building clients from one session
concurrently is not safe, hence the lock.

A module of its own: the embedded shape never imports boto3.
"""

from __future__ import annotations

import threading

from storages.backends.s3 import S3Storage as BaseS3Storage

_SESSION_LOCK = threading.Lock()


class S3Storage(BaseS3Storage):
    def __init__(self, **settings):
        super().__init__(**settings)
        self._session = None
        self._client = None

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_session", None)
        state.pop("_client", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._session = None
        self._client = None

    @property
    def connection(self):
        connection = getattr(self._connections, "connection", None)
        if connection is None:
            with _SESSION_LOCK:
                if self._session is None:
                    self._session = self._create_session()
                # The arguments django-storages builds its resource with.
                connection = self._session.resource(
                    "s3",
                    region_name=self.region_name,
                    use_ssl=self.use_ssl,
                    endpoint_url=self.endpoint_url,
                    config=self.client_config,
                    verify=self.verify,
                )
            self._connections.connection = connection
        return connection

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
