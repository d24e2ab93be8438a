"""Races on the accounts API: real requests at once against a live server on PostgreSQL.

The live server answers each request in its own thread with its own database
connection, as a deployment's workers would.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from contributors.models import User

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 8


def race(call: Callable[[int], requests.Response], n: int = RACERS) -> list[requests.Response]:
    """``call(i)`` for i in 0..n-1, all released at the same moment."""
    start = threading.Barrier(n)

    def run(i: int) -> requests.Response:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_a_refresh_token_is_rotated_once_however_many_ask_at_once(live_server, contributor):
    url = f"{live_server.url}/api/auth/token/refresh/"
    for _ in range(3):
        refresh = str(RefreshToken.for_user(contributor))
        issued_before = OutstandingToken.objects.count()
        responses = race(lambda i, refresh=refresh: requests.post(url, json={"refresh": refresh}))

        codes = Counter(r.status_code for r in responses)
        assert codes == {200: 1, 401: RACERS - 1}, codes
        for response in responses:
            assert response.headers["Content-Type"] == "application/json"
            if response.status_code == 401:
                assert response.json()["detail"] == "Token is blacklisted"
        # Only the winner was given a new refresh token, and it works (once).
        assert OutstandingToken.objects.count() == issued_before + 1
        (winner,) = [r.json() for r in responses if r.status_code == 200]
        again = requests.post(url, json={"refresh": winner["refresh"]})
        assert again.status_code == 200
        assert requests.post(url, json={"refresh": winner["refresh"]}).status_code == 401


def test_one_username_is_registered_once_whatever_its_letter_case(live_server):
    url = f"{live_server.url}/api/auth/register/"
    spellings = ["racer", "Racer", "RACER", "rAcer", "raCer", "racEr", "raceR", "RaCeR"]

    def register(i: int) -> requests.Response:
        return requests.post(
            url,
            json={
                "username": spellings[i],
                "password": "a-long enough pass phrase",
                "consent": True,
                "consent_version": settings.CONSENT_VERSION,
            },
        )

    responses = race(register, len(spellings))

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 400: len(spellings) - 1}, codes
    for response in responses:
        assert response.headers["Content-Type"] == "application/json"
    for response in responses:
        if response.status_code == 400:
            assert response.json()["errors"] == {"username": ["This username is taken."]}
    assert User.objects.filter(username__iexact="racer").count() == 1
