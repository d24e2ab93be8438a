"""A researcher's journey through the web UI, with a real worker behind it.

A contributor finds the exports page closed to them, asks for researcher
access; an admin approves the request in the admin; the e-mail that says so
leads the new researcher to the exports page, where the form previews what
matches. They request an export, the worker builds it, and they download a
file (saved under its own name) and the whole export, which loads with
``datasets``, ``pandas`` and Lhotse.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tarfile

import pytest
import soundfile as sf
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from exports.models import AccessRequest, Export
from exports.tests.conftest import create_corpus
from shrutik.permissions import RESEARCHER, user_has_role

pytestmark = [
    pytest.mark.browser,
    # pytest-base-url (a pytest-playwright dependency) defines a fixture pytest 9 warns about.
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
    pytest.mark.django_db(transaction=True),
]

# The loaders read the downloaded files only; never the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def signed_in(new_page, live_server, user):
    """A page of its own browser context, signed in as ``user``."""
    page = new_page()
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def test_access_approved_in_the_admin_then_export_previewed_downloaded_and_loaded(
    page, live_server, login, new_page, make_user, worker, tmp_path, monkeypatch
):
    create_corpus()  # eight speakers, four validated clips each, audio in storage
    base = live_server.url
    reader = make_user(email="rina@example.org", display_name="Rina Das")
    admin = make_user(is_staff=True, is_superuser=True, email="admin@example.org")

    # 1. The exports page is closed to a contributor, and says how to get in.
    login(reader)
    page.goto(f"{base}/exports/")
    expect(page.locator("h1")).to_have_text("Dataset exports are for researchers")
    page.get_by_role("link", name="Request researcher access").click()
    page.wait_for_url(f"{base}/research/access/")
    expect(page.get_by_label("Your name")).to_have_value("Rina Das")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("rina@example.org")
    page.get_by_label("Institution or organisation").fill("University of Dhaka")
    page.get_by_label("What will you use the data for?").fill(
        "Training a Bangla speech recogniser for a public health helpline."
    )
    page.get_by_label("I accept the data terms above.").check()
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#access-status")).to_contain_text("waiting for an admin")
    request = AccessRequest.objects.get(user=reader)
    assert [m.to for m in mail.outbox] == [[admin.email]]

    # 2. An admin approves it in the admin.
    office = signed_in(new_page, live_server, admin)
    office.goto(f"{base}/admin/exports/accessrequest/")
    office.get_by_role("link", name="Rina Das").click()
    office.get_by_label("Note to the requester").fill("Welcome aboard.")
    office.get_by_role("button", name="Approve: grant researcher access").click()
    expect(office.locator(".messagelist")).to_contain_text("now has researcher access")
    request.refresh_from_db()
    assert request.status == "approved" and user_has_role(reader, RESEARCHER)

    # 3. The e-mail tells the researcher; its link opens the exports page.
    decision = mail.outbox[-1]
    assert decision.to == ["rina@example.org"] and "Welcome aboard." in decision.body
    link = re.search(r"http\S+/exports/", decision.body).group(0)
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Dataset exports")

    # 4. The form previews what matches before anything is asked for.
    totals = page.locator("#preview-totals")
    expect(totals).to_contain_text("clips: 32", timeout=15_000)
    expect(totals).to_contain_text("speakers: 8")
    page.get_by_label("Female").check()
    expect(totals).to_contain_text("clips: 8")
    page.get_by_label("Female").uncheck()
    expect(totals).to_contain_text("clips: 32")
    assert not Export.objects.exists()

    # 5. They ask for an export; the worker builds it while the page follows.
    page.get_by_label("Version label").fill("v1.0")
    page.get_by_label("Common Voice (TSV + clips)").check()
    page.get_by_label("Lhotse manifests").check()
    page.get_by_role("button", name="Request export").click()
    finished = page.locator(".export-done")
    expect(finished).to_have_count(1, timeout=120_000)
    export = Export.objects.get()
    assert export.status == "done" and export.stats["totals"]["clips"] == 32

    # 6. A file downloads under its own name, not "download".
    with page.expect_download() as download:
        finished.get_by_role("link", name="validated.tsv", exact=True).click()
    assert download.value.suggested_filename == "validated.tsv"
    validated = tmp_path / "validated.tsv"
    download.value.save_as(validated)
    assert len(validated.read_text().splitlines()) == 33  # a header and every clip

    # 7. So does the whole export, which every loader reads.
    with page.expect_download() as download:
        finished.get_by_role("link", name="Download everything (.tar)").click()
    name = download.value.suggested_filename
    assert name.startswith("shrutik-v1.0-") and name.endswith(".tar")
    archive = tmp_path / name
    download.value.save_as(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    (root,) = (tmp_path / "x").iterdir()

    import datasets

    loaded = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "hf"))
    assert sum(len(loaded[split]) for split in loaded) == 32
    raw = loaded["train"].cast_column("audio", datasets.Audio(decode=False))
    samples, rate = sf.read(io.BytesIO(raw[0]["audio"]["bytes"]))
    assert rate == 16000 and len(samples) > 0

    import pandas as pd

    frames = [
        pd.read_csv(root / f"{split}.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
        for split in ("train", "dev", "test")
    ]
    assert sum(len(f) for f in frames) == 32
    assert all((root / "clips" / path).is_file() for f in frames for path in f["path"])

    from lhotse import CutSet, load_manifest

    monkeypatch.chdir(root)  # the manifests' paths are relative to the export root
    cuts = CutSet.from_manifests(
        recordings=load_manifest("recordings_train.jsonl.gz"),
        supervisions=load_manifest("supervisions_train.jsonl.gz"),
    )
    cut = next(iter(cuts))
    assert cut.load_audio().shape[1] == cut.num_samples
    assert len(cuts) == len(loaded["train"])
