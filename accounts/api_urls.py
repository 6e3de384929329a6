from django.urls import path

from accounts import api

urlpatterns = [
    path("token/", api.TokenObtainApi.as_view(), name="api-token-obtain"),
    path("token/refresh/", api.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("token/verify/", api.TokenVerifyApi.as_view(), name="api-token-verify"),
    path(
        "token/blacklist/", api.TokenBlacklistApi.as_view(), name="api-token-blacklist"
    ),
    path("me/", api.UserMeApi.as_view(), name="api-me"),
    path("users/", api.UserCollectionApi.as_view(), name="api-users"),
]
