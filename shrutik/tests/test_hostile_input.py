"""Hostile request bodies: each gets a 4xx with a JSON ``detail``, and nothing is stored.

Bodies a client can send to any endpoint: nesting deep enough to exhaust the
JSON decoder, bodies over the size limit, form text that is not UTF-8, and keys
the endpoint does not know.
"""

from __future__ import annotations

import json
import uuid

import pytest
from rest_framework.test import APIClient

from exports.models import Export
from recordings.tests.factories import LanguageFactory, make_chunks
from transcriptions.models import Transcription

pytestmark = pytest.mark.django_db

SOME_CHUNK = uuid.uuid4()
# (method, path, who): anyone, a contributor, a researcher
ENDPOINTS = [
    ("post", "/api/auth/token/", None),
    ("post", "/api/auth/register/", None),
    ("post", "/api/auth/token/refresh/", None),
    ("patch", "/api/me/", "contributor"),
    ("post", "/api/transcriptions/", "contributor"),
    ("post", f"/api/tasks/{SOME_CHUNK}/skip/", "contributor"),
    ("post", f"/api/tasks/{SOME_CHUNK}/verify/", "contributor"),
    ("post", "/api/exports/", "researcher"),
]


@pytest.fixture
def client_as(request):
    def make(who: str | None) -> APIClient:
        # Server errors come back as responses, as a client would see them.
        client = APIClient(raise_request_exception=False)
        if who:
            client.force_authenticate(request.getfixturevalue(who))
        return client

    return make


def send(client: APIClient, method: str, path: str, body: bytes, content_type: str):
    return getattr(client, method)(path, data=body, content_type=content_type)


def assert_client_error(response, status: int, *, says: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert says in response.json()["detail"], response.json()


@pytest.mark.parametrize(("method", "path", "who"), ENDPOINTS)
def test_deeply_nested_json_is_a_400(client_as, method, path, who):
    client = client_as(who)
    brackets = b"[" * 1000 + b"]" * 1000  # 2,000 bytes: past the decoder's recursion limit
    response = send(client, method, path, brackets, "application/json")
    assert_client_error(response, 400, says="nested more than 32 levels")
    # Shallow enough for the decoder, deeper than any input of ours.
    objects = json.dumps(json.loads('{"a": ' * 40 + "1" + "}" * 40)).encode()
    response = send(client, method, path, objects, "application/json")
    assert_client_error(response, 400, says="nested more than 32 levels")


@pytest.mark.parametrize(("method", "path", "who"), ENDPOINTS)
def test_a_json_body_over_the_limit_is_a_413_naming_the_limit(client_as, method, path, who):
    body = json.dumps({"text": "a" * (10 * 1024 * 1024)}).encode()
    response = send(client_as(who), method, path, body, "application/json")
    assert_client_error(response, 413, says="over the 5.0\xa0MB limit")


def test_a_long_transcription_is_a_413_as_json_and_as_a_form(client_as):
    client = client_as("contributor")
    text = "আমি দুধ দিয়ে চা খাই " * 200_000  # 4 MB of characters, 11 MB as UTF-8
    body = json.dumps({"chunk": str(SOME_CHUNK), "text": text}, ensure_ascii=False)
    response = send(client, "post", "/api/transcriptions/", body.encode(), "application/json")
    assert_client_error(response, 413, says="over the 5.0\xa0MB limit")
    response = client.post(
        "/api/transcriptions/", {"chunk": str(SOME_CHUNK), "text": text}, format="multipart"
    )
    assert_client_error(response, 413, says="over the 5.0\xa0MB limit")
    assert not Transcription.objects.exists()


def test_django_s_own_400s_are_json_under_the_api(client_as):
    response = client_as(None).get("/api/languages/", HTTP_HOST="evil.example")
    assert_client_error(response, 400, says="Malformed request.")


@pytest.fixture
def leased_chunk(client_as, contributor):
    (chunk,) = make_chunks(1)
    client = client_as("contributor")
    response = client.get("/api/tasks/next/", {"language": "bn", "count": 1})
    assert [task["chunk"] for task in response.json()] == [str(chunk.id)]
    return chunk


def _multipart(fields: dict[str, bytes], boundary: str = "shrutik-boundary"):
    """A multipart body byte for byte (the test client would encode the values)."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_form_text_that_is_not_utf8_is_refused(client_as, leased_chunk):
    client = client_as("contributor")
    chunk = str(leased_chunk.id).encode()
    body, content_type = _multipart({"chunk": chunk, "text": b"ab\xff\xfe\xfd"})
    response = send(client, "post", "/api/transcriptions/", body, content_type)
    assert_client_error(response, 400, says="Form fields must be valid UTF-8 text.")
    body = b"chunk=" + chunk + b"&text=ab\xff\xfe"  # raw, not percent-encoded
    form = "application/x-www-form-urlencoded"
    response = send(client, "post", "/api/transcriptions/", body, form)
    assert_client_error(response, 400, says="Form fields must be valid UTF-8 text.")
    body = b"chunk=" + chunk + b"&text=ab%FF%FE%FD"
    response = send(client, "post", "/api/transcriptions/", body, form)
    assert_client_error(response, 400, says="Form fields must be valid UTF-8 text.")
    assert not Transcription.objects.exists()
    # Text in UTF-8 is taken, even the replacement character itself.
    text = "আমি চা খাই \ufffd"
    body, content_type = _multipart({"chunk": chunk, "text": text.encode()})
    response = send(client, "post", "/api/transcriptions/", body, content_type)
    assert response.status_code == 201, response.content
    assert Transcription.objects.get().text == text


def test_a_misplaced_export_filter_is_refused_not_ignored(client_as):
    client = client_as("researcher")
    response = client.post(
        "/api/exports/", {"formats": ["nemo"], "languages": ["bn"]}, format="json"
    )
    assert_client_error(
        response,
        400,
        says="Unknown option(s): languages. Known: version, formats, filters, audio_format, "
        "sample_rate, split, processing, audio, since.",
    )
    response = client.post(
        "/api/exports/", {"formats": ["nemo"], "filters": {"language": ["bn"]}}, format="json"
    )
    assert_client_error(response, 400, says="filters: Unknown option(s): language. Known:")
    response = client.post(
        "/api/exports/",
        {"formats": ["nemo"], "split": {"ratios": {"training": 1}}},
        format="json",
    )
    assert_client_error(response, 400, says="split.ratios: Unknown option(s): training.")
    assert not Export.objects.exists()


UNKNOWN_KEYS = [
    ("post", "/api/auth/token/", None, {"username": "x", "password": "y", "otp": "1"}),
    ("post", "/api/auth/token/refresh/", None, {"refresh": "x", "access": "y"}),
    ("post", "/api/auth/register/", None, {"username": "rina", "is_staff": True}),
    ("patch", "/api/me/", "contributor", {"display_name": "R", "roles": ["reviewer"]}),
    ("post", "/api/transcriptions/", "contributor", {"chunk": str(SOME_CHUNK), "txt": "a"}),
    ("post", f"/api/tasks/{SOME_CHUNK}/skip/", "contributor", {"reasons": "noise"}),
    ("post", f"/api/tasks/{SOME_CHUNK}/verify/", "contributor", {"matches": True, "why": "x"}),
]


@pytest.mark.parametrize(("method", "path", "who", "body"), UNKNOWN_KEYS)
def test_unknown_keys_are_refused_with_the_known_ones(client_as, method, path, who, body):
    response = getattr(client_as(who), method)(path, body, format="json")
    assert_client_error(response, 400, says="Unknown option(s): ")
    assert "Known: " in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/tasks/next/", {"language": "bn", "cuont": 3}),
        ("/api/scripts/next/", {"language": "bn", "lenght": "short"}),
    ],
)
def test_unknown_query_parameters_are_refused(client_as, path, query):
    LanguageFactory(code="bn")
    response = client_as("contributor").get(path, query)
    assert_client_error(response, 400, says="Unknown option(s): ")


def test_an_upload_with_an_unknown_field_is_refused(client_as):
    body, content_type = _multipart({"script": b"1", "audio_title": b"mine"})
    response = send(client_as("contributor"), "post", "/api/recordings/", body, content_type)
    assert_client_error(response, 400, says="Unknown option(s): audio_title. Known: script, audio.")


def test_every_request_body_in_the_schema_refuses_unknown_keys():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    bodies = [
        (method, path, media["schema"]["$ref"].rsplit("/", 1)[1])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    assert len(bodies) > 10
    for method, path, name in bodies:
        assert components[name].get("additionalProperties") is False, (method, path, name)
