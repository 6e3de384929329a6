"""REST API of accounts: JWT tokens, the current user, and users (staff)."""

from axes.helpers import get_client_ip_address
from axes.utils import reset as axes_reset
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import UntypedToken
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from accounts.models import User
from accounts.permissions import IsPlatformStaff
from accounts.selectors import (
    TOKEN_VERSION_CLAIM,
    user_list,
    user_token_is_revoked,
)
from accounts.services import user_create, user_tokens_revoke
from rakuten.drf import Pagination, paginated_response


class LoginLockedOut(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"
    default_detail = "Too many failed log-in attempts: try again later."


# --- Tokens (simplejwt's views; token/ adds django-axes' lock-out) --------------------


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    """simplejwt's; the tokens carry the user's ``token_version`` (revocation)."""

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token[TOKEN_VERSION_CLAIM] = user.token_version
        return token


class TokenObtainApi(TokenObtainPairView):
    """Username and password -> a short-lived access token and a refresh token.

    After ``AXES_FAILURE_LIMIT`` failures for a username from one address, even the
    right password is refused (429) until the cool-off time has passed."""

    throttle_scope = "token"
    serializer_class = TokenObtainPairSerializer

    @extend_schema(
        summary="Obtain an access and a refresh token",
        responses={200: TokenObtainPairSerializer},
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            # django-axes flags the request when it refused (or has just locked)
            # the username+address.
            if getattr(request, "axes_locked_out", False):
                raise LoginLockedOut() from None
            raise
        # AXES_RESET_ON_SUCCESS, as for a web log-in. (Not through the
        # user_logged_in signal: axes would then open a session and set a cookie.)
        axes_reset(ip=get_client_ip_address(request), username=serializer.user.username)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


def _token_user(token) -> User | None:
    """The user a token names, None when it names nobody (deleted)."""
    user_id = token.payload.get(jwt_settings.USER_ID_CLAIM)
    if user_id is None:
        return None
    return User.objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's, except: a token of a deleted or inactive user, or one revoked by
    a password change or a log-out, is a 401 (not a 500 for the deleted user); the
    new refresh token keeps the expiry of the one it replaces (an absolute lifetime
    that rotation never extends), and the access token never outlives it."""

    default_error_messages = {
        "no_active_account": "No active account found for the given token.",
        "revoked": "Token was revoked (password change or log-out).",
    }

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])
        user = _token_user(refresh)
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
        if user_token_is_revoked(user=user, claims=refresh.payload):
            raise AuthenticationFailed(
                self.error_messages["revoked"], "token_not_valid"
            )
        expires = refresh.payload["exp"]
        access = refresh.access_token
        access.payload["exp"] = min(access.payload["exp"], expires)
        data = {"access": str(access)}
        if jwt_settings.ROTATE_REFRESH_TOKENS:
            if jwt_settings.BLACKLIST_AFTER_ROTATION:
                refresh.blacklist()
            refresh.set_jti()
            refresh.set_iat()
            refresh.payload["exp"] = expires  # not set_exp(): no new lifetime
            refresh.outstand()
            data["refresh"] = str(refresh)
        return data


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """simplejwt's, except that a token the API would refuse is not valid either:
    its user deleted or inactive, or the token revoked."""

    def validate(self, attrs):
        data = super().validate(attrs)
        token = UntypedToken(attrs["token"])
        if jwt_settings.USER_ID_CLAIM in token.payload:
            user = _token_user(token)
            if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
                raise TokenError("Token's user is not active.")
            if user_token_is_revoked(user=user, claims=token.payload):
                raise TokenError("Token was revoked (password change or log-out).")
        return data


class TokenBlacklistSerializer(jwt_serializers.TokenBlacklistSerializer):
    """Log-out: the refresh token sent is blacklisted, and every other token of its
    user revoked."""

    def validate(self, attrs):
        data = super().validate(attrs)
        user = _token_user(self.token_class(attrs["refresh"], verify=False))
        if user is not None:
            user_tokens_revoke(user=user)
        return data


class TokenRefreshApi(TokenRefreshView):
    """A refresh token -> a new access token and a new refresh token; the old
    refresh token is blacklisted (rotation). The new refresh token expires when the
    first one of the chain would have (``JWT_REFRESH_DAYS`` after the log-in): using
    a refresh token never extends its life. A token revoked by a password change or
    a log-out, or whose user is gone or inactive, is a 401."""

    throttle_scope = "token"
    serializer_class = TokenRefreshSerializer


class TokenVerifyApi(TokenVerifyView):
    """200 when the token is valid (signature, expiry, not blacklisted nor revoked,
    its user active), 401 otherwise."""

    serializer_class = TokenVerifySerializer


class TokenBlacklistApi(TokenBlacklistView):
    """Log out: blacklist the refresh token, and revoke every token of its user
    (access tokens included), as the web log-out does."""

    serializer_class = TokenBlacklistSerializer


# --- Users ----------------------------------------------------------------------------


class UserMeApi(APIView):
    """The user the access token belongs to."""

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "username", "email", "role", "date_joined"]

    @extend_schema(summary="The current user", responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)


class UserListApi(APIView):
    """Every user, by username (staff)."""

    permission_classes = [IsPlatformStaff]
    pagination_class = Pagination

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "username", "email", "role", "is_active", "date_joined"]

    @extend_schema(summary="List users (staff)", responses=OutputSerializer(many=True))
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=user_list(),
            serializer_class=UserListApi.OutputSerializer,
        )


class UserCreateApi(APIView):
    """Create a seller, a staff member or an integrator (staff); the password goes
    through Django's password validators."""

    permission_classes = [IsPlatformStaff]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        password = serializers.CharField(
            write_only=True, style={"input_type": "password"}
        )
        role = serializers.ChoiceField(choices=User.Role.choices)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "username", "email", "role", "is_active", "date_joined"]

    @extend_schema(
        summary="Create a user with a role (staff)",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request):
        serializer = UserCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create(**serializer.validated_data)
        return Response(
            UserCreateApi.OutputSerializer(user).data, status=status.HTTP_201_CREATED
        )


class UserCollectionApi(UserListApi, UserCreateApi):
    """``users/``: GET lists (``UserListApi``), POST creates (``UserCreateApi``)."""
