"""The Contribute page (the work itself goes through the task API)."""

import json

import pytest

from recordings.tests.factories import LanguageFactory

pytestmark = pytest.mark.django_db


def page_strings(response, element_id="task-strings"):
    html = response.content.decode()
    return json.loads(html.split(f'id="{element_id}" type="application/json">')[1].split("<")[0])


def test_contribute_page_requires_login(client):
    response = client.get("/contribute/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("path", ["/transcribe/", "/verify/"])
def test_old_transcribe_and_verify_addresses_lead_to_the_contribute_page(client, path):
    response = client.get(f"{path}?language=bn")
    assert response.status_code == 302
    assert response["Location"] == "/contribute/?language=bn"


def test_contribute_page_has_both_tasks_flags_helper_and_shortcuts(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    response = client.get("/contribute/?language=bn")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-language="bn"' in html and "data-mode" not in html
    # Both tasks are on the page; the script decides per clip which one shows.
    assert 'id="btn-yes"' in html and 'id="btn-no"' in html and 'id="task-text"' in html
    for flag in ("noise", "unintelligible", "wrong_language"):
        assert f'value="{flag}"' in html
    for reason in ("offensive", "empty"):
        assert f'data-reason="{reason}"' in html
    for char in ("ৎ", "ং", "ঃ", "ঁ"):
        assert f'data-char="{char}"' in html
    # Marks are drawn on a dotted circle so they are visible on their own.
    assert "\u25cc\u09bc" in html
    for keys in ("Y 1", "N 2", "S Alt+S", "K Alt+K Space", "Enter Control+Enter"):
        assert f'aria-keyshortcuts="{keys}"' in html
    strings = page_strings(response)
    assert strings["empty"].startswith("There is nothing left")
    assert strings["verify_title"] == "Listen and vote"


def test_navigation_has_one_contribute_entry(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    html = client.get("/contribute/").content.decode()
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert 'href="/contribute/" aria-current="page"' in nav
    assert "/transcribe/" not in nav and "/verify/" not in nav


def test_contribute_page_without_consent_says_so(client, make_user):
    LanguageFactory()
    client.force_login(make_user(consent_version="", consent_at=None))
    html = client.get("/contribute/").content.decode()
    assert "accept the contributor agreement" in html
    assert 'id="task"' not in html


def test_unknown_language_falls_back_to_an_active_one(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    html = client.get("/contribute/?language=xx").content.decode()
    assert 'data-language="bn"' in html


def test_contribute_page_in_bangla(client, contributor):
    LanguageFactory()
    client.force_login(contributor)
    client.cookies["django_language"] = "bn"
    response = client.get("/contribute/")
    assert "অবদান রাখুন" in response.content.decode()
    assert page_strings(response)["saved"] != "Saved. Next clip."
    assert page_strings(response)["transcribe_title"] == "শুনে লিখুন"
