import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.urls import reverse


class Category(models.Model):
    """A product type of the marketplace's taxonomy. Categories are data, not an enum: a
    taxonomy can be imported, extended, retired or merged without a code change."""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def product_image_path(instance: "Product", filename: str) -> str:
    # A random name: never trust (or leak) the uploader's file name.
    suffix = PurePath(filename).suffix.lower() or ".jpg"
    return f"products/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}{suffix}"


class Product(models.Model):
    """A listing. ``category`` is the confirmed category (by the seller, the import or
    staff); it stays empty for products waiting for one (the unlabelled pool)."""

    class Source(models.TextChoices):
        LISTING = "listing", "Seller listing"
        IMPORT = "import", "Import"

    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    # Title and description lower-cased and without accents (catalog.text), written by
    # the product services: the search compares a normalised query with it, so "video"
    # finds "Jeu VIDÉO" on every database.
    search_text = models.TextField(blank=True, default="", editable=False)
    image = models.ImageField(upload_to=product_image_path, blank=True)
    # sha256 of the photo's bytes: keys the image-feature cache and detects changes.
    image_sha256 = models.CharField(max_length=64, blank=True)
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
    )
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
    )
    source = models.CharField(
        max_length=20, choices=Source.choices, default=Source.LISTING
    )
    # Identifier in the source data set (``rakuten:<productid>`` or the generic
    # ``product_id``); NULL for seller listings. NULLs do not collide in a unique index.
    external_id = models.CharField(max_length=120, null=True, blank=True, unique=True)
    external_image_id = models.CharField(max_length=120, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["seller", "-created_at"], name="product_seller_created"
            ),
            models.Index(fields=["confirmed_at"], name="product_confirmed_at"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product_detail", args=[self.pk])
