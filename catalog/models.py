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
    # The seller's own reference (a listing import's ``sku`` column): unique per
    # seller, so that importing the same file again updates the product. NULL for
    # products listed without one (NULLs do not collide in a unique index).
    sku = models.CharField(max_length=100, null=True, blank=True)
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
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "sku"], name="product_seller_sku_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product_detail", args=[self.pk])


class ListingImport(models.Model):
    """A seller's catalogue upload (a CSV and an optional zip of photos), staged until
    the seller confirms it: its rows wait here with the model's suggestions, and only
    the confirmation creates or updates products. Not confirmed by ``expires_at``, it
    expires and its uploaded photos are deleted."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        SUGGESTING = "suggesting", "Suggesting categories"
        READY = "ready", "Ready for review"
        CONFIRMING = "confirming", "Listing products"
        CONFIRMED = "confirmed", "Confirmed"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.UPLOADED
    )
    csv_name = models.CharField(max_length=255, blank=True)
    zip_name = models.CharField(max_length=255, blank=True)
    # The folder under MEDIA_ROOT that holds this import's photos.
    folder = models.CharField(max_length=200, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    # [{"line": 3, "reason": "..."}, ...]: the CSV rows that were not staged.
    rejections = models.JSONField(default=list, blank=True)
    # Rows whose first suggestion is at least this probable are pre-accepted.
    threshold = models.FloatField()
    # The batch prediction job that suggests the rows' categories (a plain id: the
    # job lives in the ml app, which catalog never imports).
    batch_job_id = models.PositiveBigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    products_created = models.PositiveIntegerField(default=0)
    products_updated = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    # Rows of the confirmation under way already listed (its progress, and where a
    # task delivered again resumes).
    rows_listed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    suggested_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="listingimport_expiry")
        ]

    def __str__(self) -> str:
        return f"listing import {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("catalog:listing_import_detail", args=[self.pk])


class ListingImportRow(models.Model):
    """One valid row of a listing import, with the model's suggestions (written by the
    batch job) and the seller's decision."""

    class Decision(models.TextChoices):
        PENDING = "pending", "Waiting for suggestions"
        ACCEPTED = "accepted", "Accepted"
        CHANGED = "changed", "Changed"
        FLAGGED = "flagged", "Flagged"

    listing_import = models.ForeignKey(
        ListingImport, on_delete=models.CASCADE, related_name="rows"
    )
    line = models.PositiveIntegerField()  # in the CSV, the header being line 1
    sku = models.CharField(max_length=100)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    # The photo's storage name (under the import's folder), "" without one.
    image = models.CharField(max_length=300, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)
    # [{"category_id", "code", "name", "probability"}, ...] best first, calibrated.
    suggestions = models.JSONField(default=list, blank=True)
    used = models.CharField(max_length=20, blank=True)  # text, image or text+image
    model_version_id = models.PositiveBigIntegerField(null=True, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(
        max_length=20, choices=Decision.choices, default=Decision.PENDING
    )
    # The seller's product with this sku (updated on confirmation), or the product
    # the confirmation created.
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["listing_import", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing_import", "sku"], name="listingimportrow_sku_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["listing_import", "decision"], name="listingimportrow_decision"
            )
        ]

    def __str__(self) -> str:
        return f"line {self.line}: {self.sku}"

    @property
    def top_probability(self) -> float | None:
        return self.suggestions[0]["probability"] if self.suggestions else None

    @property
    def top_category_id(self) -> int | None:
        return self.suggestions[0].get("category_id") if self.suggestions else None


class TaxonomyVersion(models.Model):
    """One version of the taxonomy: which categories it holds. Exactly one version is
    current; a taxonomy migration makes its new version current and undoing it makes
    the previous one current again. The current version's categories are the active
    ones (``Category.active``, still the flag the forms and the training read);
    a migration snapshots them into its old version before it changes anything."""

    name = models.CharField(max_length=200)
    # True for the current version, NULL otherwise: a unique index then allows at
    # most one current row on every database (MySQL has no partial unique indexes).
    is_current = models.BooleanField(null=True, unique=True, editable=False)
    categories = models.ManyToManyField(
        Category, related_name="taxonomy_versions", blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"taxonomy {self.name}"


class TaxonomyMigration(models.Model):
    """The move from one taxonomy version to the next, with the mapping it applied
    (``{old_code: [new_code, ...]}``: one code = moved at once, several = a split that
    a model and staff decide, none = retired)."""

    class Status(models.TextChoices):
        AWAITING = "awaiting", "Products await a decision"
        DONE = "done", "Done"
        UNDONE = "undone", "Undone"

    from_version = models.ForeignKey(
        TaxonomyVersion, on_delete=models.PROTECT, related_name="migrations_from"
    )
    to_version = models.ForeignKey(
        TaxonomyVersion, on_delete=models.PROTECT, related_name="migrations_to"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING
    )
    mapping = models.JSONField(default=dict)
    # What the import changed, to report it and to undo it: {"created": [codes],
    # "renamed": {code: old name}, "retired": [codes], "mapped": n, "split": n, ...}
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"taxonomy migration {self.pk} ({self.status})"


class CategoryMove(models.Model):
    """One product's move in a taxonomy migration: from its old category to its new
    one, how that was decided and by whom. ``new_category`` is empty while the product
    waits (a split or a retired category). The model that decided is kept as a plain
    id: the catalog never depends on the ML app (app order), and a move outlives the
    model version's row anyway."""

    class Kind(models.TextChoices):
        MAPPED = "mapped", "One-to-one mapping"
        SPLIT = "split", "Split"
        RETIRED = "retired", "Retired category"

    class How(models.TextChoices):
        MAPPED = "mapped", "The mapping"
        MODEL = "model", "A model"
        STAFF = "staff", "Staff"

    migration = models.ForeignKey(
        TaxonomyMigration, on_delete=models.CASCADE, related_name="moves"
    )
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="category_moves"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    old_category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+"
    )
    new_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    how = models.CharField(max_length=20, choices=How.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    model_version_id = models.PositiveIntegerField(null=True, blank=True)
    probability = models.FloatField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["migration", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["migration", "product"], name="categorymove_unique"
            )
        ]

    def __str__(self) -> str:
        new = self.new_category.code if self.new_category else "?"
        return f"{self.product_id}: {self.old_category.code} -> {new}"
