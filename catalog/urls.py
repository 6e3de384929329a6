from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("new/", views.listing_create_view, name="listing_create"),
    path("proposals/<int:pk>/photo/", views.proposal_photo, name="proposal_photo"),
    path("import/", views.listing_import_upload, name="listing_import"),
    path("import/<int:pk>/", views.listing_import_detail, name="listing_import_detail"),
    path(
        "import/<int:pk>/progress/",
        views.listing_import_progress_view,
        name="listing_import_progress",
    ),
    path(
        "import/<int:pk>/rows/<int:row_pk>/",
        views.listing_import_row_choose_view,
        name="listing_import_row_choose",
    ),
    path(
        "import/<int:pk>/rows/<int:row_pk>/photo/",
        views.listing_import_row_photo,
        name="listing_import_row_photo",
    ),
    path(
        "import/<int:pk>/accept/",
        views.listing_import_accept_view,
        name="listing_import_accept",
    ),
    path(
        "import/<int:pk>/confirm/",
        views.listing_import_confirm_view,
        name="listing_import_confirm",
    ),
    path("<int:pk>/", views.product_detail, name="product_detail"),
    path("<int:pk>/photo/", views.product_photo, name="product_photo"),
    path("<int:pk>/edit/", views.product_edit, name="product_edit"),
    path("<int:pk>/delete/", views.product_delete_view, name="product_delete"),
]
