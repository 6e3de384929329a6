"""OpenAPI schema generation (drf-spectacular). Kept out of ``rakuten.drf``: REST
framework imports that module while its own generics load, and drf-spectacular
imports those generics."""

from drf_spectacular.contrib.rest_framework_simplejwt import (
    SimpleJWTScheme,
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
    TokenVerifySerializerExtension,
)
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_doc


class AutoSchema(SpectacularAutoSchema):
    """Names a nested serializer after its API view, so that every view's
    ``InputSerializer``/``OutputSerializer`` gets a component of its own:
    ``ProductCreateApi.InputSerializer`` -> ``ProductCreateInput``."""

    def get_serializer_name(self, serializer, direction):
        parts = type(serializer).__qualname__.split(".")
        if len(parts) == 1:
            return super().get_serializer_name(serializer, direction)
        return "".join(
            part.removesuffix("Api").removesuffix("Serializer") for part in parts
        )

    def get_description(self):
        # A route that combines operation views (``ProductCollectionApi``) documents
        # each method with the docstring of the view that defines it.
        name = self.method.lower()
        owner = next((c for c in type(self.view).__mro__ if name in vars(c)), None)
        return (owner and get_doc(owner)) or super().get_description()


class RevocableJWTScheme(SimpleJWTScheme):
    """The API's authentication (simplejwt's, with revocation) is a bearer JWT."""

    target_class = "accounts.authentication.JWTAuthentication"


# accounts.api's token serializers are simplejwt's with revocation: the same schema.
class TokenObtainSchema(TokenObtainPairSerializerExtension):
    target_class = "accounts.api.TokenObtainPairSerializer"


class TokenRefreshSchema(TokenRefreshSerializerExtension):
    target_class = "accounts.api.TokenRefreshSerializer"


class TokenVerifySchema(TokenVerifySerializerExtension):
    target_class = "accounts.api.TokenVerifySerializer"
