from django.urls import path

from catalog import api

# ``products/`` itself (list and create) and the proposals are routed in
# ml/api_urls.py: creating a listing links the prediction it confirms.
urlpatterns = [
    path("categories/", api.CategoryListApi.as_view(), name="api-categories"),
    path("products/<int:pk>/", api.ProductObjectApi.as_view(), name="api-product"),
    path(
        "products/<int:pk>/photo/",
        api.ProductPhotoApi.as_view(),
        name="api-product-photo",
    ),
]
