"""Forms of the suggestion endpoint and the staff pages: they validate; the services
save."""

from django import forms

from catalog.forms import photo_validate
from catalog.selectors import category_list
from ml.models import ModelVersion
from ml.options import (
    training_options_errors,
    training_options_form_fields,
    training_options_from,
)
from rakuten.forms import BootstrapFormMixin, IdBoundedModelMultipleChoiceField
from rakuten.ids import MAX_ID

SUGGESTION_MIN_TITLE = 3
WINDOW_CHOICES = [(1, "1 day"), (7, "7 days"), (30, "30 days"), (90, "90 days")]
WINDOW_CHOICES += [(365, "1 year")]


class SuggestionForm(forms.Form):
    """What the suggestion endpoint reads from the Sell form as the seller types."""

    title = forms.CharField(max_length=500, required=False)
    description = forms.CharField(required=False)
    photo = forms.FileField(required=False)
    proposal = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def clean_photo(self):
        return photo_validate(self.cleaned_data.get("photo"))

    def has_enough_input(self) -> bool:
        """A suggestion needs a title of a few characters or a photo."""
        data = self.cleaned_data
        return (
            len(data.get("title", "").strip()) >= SUGGESTION_MIN_TITLE
            or bool(data.get("photo"))
            or bool(data.get("proposal"))
        )


class MetricsWindowForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=WINDOW_CHOICES, coerce=int, required=False, empty_value=30
    )


class TrainingRunForm(BootstrapFormMixin, forms.Form):
    """The run's kind, then every training option, built from ``ml.options`` (its
    defaults as initials, its checks as field errors)."""

    kind = forms.ChoiceField(
        choices=[
            ("full", "Full: from scratch on every confirmed product"),
            ("incremental", "Incremental: fine-tune the active model on new products"),
        ],
        initial="full",
        required=False,
        label="Kind",
    )

    force = forms.BooleanField(
        required=False,
        label="Queue it even if a full run is already queued or running",
    )

    def __init__(self, *args, **kwargs):
        # Built per form (the backbone choices import torch), before the fields are
        # copied and styled.
        self.base_fields = {**self.base_fields, **training_options_form_fields()}
        super().__init__(*args, **kwargs)

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or "full"

    def clean(self):
        data = super().clean()
        options = training_options_from(data)
        for name, message in training_options_errors(options).items():
            if name not in self.errors:
                self.add_error(name, message)
        return data


class ModelCompareForm(forms.Form):
    compare = IdBoundedModelMultipleChoiceField(
        queryset=ModelVersion.objects.all(), required=False
    )


class DatasetResetForm(BootstrapFormMixin, forms.Form):
    confirm = forms.BooleanField(
        required=False,
        label="I understand: the new-products count starts again from zero "
        "(no product is deleted).",
    )


class ModelRollbackForm(BootstrapFormMixin, forms.Form):
    """The rollback's confirmation step (the API's rollback needs none)."""

    confirm = forms.BooleanField(
        label="I understand: the previous model becomes the active one and serves "
        "every suggestion from now on.",
        error_messages={"required": "Tick this box to roll back."},
    )


class CategoryMergeForm(BootstrapFormMixin, forms.Form):
    """Fold one category into another (``ml.services.category_merge`` checks again)."""

    source = forms.ModelChoiceField(
        queryset=category_list(),
        label="Merge this category",
    )
    target = forms.ModelChoiceField(
        queryset=category_list(),
        label="into this one",
    )
    confirm = forms.BooleanField(
        label="I understand: its products move to the second category and it is "
        "retired (kept, inactive); the next training learns the merged label set."
    )

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("source") == data.get("target"):
            self.add_error("target", "Choose another category to merge into.")
        return data


class BatchJobForm(BootstrapFormMixin, forms.Form):
    """Start a batch prediction job from the staff page."""

    scope = forms.ChoiceField(
        choices=[
            ("all", "Every product"),
            ("categories", "The products of some categories"),
            ("unlabelled", "The unlabelled pool"),
        ],
        initial="all",
        label="Products",
    )
    categories = forms.CharField(
        required=False,
        max_length=2000,
        label="Category codes",
        help_text="for the products of some categories: codes, comma-separated",
    )
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.exclude(bundle_sha256=None).exclude(
            bundle_sha256=""
        ),
        required=False,
        empty_label="the active model",
        label="Model version",
    )
    chunk_size = forms.IntegerField(
        required=False, min_value=1, max_value=10_000, label="Products per chunk"
    )

    def clean(self):
        data = super().clean()
        codes = [c.strip() for c in data.get("categories", "").split(",") if c.strip()]
        if data.get("scope") == "categories" and not codes:
            self.add_error("categories", "Give at least one category code.")
        data["scope_params"] = (
            {"categories": codes} if data.get("scope") == "categories" else {}
        )
        return data
