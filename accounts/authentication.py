"""The API's authentication: simplejwt's access tokens, refused once revoked."""

from rest_framework_simplejwt.authentication import (
    JWTAuthentication as SimpleJWTAuthentication,
)
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.selectors import user_token_is_revoked


class TokenRevoked(AuthenticationFailed):
    default_detail = "Token was revoked (password change or log-out)."
    default_code = "token_not_valid"


class JWTAuthentication(SimpleJWTAuthentication):
    """simplejwt's, plus: a token issued before the user's last password change or
    log-out (an older ``token_version`` than the user's) is refused with a 401."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if user_token_is_revoked(user=user, claims=validated_token.payload):
            raise TokenRevoked()
        return user
