from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("new/", views.listing_create_view, name="listing_create"),
    path("proposals/<int:pk>/photo/", views.proposal_photo, name="proposal_photo"),
    path("<int:pk>/", views.product_detail, name="product_detail"),
    path("<int:pk>/photo/", views.product_photo, name="product_photo"),
    path("<int:pk>/edit/", views.product_edit, name="product_edit"),
    path("<int:pk>/delete/", views.product_delete_view, name="product_delete"),
]
