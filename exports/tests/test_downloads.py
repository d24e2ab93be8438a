"""What a researcher downloads: file names, absolute links, and splits per language."""

from __future__ import annotations

import pytest
import requests

from exports.tests.conftest import create_clips
from recordings.tests.factories import LanguageFactory

pytestmark = pytest.mark.django_db

URL = "/api/exports/"


def test_files_have_absolute_links_that_download_under_their_names(
    researcher_client, corpus, build
):
    export = build(["commonvoice", "huggingface"])
    data = researcher_client.get(f"{URL}{export.id}/").json()
    files = {f["path"]: f for f in data["files"]}
    assert data["archive_url"] == f"http://testserver/api/exports/{export.id}/archive/"
    for path in ("validated.tsv", "README.md", "data/train-00000-of-00001.parquet"):
        url = files[path]["url"]
        assert url.startswith("http://") or url.startswith("https://"), url
        fetched = requests.get(url, timeout=10)
        assert fetched.status_code == 200 and len(fetched.content) == files[path]["size"]
        name = path.rsplit("/", 1)[-1]
        assert fetched.headers["Content-Disposition"] == f'attachment; filename="{name}"'


def test_each_language_is_split_speaker_disjoint_on_its_own(make_user, build):
    bangla = LanguageFactory()
    english = LanguageFactory(code="en", name="English", native_name="English")
    # A few Bangla speakers who read a lot, more English speakers who read little.
    for _ in range(5):
        create_clips(6, speaker=make_user(), language=bangla, seconds=3.0)
    for _ in range(12):
        create_clips(2, speaker=make_user(), language=english, seconds=1.0)
    export = build(["nemo"])
    splits = export.stats["splits"]
    for code in ("bn", "en"):
        held = {s for s in ("train", "dev", "test") if code in splits[s]["languages"]}
        assert held == {"train", "dev", "test"}, (code, held)
        train = splits["train"]["languages"][code]["seconds"]
        assert train / export.stats["languages"][code]["seconds"] >= 0.5, code
    # The datasheet's table shows it, split by language.
    assert export.stats["totals"]["speakers"] == 17
