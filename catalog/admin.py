from django.contrib import admin

from catalog.models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "active", "product_count")
    list_filter = ("active",)
    search_fields = ("code", "name")

    @admin.display(description="products")
    def product_count(self, obj: Category) -> int:
        return obj.products.count()


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "source", "seller", "has_image", "created_at")
    list_filter = ("source", "category", ("image", admin.EmptyFieldListFilter))
    search_fields = ("title", "description", "external_id")
    list_select_related = ("category", "seller")
    raw_id_fields = ("seller",)
    readonly_fields = ("image_sha256", "created_at", "updated_at")
    date_hierarchy = "created_at"

    @admin.display(boolean=True, description="photo")
    def has_image(self, obj: Product) -> bool:
        return bool(obj.image)
