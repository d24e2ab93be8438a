"""The OpenAPI schema states the constraints the API enforces, and no others.

Each test takes a value, asks the generated schema whether it is valid, and asks
the API: the two must agree. (Schemathesis found where they did not: values the
schema allowed but the API refused, answers the schema did not allow.)
"""

from __future__ import annotations

import functools

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from exports.models import Export, ExportStatus
from recordings.tests.factories import LanguageFactory, make_chunks, make_script

pytestmark = pytest.mark.django_db


@functools.cache
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def component(name: str) -> dict:
    return schema()["components"]["schemas"][name]


def query_parameter(path: str, name: str) -> dict:
    [parameter] = [p for p in schema()["paths"][path]["get"]["parameters"] if p["name"] == name]
    return parameter["schema"]


def allows(subschema: dict, value) -> bool:
    resolver = {"components": schema()["components"], **subschema}
    return jsonschema.Draft4Validator(resolver).is_valid(value)


def test_a_language_code_is_a_tag_in_the_schema_as_in_the_api(auth_client):
    LanguageFactory(code="bn")
    make_script()
    language = query_parameter("/api/scripts/next/", "language")
    for path in ("/api/scripts/next/", "/api/tasks/next/"):
        assert query_parameter(path, "language") == language
        response = auth_client.get(path, {"language": "0"})
        assert response.status_code == 400
        assert not allows(language, "0")
        response = auth_client.get(path, {"language": "bn"})
        assert response.status_code == 200
        assert allows(language, "bn")


def test_text_with_nul_characters_is_invalid_in_the_schema_as_in_the_api(auth_client):
    (chunk,) = make_chunks(1)
    assert auth_client.get("/api/tasks/next/", {"language": "bn"}).json()
    text = component("TranscriptionInputRequest")["properties"]["text"]
    body = {"chunk": str(chunk.id), "text": "a\x00b"}
    assert not allows(text, body["text"])
    assert auth_client.post("/api/transcriptions/", body, format="json").status_code == 400
    body["text"] = "a b"
    assert allows(text, body["text"])
    assert auth_client.post("/api/transcriptions/", body, format="json").status_code == 201


def test_spaces_alone_are_blank_in_the_schema_as_in_the_api(api_client, researcher):
    auth_client = api_client
    auth_client.force_authenticate(researcher)
    display_name = component("PatchedMeUpdateInputRequest")["properties"]["display_name"]
    assert allows(display_name, "   ")  # may be blank: stored as ""
    comment = component("ReleaseInputRequest")["properties"]["comment"]
    assert allows(comment, "")
    version = component("ExportInputRequest")["properties"]["version"]
    assert allows(version, "")
    dialects = component("ExportFiltersInputRequest")["properties"]["dialects"]
    for blank in ("  ", "\u3000\x1c\t"):  # what str.strip() removes, not only ASCII
        assert not allows(dialects, [blank])
        body = {"formats": ["nemo"], "filters": {"dialects": [blank]}}
        response = auth_client.post("/api/exports/", body, format="json")
        assert response.json()["detail"] == "filters.dialects.0: This field may not be blank."
    assert allows(dialects, [" Sylheti\ufeff"])


def test_an_export_needs_a_format_in_the_schema_as_in_the_api(api_client, researcher):
    api_client.force_authenticate(researcher)
    formats = component("ExportInputRequest")["properties"]["formats"]
    assert not allows(formats, [])
    response = api_client.post("/api/exports/", {"formats": []}, format="json")
    assert response.status_code == 400
    assert allows(formats, ["nemo"])
    response = api_client.post("/api/exports/", {"formats": ["nemo"]}, format="json")
    assert response.status_code == 202


def test_registration_states_the_consent_it_needs(api_client):
    from django.conf import settings

    register = component("RegisterInputRequest")["properties"]
    assert not allows(register["consent"], False) and allows(register["consent"], True)
    assert allows(register["consent_version"], settings.CONSENT_VERSION)
    assert not allows(register["consent_version"], "1999-01")


def test_an_unfinished_export_has_no_archive_and_the_schema_allows_it(api_client, researcher):
    export = Export.objects.create(requester=researcher, formats=["nemo"])
    assert export.status != ExportStatus.DONE
    api_client.force_authenticate(researcher)
    body = api_client.get(f"/api/exports/{export.id}/").json()
    assert body["archive_url"] is None
    archive_url = component("ExportOutput")["properties"]["archive_url"]
    assert archive_url["type"] == "string" and archive_url["nullable"] is True


@pytest.mark.parametrize("number", ["", "last", "+1", " 1", "1_0", "0", "1.0", "abc"])
def test_a_page_is_a_number_from_1_in_the_schema_as_in_the_api(auth_client, number):
    for path in ("/api/recordings/", "/api/transcriptions/"):
        page_schema = query_parameter(path, "page")
        assert page_schema == {"type": "integer", "minimum": 1}
        response = auth_client.get(path, {"page": number})
        assert response.status_code == 404, (path, number)
        assert response.json()["detail"] == "Invalid page."
        assert auth_client.get(path, {"page": "1"}).status_code == 200
