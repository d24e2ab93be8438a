import pytest
from django.conf import settings

from contributors.models import User

pytestmark = pytest.mark.django_db


def test_sign_up_page_creates_a_contributor_and_logs_in(client):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert b"csrfmiddlewaretoken" in page.content
    response = client.post(
        "/accounts/signup/",
        {
            "username": "tanvir",
            "password1": "a-long enough pass phrase",
            "password2": "a-long enough pass phrase",
            "consent": "on",
            "gender": "male",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="tanvir")
    assert user.consent_version == settings.CONSENT_VERSION
    assert user.groups.filter(name="contributor").exists()
    assert client.get("/accounts/profile/").status_code == 200


def test_sign_up_without_consent_shows_the_reason(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "tanvir",
            "password1": "a-long enough pass phrase",
            "password2": "a-long enough pass phrase",
        },
    )
    assert response.status_code == 200
    assert "contributor agreement" in response.content.decode()
    assert not User.objects.filter(username="tanvir").exists()


def test_login_logout_and_profile_edit(client, contributor):
    response = client.post(
        "/accounts/login/",
        {"username": contributor.username, "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    response = client.post("/accounts/profile/", {"display_name": "New Name", "email": ""})
    assert response.status_code == 302
    contributor.refresh_from_db()
    assert contributor.display_name == "New Name"
    client.post("/accounts/logout/")
    assert client.get("/accounts/profile/").status_code == 302


def test_profile_page_requires_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_erase_account_page_needs_the_username(client, contributor):
    client.force_login(contributor)
    response = client.post("/accounts/profile/erase/", {"confirm": "someone-else"})
    assert response.status_code == 400
    contributor.refresh_from_db()
    assert contributor.erased_at is None
    response = client.post("/accounts/profile/erase/", {"confirm": contributor.username})
    assert response.status_code == 302
    contributor.refresh_from_db()
    assert contributor.erased_at is not None


def test_bangla_interface(client):
    client.post("/i18n/setlang/", {"language": "bn", "next": "/"})
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="bn"' in response.content.decode()


def test_admin_requires_staff(client, contributor, make_user):
    client.force_login(contributor)
    assert client.get("/admin/").status_code == 302
    admin = make_user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get("/admin/contributors/user/").status_code == 200
