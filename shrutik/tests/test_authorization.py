"""Who may do what to whose objects: the API's authorisation matrix, and signed audio URLs.

One table: every object endpoint and method against each actor, with the status
code each must get. "owner" recorded ``world.recording`` and holds the lease on
``world.lease``'s chunk; "researcher" requested ``world.export``. Besides the
codes, no answer to anyone but the owner and reviewers may carry the owner's
original audio (its storage key appears in every URL that reads it). A second
table does the same for the pages (the researchers' and the admin's), signed
in with a session: the reviewer is made as the admin makes one, staff status
included, and must open nothing of the researchers'.
"""

from __future__ import annotations

import json
import time
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing
from rest_framework.test import APIClient

from shrutik.storage import SIGNED_MEDIA_SALT, signed_media_key, signed_url
from shrutik.tests.figures import report_figures
from shrutik.tests.seeded import World, bearer, seed_world

pytestmark = pytest.mark.django_db

ACTORS = ("owner", "other", "reviewer", "researcher", "other_researcher", "anonymous")
# The actors who may hear the owner's original recording.
MAY_HEAR_ORIGINAL = {"owner", "reviewer"}


def _row(method, path, body, *codes):
    assert len(codes) == len(ACTORS)
    return (method, path, body, dict(zip(ACTORS, codes, strict=True)))


# fmt: off
# (method, path, body, {actor: expected status}); {recording}, {chunk}, {leased},
# {export} are the seeded objects' ids.
MATRIX = [
    #                                                owner other rev  res  o_res anon
    _row("GET", "/api/recordings/{recording}/", None, 200, 404, 200, 404, 404, 401),
    _row("GET", "/api/chunks/{chunk}/", None,         403, 403, 200, 403, 403, 401),
    _row("GET", "/api/chunks/{leased}/", None,        403, 403, 200, 403, 403, 401),
    _row("POST", "/api/tasks/{leased}/skip/", {},     200, 409, 409, 409, 409, 401),
    _row("POST", "/api/tasks/{leased}/report/", {},   200, 409, 409, 409, 409, 401),
    _row("POST", "/api/tasks/{leased}/release/", {},  200, 409, 409, 409, 409, 401),
    _row("POST", "/api/tasks/{leased}/verify/", {"matches": True},
                                                      201, 409, 409, 409, 409, 401),
    _row("POST", "/api/transcriptions/", {"chunk": "{leased}", "text": "আমি চা খাই"},
                                                      201, 409, 409, 409, 409, 401),
    _row("GET", "/api/exports/{export}/", None,       403, 403, 403, 200, 404, 401),
    _row("GET", "/api/exports/{export}/archive/", None,
                                                      403, 403, 403, 200, 404, 401),
    _row("POST", "/api/exports/", {"formats": ["nemo"]},
                                                      403, 403, 403, 202, 202, 401),
    _row("GET", "/api/exports/", None,                403, 403, 403, 200, 200, 401),
    _row("GET", "/api/recordings/", None,             200, 200, 200, 200, 200, 401),
    _row("GET", "/api/transcriptions/", None,         200, 200, 200, 200, 200, 401),
    _row("GET", "/api/me/", None,                     200, 200, 200, 200, 200, 401),
    _row("PATCH", "/api/me/", {"dialect": "Dhaka"},   200, 200, 200, 200, 200, 401),
    _row("DELETE", "/api/me/", None,                  200, 200, 200, 200, 200, 401),
    _row("GET", "/api/scripts/next/?language=bn", None,
                                                      200, 200, 200, 200, 200, 401),
    _row("GET", "/api/tasks/next/?language=bn", None, 200, 200, 200, 200, 200, 401),
    _row("GET", "/api/languages/", None,              200, 200, 200, 200, 200, 200),
    _row("GET", "/api/stats/", None,                  200, 200, 200, 200, 200, 200),
]
# Pages, signed in with a session. Reviewers are staff (the review queue is in
# the admin), which opens nothing of the researchers'; the admin sends anyone
# who is not staff to its login (302).
PAGES = [
    #                                                owner other rev  res  o_res anon
    _row("GET", "/exports/", None,                    403, 403, 403, 200, 200, 302),
    _row("GET", "/admin/exports/export/", None,       302, 302, 403, 302, 302, 302),
    _row("GET", "/admin/exports/export/{export}/change/", None,
                                                      302, 302, 403, 302, 302, 302),
    _row("GET", "/admin/consensus/reviewchunk/", None,
                                                      302, 302, 200, 302, 302, 302),
    _row("GET", "/admin/consensus/reviewchunk/{chunk}/change/", None,
                                                      302, 302, 200, 302, 302, 302),
    _row("GET", "/admin/contributors/user/", None,    302, 302, 403, 302, 302, 302),
]
# fmt: on

# (label, actor) -> status received, printed as a table at the end of the module
_SEEN: dict[tuple[str, str], int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    width = max(len(f"{m} {p}") for m, p, _, _ in [*MATRIX, *PAGES])
    lines = [
        "Authorization matrix (status received; * marks a cell that differed from the table)",
        f"{'endpoint':<{width}} " + " ".join(f"{a[:8]:>8}" for a in ACTORS),
    ]
    for method, path, _, codes in [*MATRIX, *PAGES]:
        label = f"{method} {path}"
        cells = []
        for actor in ACTORS:
            got = _SEEN.get((label, actor))
            mark = "" if got == codes[actor] else "*"
            cells.append(f"{'-' if got is None else got}{mark}".rjust(8))
        lines.append(f"{label:<{width}} " + " ".join(cells))
    lines.append(f"{len(_SEEN)} endpoint x actor cells checked")
    report_figures(request, "authorization-matrix", lines)


def _fill(value, world: World):
    ids = {
        "recording": world.recording.id,
        "chunk": world.chunks[0].id,
        "leased": world.lease.chunk_id,
        "export": world.export.id,
    }
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "codes"),
    [pytest.param(*row, id=f"{row[0]} {row[1]}") for row in MATRIX],
)
def test_authorization_matrix(method, path, body, codes):
    world = seed_world()
    wrong = []
    # The owner goes first: later actors must not be able to act on what it holds.
    for actor in ACTORS:
        client = APIClient()
        if (user := world.user(actor)) is not None:
            client.credentials(HTTP_AUTHORIZATION=bearer(user)["Authorization"])
        response = client.generic(
            method,
            _fill(path, world),
            data=None if body is None else json.dumps(_fill(body, world)),
            content_type="application/json",
        )
        content = b"".join(response.streaming_content) if response.streaming else response.content
        _SEEN[(f"{method} {path}", actor)] = response.status_code
        if response.status_code != codes[actor]:
            expected = codes[actor]
            wrong.append(f"{actor}: {response.status_code}, expected {expected}: {content[:200]}")
        if response.status_code >= 400 and not response.json().get("detail"):
            wrong.append(f"{actor}: {response.status_code} without a detail")
        if actor not in MAY_HEAR_ORIGINAL and world.recording.audio.name.encode() in content:
            wrong.append(f"{actor}: was given the owner's original audio")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("method", "path", "body", "codes"),
    [pytest.param(*row, id=f"{row[0]} {row[1]}") for row in PAGES],
)
def test_page_matrix(client, method, path, body, codes):
    world = seed_world()
    # The seeded reviewer is what the admin's "grant reviewer" makes.
    assert world.reviewer.is_staff and not world.reviewer.is_superuser
    wrong = []
    for actor in ACTORS:
        client.logout()
        if (user := world.user(actor)) is not None:
            client.force_login(user)
        response = client.generic(method, _fill(path, world))
        _SEEN[(f"{method} {path}", actor)] = response.status_code
        if response.status_code != codes[actor]:
            wrong.append(f"{actor}: {response.status_code}, expected {codes[actor]}")
        elif response.status_code == 302 and not response["Location"].startswith(
            "/admin/login/" if path.startswith("/admin/") else "/accounts/login/"
        ):
            wrong.append(f"{actor}: sent to {response['Location']}, not to the login")
    assert not wrong, "\n".join(wrong)


def _ids(response) -> set[str]:
    return {str(item["id"]) for item in response.json()["results"]}


def test_lists_show_only_what_the_actor_may_see():
    world = seed_world()
    mine, theirs = str(world.recording.id), str(world.other_recording.id)

    def get(actor, path):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(world.user(actor))["Authorization"])
        response = client.get(path)
        assert response.status_code == 200
        return response

    assert _ids(get("owner", "/api/recordings/")) == {mine}
    assert _ids(get("other", "/api/recordings/")) == {theirs}
    assert _ids(get("researcher", "/api/recordings/")) == set()
    assert {mine, theirs} <= _ids(get("reviewer", "/api/recordings/"))
    assert _ids(get("owner", "/api/transcriptions/")) == {str(world.transcription.id)}
    assert _ids(get("other", "/api/transcriptions/")) == set()
    assert _ids(get("researcher", "/api/exports/")) == {str(world.export.id)}
    assert _ids(get("other_researcher", "/api/exports/")) == {str(world.other_export.id)}
    for actor in ("owner", "other", "reviewer"):
        assert get(actor, "/api/me/").json()["username"] == world.user(actor).username


def test_audio_urls_are_given_only_with_access():
    """The owner and reviewers get the original's URL; a transcriber gets only the chunk's."""
    world = seed_world()
    original = world.recording.audio.name

    def as_actor(actor):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer(world.user(actor))["Authorization"])
        return client

    body = as_actor("owner").get(f"/api/recordings/{world.recording.id}/").json()
    assert urlparse(body["audio_url"]).path.endswith(original)
    assert len(body["chunks"]) == 3 and all(c["audio_url"] for c in body["chunks"])
    body = as_actor("reviewer").get(f"/api/chunks/{world.chunks[0].id}/").json()
    assert urlparse(body["audio_url"]).path.endswith(world.chunks[0].audio.name)
    # A transcriber leasing the owner's chunks hears those chunks, never the original.
    tasks = as_actor("other").get("/api/tasks/next/?language=bn&count=10").json()
    assert {t["chunk"] for t in tasks} == {str(c.id) for c in world.chunks}
    paths = {urlparse(t["audio_url"]).path for t in tasks}
    assert all("/chunks/" in path for path in paths)
    assert original not in str(tasks)
    # ... and the owner is never given their own chunks to transcribe.
    own = as_actor("owner").get("/api/tasks/next/?language=bn&count=10").json()
    assert not {t["chunk"] for t in own} & {str(c.id) for c in world.chunks}


def test_s3_audio_urls_are_presigned_for_one_object_and_expire(settings):
    world = seed_world()
    settings.SIGNED_URL_SECONDS = 321
    url = signed_url(world.chunks[0].audio.name, expires=settings.SIGNED_URL_SECONDS)
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert parsed.path.endswith("/" + world.chunks[0].audio.name)
    assert query["X-Amz-Expires"] == ["321"]
    assert query["X-Amz-Signature"][0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(world.owner)["Authorization"])
    body = client.get(f"/api/recordings/{world.recording.id}/").json()
    assert parse_qs(urlparse(body["audio_url"]).query)["X-Amz-Expires"] == ["321"]


@pytest.fixture
def filesystem_storage(settings, tmp_path):
    """Local storage, where signed URLs are Django-signed tokens served by the app."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.STORAGE_BACKEND = "filesystem"
    for name, content in {"chunks/a/0.flac": b"chunk-a", "chunks/b/0.flac": b"chunk-b"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    return tmp_path


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_filesystem_signed_url_reads_exactly_its_object(filesystem_storage, client):
    url = signed_url("chunks/a/0.flac", expires=60)
    assert url.startswith("/media/signed/")
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"chunk-a"
    assert response["Cache-Control"].startswith("private")
    # The token is the whole authorisation and names one key: nothing in the URL
    # can be edited to reach another object.
    assert "chunks" not in url
    assert signed_media_key(_token(url)) == "chunks/a/0.flac"


def test_filesystem_signed_url_can_name_the_download(filesystem_storage, client):
    url = signed_url("chunks/a/0.flac", expires=60, filename="validated.tsv")
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="validated.tsv"'
    assert b"".join(response.streaming_content) == b"chunk-a"
    # Without a name the object is served inline, as audio players want it.
    plain = client.get(signed_url("chunks/a/0.flac", expires=60))
    assert "Content-Disposition" not in plain
    plain.close()


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), id="tampered"),
        pytest.param(lambda t: t.replace(":", ";", 1), id="mangled"),
        pytest.param(
            lambda t: signing.dumps({"k": "chunks/b/0.flac", "e": 60}, salt="other.salt"),
            id="wrong-salt",
        ),
        pytest.param(
            lambda t: signing.dumps({"k": "chunks/b/0.flac", "e": 60}, key="not-the-key" * 5),
            id="wrong-key",
        ),
        pytest.param(lambda t: "garbage", id="garbage"),
    ],
)
def test_forged_or_tampered_tokens_are_refused(filesystem_storage, client, forge):
    token = _token(signed_url("chunks/a/0.flac", expires=60))
    response = client.get(f"/media/signed/{forge(token)}/")
    assert response.status_code == 403
    assert "invalid or has expired" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"k": 5, "e": 60},
        {"k": ["chunks/a/0.flac"], "e": 60},
        {"k": {"path": "chunks/a/0.flac"}, "e": 60},
        {"k": "", "e": 60},
        {"k": None, "e": 60},
        {"e": 60},
        {"k": "chunks/a/0.flac", "e": "60"},
        {"k": "chunks/a/0.flac", "e": [60]},
        ["chunks/a/0.flac", 60],
        "chunks/a/0.flac",
        7,
    ],
    ids=repr,
)
def test_well_signed_but_malformed_tokens_are_refused(filesystem_storage, client, payload):
    """Only our code signs tokens, but what they hold is checked all the same."""
    token = signing.dumps(payload, salt=SIGNED_MEDIA_SALT, compress=True)
    response = client.get(f"/media/signed/{token}/")
    assert response.status_code == 403
    assert "invalid or has expired" in response.json()["detail"]


def test_a_signed_key_outside_the_storage_is_not_found(filesystem_storage, client):
    token = signing.dumps({"k": "../outside.flac", "e": 60}, salt=SIGNED_MEDIA_SALT)
    response = client.get(f"/media/signed/{token}/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


def test_filesystem_signed_url_expires(filesystem_storage, client):
    issued = time.time() - 120
    with mock.patch("django.core.signing.time.time", return_value=issued):
        expired = signed_url("chunks/a/0.flac", expires=60)
        fresh = signed_url("chunks/a/0.flac", expires=600)
    assert client.get(expired).status_code == 403
    assert signed_media_key(_token(expired)) is None
    response = client.get(fresh)
    assert response.status_code == 200
    response.close()  # releases the file without reading it
    # However long an issuer asks for, a token stops working after a day.
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 86400 - 5):
        long_lived = signed_url("chunks/a/0.flac", expires=10 * 86400)
    assert client.get(long_lived).status_code == 403


def test_a_signed_token_is_not_reusable_for_other_signed_data(filesystem_storage, client):
    """Other signed values in the product (sessions, JWTs) are not media tokens."""
    other = signing.dumps({"k": "chunks/b/0.flac", "e": 60})  # default salt
    assert client.get(f"/media/signed/{other}/").status_code == 403
    real = signing.dumps({"k": "chunks/b/0.flac", "e": 60}, salt=SIGNED_MEDIA_SALT)
    response = client.get(f"/media/signed/{real}/")
    assert response.status_code == 200
    response.close()  # releases the file without reading it
