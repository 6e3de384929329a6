from django.urls import path

from catalog import api

urlpatterns = [
    path("categories/", api.CategoryListApi.as_view(), name="api-categories"),
    path("products/", api.ProductCollectionApi.as_view(), name="api-products"),
    path("products/proposal/", api.ProposalApi.as_view(), name="api-product-proposal"),
    path(
        "products/proposal/<int:pk>/photo/",
        api.ProposalPhotoApi.as_view(),
        name="api-proposal-photo",
    ),
    path("products/<int:pk>/", api.ProductObjectApi.as_view(), name="api-product"),
    path(
        "products/<int:pk>/photo/",
        api.ProductPhotoApi.as_view(),
        name="api-product-photo",
    ),
]
