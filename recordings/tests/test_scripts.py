import pytest

from recordings.models import Script
from recordings.scripts import scripts_import
from recordings.tests.factories import LanguageFactory, make_script

pytestmark = pytest.mark.django_db


def test_import_tsv_creates_one_script_per_sentence():
    bn = LanguageFactory()
    content = "text\tsource\nআমি দুধ দিয়ে চা খাই।\tdemo\nসে প্রতিদিন ব্যায়াম করে।\tdemo\n"
    report = scripts_import(language=bn, content=content.encode(), fmt="tsv", licence="CC0-1.0")
    assert report.ok, report.errors
    assert report.created == 2
    script = Script.objects.get(text="আমি দুধ দিয়ে চা খাই।")
    assert script.sentences == ["আমি দুধ দিয়ে চা খাই।"]
    assert script.length_bucket == "single"
    assert 0.5 < script.estimated_seconds < 5
    assert script.licence == "CC0-1.0"


def test_import_reports_every_bad_line_and_imports_nothing():
    bn = LanguageFactory()
    content = "\n".join(
        [
            "আমি দুধ দিয়ে চা খাই।",
            "আমার বয়স ২৫ বছর।",
            "এটা <ভুল> বাক্য।",
            "না",
            "প্রথম বাক্য। দ্বিতীয় বাক্য।",
            "আমি দুধ দিয়ে চা খাই।",
        ]
    )
    report = scripts_import(language=bn, content=content.encode(), fmt="txt")
    assert not report.ok and report.created == 0
    lines = {line: problem for line, problem in report.errors}
    assert "digits" in lines[2]
    assert "forbidden" in lines[3]
    assert "too short" in lines[4]
    assert "2 sentences" in lines[5]
    assert "duplicate" in lines[6]
    assert 1 not in lines
    assert Script.objects.count() == 0


def test_import_paragraphs_makes_multi_sentence_scripts():
    en = LanguageFactory(code="en", name="English", native_name="English")
    para = "The market was busy this morning. Farmers sold fresh fruit. Everyone stayed."
    report = scripts_import(language=en, content=para.encode(), fmt="txt", grouping="paragraph")
    assert report.ok, report.errors
    assert Script.objects.get().sentences == [
        "The market was busy this morning.",
        "Farmers sold fresh fruit.",
        "Everyone stayed.",
    ]


def test_import_refuses_non_utf8():
    report = scripts_import(
        language=LanguageFactory(), content="caf\xe9".encode("latin-1"), fmt="txt"
    )
    assert not report.ok and "UTF-8" in report.errors[0][1]


def test_import_refuses_already_imported_text():
    bn = LanguageFactory()
    make_script(bn, "আমি দুধ দিয়ে চা খাই।")
    report = scripts_import(language=bn, content="আমি দুধ দিয়ে চা খাই।".encode(), fmt="txt")
    assert report.errors == [(1, "already imported")]


def test_admin_import_page_shows_line_errors(client, make_user):
    bn = LanguageFactory()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("s.txt", "ঠিক বাক্য এটা।\nআমার বয়স ২৫ বছর।".encode())
    response = client.post(
        "/admin/recordings/script/import/",
        {"language": bn.pk, "file": upload, "grouping": "sentence", "licence": "CC0-1.0"},
    )
    assert response.status_code == 400
    assert "digits" in response.content.decode()
    upload = SimpleUploadedFile("s.txt", "ঠিক বাক্য এটা।".encode())
    response = client.post(
        "/admin/recordings/script/import/",
        {"language": bn.pk, "file": upload, "grouping": "sentence", "licence": "CC0-1.0"},
    )
    assert response.status_code == 302
    assert Script.objects.count() == 1


def test_next_script_prefers_fewest_recordings_and_skips_recorded(auth_client):
    from recordings.models import Recording

    bn = LanguageFactory()
    popular = make_script(bn, "প্রথম বাক্যটি এখানে।")
    popular.recording_count = 5
    popular.save()
    fresh = make_script(bn, "দ্বিতীয় বাক্যটি এখানে।")
    response = auth_client.get("/api/scripts/next/", {"language": "bn"})
    assert response.status_code == 200
    assert response.json()["id"] == fresh.id

    Recording.objects.create(contributor=auth_client.user, script=fresh, sha256="0" * 64)
    assert auth_client.get("/api/scripts/next/", {"language": "bn"}).json()["id"] == popular.id
    Recording.objects.create(contributor=auth_client.user, script=popular, sha256="1" * 64)
    response = auth_client.get("/api/scripts/next/", {"language": "bn"})
    assert response.status_code == 404
    assert "every script" in response.json()["detail"]


def test_next_script_filters_by_length_and_validates_params(auth_client):
    bn = LanguageFactory()
    make_script(bn, "ছোট বাক্য এটা।")
    response = auth_client.get("/api/scripts/next/", {"language": "bn", "length": "10min"})
    assert response.status_code == 404
    response = auth_client.get("/api/scripts/next/", {"language": "xx"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("language:")
    response = auth_client.get("/api/scripts/next/", {"language": "bn", "length": "forever"})
    assert response.status_code == 400


def test_languages_are_public(api_client):
    LanguageFactory()
    LanguageFactory(code="xx", name="Hidden", native_name="Hidden", active=False)
    response = api_client.get("/api/languages/")
    assert response.status_code == 200
    assert [lang["code"] for lang in response.json()] == ["bn"]
