"""The export API: who may do what, input errors, shapes, downloads."""

from __future__ import annotations

import io
import tarfile

import pytest
import requests
from celery import current_app

from exports.models import Export
from shrutik.tests.broker import queue_length, take_newest

pytestmark = pytest.mark.django_db

URL = "/api/exports/"


def post(client, body):
    return client.post(URL, body, format="json")


def test_contributors_and_anonymous_users_cannot_export(api_client, contributor):
    assert post(api_client, {"formats": ["nemo"]}).status_code == 401
    api_client.force_authenticate(contributor)
    response = post(api_client, {"formats": ["nemo"]})
    assert response.status_code == 403 and "researchers" in response.json()["detail"]
    assert api_client.get(URL).status_code == 403


def test_request_is_accepted_and_enqueued_on_commit(
    researcher_client, django_capture_on_commit_callbacks
):
    body = {
        "version": "v1.0",
        "formats": ["huggingface", "kaldi"],
        "filters": {"languages": [], "min_confidence": 0.8, "genders": ["female"]},
        "audio_format": "wav",
        "sample_rate": 8000,
        "split": {"ratios": {"train": 0.9, "test": 0.1}, "seed": 4, "sentence_disjoint": True},
    }
    before = queue_length("exports")
    with django_capture_on_commit_callbacks(execute=False) as committed:
        response = post(researcher_client, body)
    assert response.status_code == 202, response.json()
    assert queue_length("exports") == before  # nothing is sent before the commit
    for callback in committed:
        callback()
    assert queue_length("exports") == before + 1
    export = Export.objects.get(pk=response.json()["id"])
    task, args, kwargs = take_newest("exports")
    assert (task, args, kwargs) == ("exports.build", [str(export.id)], {})
    assert export.formats == ["huggingface", "kaldi"]
    assert export.filters["min_confidence"] == 0.8 and export.filters["statuses"] == ["validated"]
    assert export.split_spec == {
        "ratios": {"train": 0.9, "dev": 0.0, "test": 0.1},
        "seed": 4,
        "sentence_disjoint": True,
    }
    assert export.prefix == f"exports/{export.id}/"
    # What a worker does with the message: builds this export (of nothing here).
    current_app.tasks[task].apply(args=args, kwargs=kwargs)
    export.refresh_from_db()
    assert export.status == "failed" and "No clips match" in export.error


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "formats"),
        ({"formats": []}, "formats"),
        ({"formats": ["mp4"]}, "formats"),
        ({"formats": ["nemo"], "audio_format": "aiff"}, "audio_format"),
        ({"formats": ["nemo"], "audio_format": "opus", "sample_rate": 44100}, "Opus"),
        ({"formats": ["nemo"], "filters": {"languages": ["xx"]}}, "Unknown language"),
        ({"formats": ["nemo"], "filters": {"min_confidence": 2}}, "min_confidence"),
        ({"formats": ["nemo"], "filters": {"date_from": "2026-02-01", "date_to": "2026-01-01"}},
         "date_from"),
        ({"formats": ["nemo"], "split": {"ratios": {"train": 0, "dev": 0, "test": 0}}}, "ratio"),
        ({"formats": ["nemo"], "version": "a b/c"}, "version"),
        (["nemo"], "dictionary"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_with_detail(researcher_client, body, fragment):
    response = post(researcher_client, body)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_bad_input_is_explained_in_the_researchers_language(researcher_client):
    body = {"formats": ["nemo"], "filters": {"languages": ["xx"]}}
    response = researcher_client.post(URL, body, format="json", HTTP_ACCEPT_LANGUAGE="bn")
    assert response.status_code == 400
    assert "অজানা ভাষা-কোড: xx।" in response.json()["detail"]


def test_an_empty_export_says_so_in_the_readers_language(researcher_client, researcher):
    from exports import services
    from exports.models import Export

    export = services.export_create(requester=researcher, formats=["nemo"])
    Export.objects.filter(pk=export.pk).update(
        status="failed", error="No clips match these filters; nothing to export."
    )
    english = researcher_client.get(f"{URL}{export.id}/").json()["error"]
    bangla = researcher_client.get(f"{URL}{export.id}/", HTTP_ACCEPT_LANGUAGE="bn").json()["error"]
    assert english == "No clips match these filters; nothing to export."
    assert bangla == "এই ফিল্টারগুলোর সঙ্গে কোনো ক্লিপ মেলেনি; এক্সপোর্ট করার কিছু নেই।"


def test_researchers_see_their_own_exports_and_admins_see_all(
    api_client, make_user, researcher, reviewer
):
    from exports import services

    other = make_user(roles=["researcher"])
    mine = services.export_create(requester=researcher, formats=["nemo"])
    theirs = services.export_create(requester=other, formats=["nemo"])
    api_client.force_authenticate(researcher)
    ids = [e["id"] for e in api_client.get(URL).json()["results"]]
    assert ids == [str(mine.id)]
    assert api_client.get(f"{URL}{theirs.id}/").status_code == 404
    # Staff status (reviewers have it, for the review queue) opens no export.
    api_client.force_authenticate(reviewer)
    assert api_client.get(URL).status_code == 403
    assert api_client.get(f"{URL}{theirs.id}/").status_code == 403
    api_client.force_authenticate(make_user(is_staff=True, is_superuser=True))
    ids = {e["id"] for e in api_client.get(URL).json()["results"]}
    assert ids == {str(mine.id), str(theirs.id)}


def test_detail_shows_progress_stats_files_and_signed_links(researcher_client, corpus, build):
    export = build(["nemo"])
    data = researcher_client.get(f"{URL}{export.id}/").json()
    assert data["status"] == "done"
    assert data["progress"] == {"done": 32, "total": 32, "percent": 100.0, "step": "Done"}
    assert data["stats"]["totals"]["clips"] == 32
    files = {f["path"]: f for f in data["files"]}
    assert {"README.md", "stats.json", "SHA256SUMS", "train_manifest.json"} <= set(files)
    readme = files["README.md"]
    assert len(readme["sha256"]) == 64 and readme["size"] > 0
    # Pre-signed, short-lived: the link alone fetches exactly that object.
    assert "X-Amz-Expires=900" in readme["url"]
    fetched = requests.get(readme["url"], timeout=10)
    assert fetched.status_code == 200 and len(fetched.content) == readme["size"]


def test_archive_streams_the_whole_export_as_tar(researcher_client, corpus, build):
    export = build(["nemo"])
    response = researcher_client.get(f"{URL}{export.id}/archive/")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-tar"
    body = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = tar.getnames()
        readme = next(n for n in names if n.endswith("/README.md"))
        assert b"Shrutik speech dataset" in tar.extractfile(readme).read()
    assert len([n for n in names if "/clips/" in n]) == 32
    assert export.stats["objects"] == len(names)


def test_archive_refuses_unfinished_and_others_exports(researcher_client, make_user, researcher):
    from exports import services

    export = services.export_create(requester=researcher, formats=["nemo"])
    response = researcher_client.get(f"{URL}{export.id}/archive/")
    assert response.status_code == 409 and response.json()["detail"]
    researcher_client.force_authenticate(make_user(roles=["researcher"]))
    assert researcher_client.get(f"{URL}{export.id}/archive/").status_code == 404


def test_exports_page_is_for_researchers(client, researcher, contributor):
    client.force_login(contributor)
    assert client.get("/exports/").status_code == 403
    client.force_login(researcher)
    page = client.get("/exports/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="export-form"' in html and "js/exports.js" in html
    assert 'href="/exports/" aria-current="page"' in html  # in the navigation


def test_only_researchers_see_the_exports_link(client, researcher, contributor):
    client.force_login(contributor)
    assert 'href="/exports/"' not in client.get("/dashboard/").content.decode()
    client.force_login(researcher)
    assert 'href="/exports/"' in client.get("/dashboard/").content.decode()


def test_admin_lists_exports_with_download_links(client, make_user, corpus, build):
    export = build(["nemo"])
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert client.get("/admin/exports/export/").status_code == 200
    page = client.get(f"/admin/exports/export/{export.pk}/change/")
    assert page.status_code == 200
    assert "train_manifest.json" in page.content.decode()
