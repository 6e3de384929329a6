"""REST API of accounts: JWT tokens, the current user, and users (staff)."""

from axes.helpers import get_client_ip_address
from axes.utils import reset as axes_reset
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from accounts.models import User
from accounts.permissions import IsPlatformStaff
from accounts.selectors import user_list
from accounts.services import user_create
from rakuten.drf import Pagination, paginated_response


class LoginLockedOut(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"
    default_detail = "Too many failed log-in attempts: try again later."


# --- Tokens (simplejwt's views; token/ adds django-axes' lock-out) --------------------


class TokenObtainApi(TokenObtainPairView):
    """Username and password -> a short-lived access token and a refresh token.

    After ``AXES_FAILURE_LIMIT`` failures for a username from one address, even the
    right password is refused (429) until the cool-off time has passed."""

    throttle_scope = "token"

    @extend_schema(
        summary="Obtain an access and a refresh token",
        responses={200: TokenObtainPairView.serializer_class},
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


class TokenRefreshApi(TokenRefreshView):
    """A refresh token -> a new access token and a new refresh token; the old
    refresh token is blacklisted (rotation)."""

    throttle_scope = "token"


class TokenVerifyApi(TokenVerifyView):
    """200 when the token is valid, 401 otherwise."""


class TokenBlacklistApi(TokenBlacklistView):
    """Log out: blacklist a refresh token so it can never be used again."""


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
