"""Admin of the catalogue. Its forms validate with the services' own checks and every
save or delete calls a service, so a change made here is confirmed, checked and
audited like one made on the pages or through the API."""

from django import forms
from django.contrib import admin

from catalog.forms import photo_validate
from catalog.models import Category, Product
from catalog.services.products import (
    product_category_check,
    product_delete,
    product_update,
)
from catalog.services.taxonomy import category_update, category_upsert
from rakuten.exceptions import ApplicationError


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """Unticking ``active`` retires a category (``category_update``: audited); its
    code, the models' label, is set once."""

    list_display = ("code", "name", "active", "product_count")
    list_filter = ("active",)
    search_fields = ("code", "name")

    @admin.display(description="products")
    def product_count(self, obj: Category) -> int:
        return obj.products.count()

    def get_readonly_fields(self, request, obj=None):
        return ("code", "created_at") if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retire it instead: models and products keep its code

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            obj.refresh_from_db()  # the service compares with what is stored
            category_update(
                category=obj,
                name=data["name"],
                active=data["active"],
                actor=request.user,
            )
            return
        category = category_upsert(
            code=data["code"],
            name=data["name"],
            active=data["active"],
            actor=request.user,
        )
        obj.pk = category.pk
        obj.refresh_from_db()


class ProductAdminForm(forms.ModelForm):
    """Title, description, category and a new photo: what ``product_update``
    changes, checked with its rules."""

    photo = forms.FileField(
        required=False, help_text="JPEG, PNG or WebP; replaces the current photo."
    )

    class Meta:
        model = Product
        fields = ["title", "description", "category"]

    def clean_category(self):
        category = self.cleaned_data.get("category")
        try:
            product_category_check(category)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc
        return category

    def clean_photo(self):
        return photo_validate(self.cleaned_data.get("photo"))


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ("title", "category", "source", "seller", "has_image", "created_at")
    list_filter = ("source", "category", ("image", admin.EmptyFieldListFilter))
    search_fields = ("title", "description", "external_id")
    list_select_related = ("category", "seller")
    readonly_fields = (
        "image",
        "image_sha256",
        "seller",
        "source",
        "external_id",
        "external_image_id",
        "confirmed_at",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "created_at"

    @admin.display(boolean=True, description="photo")
    def has_image(self, obj: Product) -> bool:
        return bool(obj.image)

    def has_add_permission(self, request) -> bool:
        return False  # products are listed by their sellers or imported

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        obj.refresh_from_db()  # the service compares with what is stored
        product_update(
            product=obj,
            title=data["title"],
            description=data["description"],
            category=data["category"],
            image=data["photo"],
            actor=request.user,
        )

    def delete_model(self, request, obj):
        product_delete(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            product_delete(product=product)
