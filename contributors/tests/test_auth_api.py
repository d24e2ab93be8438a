import base64
import json
from datetime import timedelta

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from contributors import services
from contributors.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long enough pass phrase"


def register(client, **overrides):
    payload = {
        "username": "rina",
        "email": "rina@example.org",
        "password": PASSWORD,
        "consent": True,
        "consent_version": settings.CONSENT_VERSION,
        **overrides,
    }
    return client.post("/api/auth/register/", payload, format="json")


def tokens(client, username="rina", password=PASSWORD):
    response = client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_register_token_and_me_round_trip(api_client):
    response = register(api_client, display_name="Rina", age_range="twenties", gender="female")
    assert response.status_code == 201, response.content
    assert response.json()["roles"] == ["contributor"]

    pair = tokens(api_client)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    me = api_client.get("/api/me/").json()
    assert me["username"] == "rina"
    assert me["display_name"] == "Rina"
    assert me["has_consented"] is True
    assert me["consent_version"] == settings.CONSENT_VERSION
    assert "password" not in me


def test_registering_without_consent_is_refused(api_client):
    response = register(api_client, consent=False)
    assert response.status_code == 400
    assert "agreement" in response.json()["detail"]
    assert not User.objects.filter(username="rina").exists()


def test_registering_with_an_old_agreement_version_is_refused(api_client):
    response = register(api_client, consent_version="1999-01")
    assert response.status_code == 400
    assert settings.CONSENT_VERSION in response.json()["detail"]


def test_weak_password_is_refused_with_reason(api_client):
    response = register(api_client, password="12345678")
    assert response.status_code == 400
    body = response.json()
    assert "password" in body["errors"]
    assert body["detail"].startswith("password:")


def test_duplicate_username_is_refused_case_insensitively(api_client):
    assert register(api_client).status_code == 201
    response = register(api_client, username="RINA", email="other@example.org")
    assert response.status_code == 400
    assert "taken" in response.json()["detail"]


def test_cannot_make_themselves_staff_or_give_themselves_a_role(api_client):
    response = register(api_client, is_staff=True, is_superuser=True, roles=["researcher"])
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "Unknown option(s): is_staff, is_superuser, roles. Known: email, display_name,"
    )
    assert not User.objects.filter(username="rina").exists()
    assert register(api_client).status_code == 201
    user = User.objects.get(username="rina")

    api_client.force_authenticate(user)
    response = api_client.patch(
        "/api/me/",
        {"is_staff": True, "roles": ["reviewer"], "groups": [1], "display_name": "R"},
        format="json",
    )
    assert response.status_code == 400
    assert "Unknown option(s): groups, is_staff, roles." in response.json()["detail"]
    user.refresh_from_db()
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["contributor"]
    assert user.display_name == ""


def test_refresh_rotation_blacklists_the_old_refresh_token(api_client):
    register(api_client)
    pair = tokens(api_client)
    first = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert first.status_code == 200
    assert first.json()["refresh"] != pair["refresh"]
    again = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert again.status_code == 401
    assert "detail" in again.json()
    newer = api_client.post("/api/auth/token/refresh/", {"refresh": first.json()["refresh"]})
    assert newer.status_code == 200


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("kind", ["tampered", "expired", "alg_none", "garbage"])
def test_bad_access_tokens_get_401(api_client, contributor, kind):
    token = AccessToken.for_user(contributor)
    if kind == "tampered":
        header, payload, signature = str(token).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["user_id"] = str(int(claims["user_id"]) + 1)
        raw = f"{header}.{_b64(claims)}.{signature}"
    elif kind == "expired":
        token.set_exp(lifetime=-timedelta(seconds=1))
        raw = str(token)
    elif kind == "alg_none":
        claims = dict(token.payload)
        raw = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    else:
        raw = "not-a-jwt"
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_anonymous_me_is_401(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401


def test_wrong_password_gets_401_with_detail(api_client):
    register(api_client)
    response = api_client.post(
        "/api/auth/token/", {"username": "rina", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["detail"]


def test_login_is_throttled(api_client):
    from rest_framework.throttling import SimpleRateThrottle

    # The rates are read into a class attribute at import time.
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {**original, "login": "3/min"}
    try:
        codes = [
            api_client.post(
                "/api/auth/token/", {"username": "x", "password": "y"}, format="json"
            ).status_code
            for _ in range(4)
        ]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes == [401, 401, 401, 429]


def test_patch_validates_demographics(auth_client):
    response = auth_client.patch("/api/me/", {"age_range": "ancient"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("age_range:")
    response = auth_client.patch("/api/me/", {"native_language": "Bangla!"}, format="json")
    assert response.status_code == 400
    assert "BCP-47" in response.json()["detail"]


def test_withdrawing_and_giving_consent(auth_client):
    response = auth_client.patch("/api/me/", {"consent": False}, format="json")
    assert response.json()["has_consented"] is False
    response = auth_client.patch("/api/me/", {"consent": True}, format="json")
    assert response.json()["has_consented"] is True
    assert response.json()["consent_version"] == settings.CONSENT_VERSION


def test_erasing_the_account_scrubs_identity_and_revokes_tokens(api_client):
    register(api_client, display_name="Rina", gender="female", dialect="Sylheti")
    user = User.objects.get(username="rina")
    speaker_id = user.speaker_id
    pair = tokens(api_client)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    response = api_client.delete("/api/me/?delete_recordings=true")
    assert response.status_code == 200

    user.refresh_from_db()
    assert user.erased_at is not None
    assert not user.is_active
    assert user.username.startswith("erased-")
    assert (user.email, user.display_name, user.gender, user.dialect) == ("", "", "", "")
    assert not user.has_usable_password()
    assert user.speaker_id == speaker_id  # keeps exports' history consistent, not identifying

    assert api_client.get("/api/me/").status_code == 401
    refresh = api_client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert refresh.status_code == 401


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_malformed_json_is_400_with_detail(api_client):
    response = api_client.post(
        "/api/auth/register/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize("user_id", ["abc", "1e3", "-1", "", [1], {"id": 1}, 2**64, True])
def test_a_signed_token_naming_no_user_id_gets_401(api_client, contributor, user_id):
    access = AccessToken.for_user(contributor)
    access["user_id"] = user_id
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 401
    assert response.json()["detail"]

    refresh = RefreshToken.for_user(contributor)
    refresh["user_id"] = user_id
    response = api_client.post("/api/auth/token/refresh/", {"refresh": str(refresh)})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_signed_refresh_token_without_an_id_gets_401(api_client, contributor):
    refresh = RefreshToken.for_user(contributor)
    del refresh["jti"]
    response = api_client.post("/api/auth/token/refresh/", {"refresh": str(refresh)})
    assert response.status_code == 401
    assert response.json()["detail"] == "Token has no id"


def test_an_integer_user_id_claim_still_signs_in(api_client, contributor):
    access = AccessToken.for_user(contributor)
    access["user_id"] = contributor.pk
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200
    assert response.json()["username"] == contributor.username


def test_a_refresh_token_of_a_deleted_account_gets_401(api_client, make_user):
    user = make_user()
    refresh = str(RefreshToken.for_user(user))
    user.delete()
    response = api_client.post("/api/auth/token/refresh/", {"refresh": refresh})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_registering_a_name_taken_in_another_case_is_refused_by_the_database_too():
    services.user_register(username="Racer", password=PASSWORD, consent_version="v")
    # No check before the insert here: the constraint alone refuses it.
    with pytest.raises(services.UsernameTaken):
        services.user_register(username="rACER", password=PASSWORD, consent_version="v")
    assert User.objects.filter(username__iexact="racer").count() == 1


def test_signing_in_with_the_username_as_registered(api_client):
    assert register(api_client, username="Rina").status_code == 201
    assert tokens(api_client, username="Rina")["access"]
