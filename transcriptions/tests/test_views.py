"""The transcribe and verify pages (the work itself goes through the task API)."""

import json

import pytest

from recordings.tests.factories import LanguageFactory

pytestmark = pytest.mark.django_db


def page_strings(response, element_id="task-strings"):
    html = response.content.decode()
    return json.loads(html.split(f'id="{element_id}" type="application/json">')[1].split("<")[0])


@pytest.mark.parametrize("path", ["/transcribe/", "/verify/"])
def test_task_pages_require_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_transcribe_page_has_flags_character_helper_and_shortcuts(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    response = client.get("/transcribe/?language=bn")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-mode="transcribe"' in html and 'data-language="bn"' in html
    for flag in ("noise", "unintelligible", "wrong_language"):
        assert f'value="{flag}"' in html
    for char in ("ৎ", "ং", "ঃ", "ঁ"):
        assert f'data-char="{char}"' in html
    # Marks are drawn on a dotted circle so they are visible on their own.
    assert "\u25cc\u09bc" in html
    assert 'aria-keyshortcuts="Control+Enter"' in html
    assert 'id="expected"' not in html  # transcribers never see the script
    assert page_strings(response)["empty"].startswith("There is nothing left")


def test_verify_page_shows_the_yes_no_answers(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    html = client.get("/verify/").content.decode()
    assert 'data-mode="verify"' in html
    assert 'id="btn-yes"' in html and 'id="btn-no"' in html
    assert 'aria-keyshortcuts="Y"' in html


def test_task_page_without_consent_says_so(client, make_user):
    LanguageFactory()
    client.force_login(make_user(consent_version="", consent_at=None))
    html = client.get("/transcribe/").content.decode()
    assert "accept the contributor agreement" in html
    assert 'id="task"' not in html


def test_unknown_language_falls_back_to_an_active_one(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    html = client.get("/transcribe/?language=xx").content.decode()
    assert 'data-language="bn"' in html


def test_task_page_in_bangla(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    client.cookies["django_language"] = "bn"
    response = client.get("/verify/")
    assert "যাচাই" in response.content.decode()
    assert page_strings(response)["saved"] != "Saved. Next clip."
