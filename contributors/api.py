"""Accounts API: register, JWT tokens, the current user's profile."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from contributors import services
from contributors.authentication import token_user_id
from contributors.models import PROFILE_FIELDS, AgeRange, Gender, User
from shrutik.api import LANGUAGE_CODE_PATTERN, StrictInput


class JWTScheme(SimpleJWTScheme):
    """The schema's bearer scheme for our JWT authentication (drf-spectacular
    matches the exact class, not subclasses)."""

    target_class = "contributors.authentication.JWTAuthentication"


class ProfileOutput(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    has_consented = serializers.BooleanField(read_only=True)
    # Declared so the schema says "or blank": read-only model fields lose allow_blank,
    # and a blank address is not in the "email" format.
    email = serializers.CharField(read_only=True, help_text="An email address, or blank.")
    age_range = serializers.ChoiceField(choices=AgeRange.choices, allow_blank=True, read_only=True)
    gender = serializers.ChoiceField(choices=Gender.choices, allow_blank=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            *PROFILE_FIELDS,
            "consent_version",
            "consent_at",
            "has_consented",
            "roles",
            "is_staff",
            "date_joined",
        ]
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return sorted(user.groups.values_list("name", flat=True))


class ProfileFields(StrictInput):
    email = serializers.EmailField(required=False, allow_blank=True)
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=80)
    age_range = serializers.ChoiceField(choices=AgeRange.choices, required=False, allow_blank=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False, allow_blank=True)
    native_language = serializers.RegexField(
        LANGUAGE_CODE_PATTERN,
        required=False,
        allow_blank=True,
        max_length=35,
        error_messages={"invalid": "Use a BCP-47 language code such as 'bn' or 'en-US'."},
    )
    dialect = serializers.CharField(required=False, allow_blank=True, max_length=100)
    show_on_leaderboard = serializers.BooleanField(required=False)


@extend_schema_field({"type": "boolean", "enum": [True]})
class TrueOnlyField(serializers.BooleanField):
    """A flag that must be true; the schema says so, the serializer says why."""


@extend_schema_field({"type": "string", "enum": [settings.CONSENT_VERSION]})
class CurrentConsentVersionField(serializers.CharField):
    """The current agreement version only; the schema says so, the serializer says why."""


class RegisterInput(ProfileFields):
    username = serializers.RegexField(
        r"^[\w.@+-]{3,150}$",
        error_messages={
            "invalid": "3–150 characters: letters, digits and @/./+/-/_ only.",
        },
    )
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    consent = TrueOnlyField(
        help_text="Must be true: the contributor accepts the current agreement."
    )
    consent_version = CurrentConsentVersionField(
        required=False, help_text="The agreement version shown to the contributor."
    )

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(_("This username is taken."))
        return value

    def validate_consent(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError(
                _("You must accept the contributor agreement to register.")
            )
        return value

    def validate_consent_version(self, value: str) -> str:
        if value != settings.CONSENT_VERSION:
            raise serializers.ValidationError(
                _(
                    "The current agreement is version {version}; reload it and accept that version."
                ).format(version=settings.CONSENT_VERSION)
            )
        return value

    def validate(self, attrs: dict) -> dict:
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=RegisterInput,
        responses={201: ProfileOutput},
        summary="Create a contributor account (consent required)",
    )
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("consent")
        fields["consent_version"] = fields.get("consent_version") or settings.CONSENT_VERSION
        try:
            user = services.user_register(**fields)
        except services.UsernameTaken:
            # Registered by a concurrent request after the check above.
            taken = {"username": [_("This username is taken.")]}
            raise serializers.ValidationError(taken) from None
        return Response(ProfileOutput(user).data, status=status.HTTP_201_CREATED)


class TokenObtainInput(StrictInput, TokenObtainPairSerializer):
    pass


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshToken(tokens.RefreshToken):
    def verify(self, *args, **kwargs) -> None:
        # simplejwt looks the token's id up in the blacklist before checking that
        # it has one (a KeyError, a 500); check the claims first.
        tokens.Token.verify(self, *args, **kwargs)
        self.check_blacklist()


class TokenRefreshInput(StrictInput, TokenRefreshSerializer):
    """A refresh token for a new pair; the token is spent (see refresh_token_spend)."""

    token_class = RefreshToken

    def validate(self, attrs: dict) -> dict:
        refresh = self.token_class(attrs["refresh"])
        user_id = token_user_id(refresh.payload)
        user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
        if user is None:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
        successor = services.refresh_token_spend(token=refresh, user=user)
        return {"access": str(successor.access_token), "refresh": str(successor)}


class ThrottledTokenObtainPairView(TokenObtainPairView):
    """JWT login, throttled per address and locked out per username and address."""

    serializer_class = TokenObtainInput
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=TokenObtainInput, responses={200: TokenPairOutput})
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        finally:
            # simplejwt authenticates with DRF's request, where django-axes flags a
            # lockout; AxesMiddleware reads the flag from Django's request.
            if getattr(request, "axes_locked_out", False):
                request._request.axes_locked_out = True
                request._request.axes_credentials = getattr(request, "axes_credentials", None)
        # A token pair is a login: django-axes clears the failures it counted.
        user_logged_in.send(sender=type(serializer.user), request=request, user=serializer.user)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class ThrottledTokenRefreshView(TokenRefreshView):
    serializer_class = TokenRefreshInput
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_refresh"

    @extend_schema(request=TokenRefreshInput, responses={200: TokenPairOutput})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class MeUpdateInput(ProfileFields):
    consent = serializers.BooleanField(
        required=False,
        help_text="true accepts the current agreement; false withdraws consent.",
    )


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ProfileOutput}, summary="The current user's profile")
    def get(self, request):
        return Response(ProfileOutput(request.user).data)

    @extend_schema(
        request=MeUpdateInput,
        responses={200: ProfileOutput},
        summary="Update demographics, display name or consent",
    )
    def patch(self, request):
        data = MeUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        consent = changes.pop("consent", None)
        user = services.user_update_profile(user=request.user, **changes)
        if consent is True:
            user = services.user_give_consent(user=user, version=settings.CONSENT_VERSION)
        elif consent is False:
            user = services.user_withdraw_consent(user=user)
        return Response(ProfileOutput(user).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "delete_recordings",
                bool,
                description="Also delete my recordings' audio (they leave future exports "
                "either way).",
            )
        ],
        responses={
            200: inline_serializer("EraseResult", {"detail": serializers.CharField()}),
        },
        summary="Erase my account",
    )
    def delete(self, request):
        flag = request.query_params.get("delete_recordings", "false").lower()
        if flag not in {"true", "false", "1", "0"}:
            return Response(
                {"detail": _("delete_recordings must be true or false.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        services.user_erase(user=request.user, delete_recordings=flag in {"true", "1"})
        return Response({"detail": _("Your account has been erased.")})
