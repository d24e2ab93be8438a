"""Who a JWT names: simplejwt's authentication, refusing claims it would crash on.

A token is signed by us, but what its claims hold is still checked: simplejwt
looks the user up with whatever ``user_id`` holds, and a value that is not a
number made the database lookup fail with a 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

if TYPE_CHECKING:
    # DRF imports authentication classes while defining its views, possibly
    # before the app registry is ready: no model import at module level.
    from contributors.models import User

# A user id the database can hold (a 64-bit primary key).
_MAX_USER_ID = 2**63 - 1


def token_user_id(payload: dict) -> int | None:
    """The user id a token's claims name, or None if it is not a positive integer.

    simplejwt writes it as a string of digits; an integer is accepted too.
    """
    value = payload.get(api_settings.USER_ID_CLAIM)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= _MAX_USER_ID else None


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token) -> User:
        if token_user_id(validated_token.payload) is None:
            raise InvalidToken()
        return super().get_user(validated_token)
