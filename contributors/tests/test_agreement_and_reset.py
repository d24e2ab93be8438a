"""What a contributor reads and recovers with: the versioned agreement, the
guidelines and FAQ, one licence stated everywhere, the native-language picker,
translated login errors, and password reset by e-mail."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from contributors.models import User
from exports.datasheet import MIN_SPEAKERS_FOR_DEMOGRAPHICS

pytestmark = pytest.mark.django_db

LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
PASSWORD = "a-long enough pass phrase"


def test_the_agreement_is_a_page_named_by_its_version(client):
    page = client.get("/agreement/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Version {settings.CONSENT_VERSION}" in html
    assert LICENCE_URL in html and "Creative Commons Attribution 4.0 International" in html
    # The same text under its version's own address; unknown versions are not pages.
    assert client.get(f"/agreement/{settings.CONSENT_VERSION}/").status_code == 200
    assert client.get("/agreement/1999-01/").status_code == 404
    assert client.get("/agreement/..%2Fbase/").status_code == 404


def test_an_earlier_version_points_at_the_current_one(client, settings):
    accepted = settings.CONSENT_VERSION
    settings.CONSENT_VERSION = "2099-01"
    html = client.get(f"/agreement/{accepted}/").content.decode()
    assert "An earlier version." in html and 'href="/agreement/"' in html


def test_the_agreement_promises_what_the_exports_do():
    """The text says demographics are left out below this many speakers: the
    number the exports use (a new number needs a new agreement version)."""
    text = (
        settings.BASE_DIR / "templates/contributors/agreement" / f"{settings.CONSENT_VERSION}.html"
    ).read_text()
    assert f"fewer than {MIN_SPEAKERS_FOR_DEMOGRAPHICS} speakers" in text


def test_a_consent_version_without_a_text_fails_the_system_check(settings):
    settings.CONSENT_VERSION = "2099-01"
    with pytest.raises(SystemCheckError, match=r"contributors\.E001"):
        call_command("check")


def test_sign_up_links_the_agreement_and_states_the_licence(client):
    html = client.get("/accounts/signup/").content.decode()
    assert 'href="/agreement/"' in html
    assert LICENCE_URL in html and f"(version {settings.CONSENT_VERSION})" in html


def test_the_profile_links_the_version_the_contributor_accepted(client, contributor):
    client.force_login(contributor)
    html = client.get("/accounts/profile/").content.decode()
    assert f'href="/agreement/{contributor.consent_version}/"' in html
    assert LICENCE_URL in html


@pytest.mark.parametrize("path", ["/guidelines/", "/faq/"])
def test_guidelines_and_faq_are_public_pages(client, path):
    response = client.get(path)
    assert response.status_code == 200
    client.cookies["django_language"] = "bn"
    html = client.get(path).content.decode()
    assert 'lang="bn"' in html and "নির্দেশিকা" in html


def test_the_guidelines_say_what_counts_as_a_match(client):
    html = client.get("/guidelines/").content.decode()
    for anchor in ('id="recording"', 'id="transcribing"', 'id="verifying"'):
        assert anchor in html
    assert "the start or the end of the sentence is cut off" in html
    assert "the speaker has an accent or a regional pronunciation" in html


def test_the_native_language_is_picked_from_a_list_of_names(client, contributor):
    client.force_login(contributor)
    html = client.get("/accounts/profile/").content.decode()
    assert "BCP-47" not in html
    assert re.search(r'<select name="native_language"', html)
    assert '<option value="bn"' in html and "বাংলা (Bengali)" in html
    response = client.post("/accounts/profile/", {"native_language": "syl"})
    assert response.status_code == 302
    contributor.refresh_from_db()
    assert contributor.native_language == "syl"
    # In Bangla the language names are Bangla too.
    client.cookies["django_language"] = "bn"
    html = client.get("/accounts/profile/").content.decode()
    assert "English (ইংলিশ)" in html and "ꠍꠤꠟꠐꠤ (সিলেটি)" in html


def test_a_stored_code_the_list_lacks_stays_selected(client, make_user):
    user = make_user(native_language="x-old")
    client.force_login(user)
    html = client.get("/accounts/profile/").content.decode()
    assert '<option value="x-old" selected>x-old</option>' in html


def test_a_wrong_password_is_explained_in_one_language(client, make_user):
    make_user(username="rina", password=PASSWORD)
    client.cookies["django_language"] = "bn"
    html = client.post("/accounts/login/", {"username": "rina", "password": "nope"}).content
    html = html.decode()
    assert "এই ব্যবহারকারী নাম ও পাসওয়ার্ড কোনো অ্যাকাউন্টের সঙ্গে মেলে না" in html
    assert "and password" not in html


def test_the_sign_up_errors_are_listed_at_the_top_with_links_to_their_fields(client):
    html = client.post("/accounts/signup/", {"username": "tanvir"}).content.decode()
    summary = html.split('class="errors error-summary"')[1].split("</div>")[0]
    assert 'href="#id_consent"' in summary
    assert "You must accept the contributor agreement to sign up." in summary
    assert html.index("error-summary") < html.index('id="id_username"')


def test_password_reset_sends_a_link_that_sets_a_new_password(client, make_user):
    user = make_user(username="rina", email="rina@example.org", password=PASSWORD)
    login_page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in login_page
    assert client.get("/accounts/password_reset/").status_code == 200
    response = client.post("/accounts/password_reset/", {"email": "RINA@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rina@example.org"] and "rina" in message.body
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": "another long pass phrase", "new_password2": "another long pass phrase"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password("another long pass phrase")
    # The link works once.
    again = client.get(link, follow=True).content.decode()
    assert "This link does not work any more" in again


def test_password_reset_answers_the_same_for_unknown_addresses(client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


def test_password_reset_e_mails_are_limited_per_address(client, make_user, settings):
    settings.PASSWORD_RESET_PER_HOUR = 2
    make_user(username="rina", email="rina@example.org", password=PASSWORD)
    for _ in range(4):
        response = client.post("/accounts/password_reset/", {"email": "rina@example.org"})
        assert response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 2


def test_password_reset_e_mail_is_in_the_readers_language(client, make_user):
    make_user(username="rina", email="rina@example.org", password=PASSWORD)
    client.cookies["django_language"] = "bn"
    client.post("/accounts/password_reset/", {"email": "rina@example.org"})
    assert mail.outbox[0].subject == "শ্রুতিকের নতুন পাসওয়ার্ড বেছে নিন"
    assert "আপনার ব্যবহারকারী নাম: rina" in mail.outbox[0].body


def test_an_erased_account_gets_no_reset_e_mail(client, make_user):
    from contributors import services

    user = make_user(username="rina", email="rina@example.org", password=PASSWORD)
    services.user_erase(user=user)
    client.post("/accounts/password_reset/", {"email": "rina@example.org"})
    assert mail.outbox == []
    assert not User.objects.filter(email="rina@example.org").exists()
