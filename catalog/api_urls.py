from django.urls import path

from catalog import api, api_imports

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
    path(
        "listing-imports/",
        api_imports.ListingImportCreateApi.as_view(),
        name="api-listing-imports",
    ),
    path(
        "listing-imports/<int:pk>/",
        api_imports.ListingImportDetailApi.as_view(),
        name="api-listing-import",
    ),
    path(
        "listing-imports/<int:pk>/confirm/",
        api_imports.ListingImportConfirmApi.as_view(),
        name="api-listing-import-confirm",
    ),
]
