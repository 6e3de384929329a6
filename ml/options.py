"""The training options staff and integrators may set: defined once here.

Every interface builds itself from :data:`TRAINING_OPTIONS` (the staff form's fields
and initials, the API's input fields and defaults, ``train_model``'s flags, the
admin's restart action, the scheduler's carried-over options) and every value goes
through :func:`training_options_clean`, so a default or a bound is written once and a
bad value is refused with the same message everywhere.

A run's stored ``parameters`` hold these options, plus keys the platform sets itself
(``is_demo``, ``gate``, ``seed``) that are not user options.
"""

from collections.abc import Callable
from dataclasses import dataclass

from rakuten.exceptions import ApplicationError


def _backbone_names() -> tuple[str, ...]:
    from ml.core.backbones import BACKBONES  # torch: imported when first asked

    return BACKBONES


@dataclass(frozen=True)
class TrainingOption:
    """One option: its name, type, default, bounds or choices, and help text."""

    name: str
    type: type  # bool, int or str
    default: object
    label: str
    help: str
    min_value: int | None = None
    max_value: int | None = None
    choices: Callable[[], tuple[str, ...]] | None = None
    # Whether a scheduled retraining reuses the active model's value (``activate`` is
    # not: the promotion gate decides for scheduled runs).
    scheduled: bool = True

    def clean(self, value):
        """The value, or the default when it is missing (None or ""); an
        ``ApplicationError`` when it is refused."""
        if value is None or value == "":
            return self.default
        if self.type is bool:
            if not isinstance(value, bool):
                raise ApplicationError(f"{self.name} must be true or false.")
            return value
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ApplicationError(f"{self.name} must be a whole number.")
            if not self.min_value <= value <= self.max_value:
                raise ApplicationError(
                    f"{self.name} must be between {self.min_value} and "
                    f"{self.max_value}."
                )
            return value
        choices = self.choices()
        if value not in choices:
            raise ApplicationError(
                f"Unknown {self.name} {value!r}: use {', '.join(choices)}."
            )
        return value

    def describe(self) -> str:
        """The help text with the accepted values and the default (API and
        command-line help)."""
        text = self.help
        if self.type is int:
            text += f" From {self.min_value} to {self.max_value}."
        elif self.choices is not None:
            text += f" One of {', '.join(self.choices())}."
        default = str(self.default).lower() if self.type is bool else self.default
        return f"{text} Default: {default}."


TRAINING_OPTIONS: tuple[TrainingOption, ...] = (
    TrainingOption(
        name="backbone",
        type=str,
        default="efficientnet_lite0",
        label="Backbone",
        help="The frozen image backbone of the photo branch.",
        choices=_backbone_names,
    ),
    TrainingOption(
        name="text_only",
        type=bool,
        default=False,
        label="Text only (no image branch)",
        help="Train without the image branch (titles and descriptions only).",
    ),
    TrainingOption(
        name="epochs",
        type=int,
        default=8,
        label="Epochs",
        help="Training epochs at most (early stopping may end sooner).",
        min_value=1,
        max_value=200,
    ),
    TrainingOption(
        name="activate",
        type=bool,
        default=False,
        label="Activate the new model when training succeeds",
        help="Make the new version active when training succeeds.",
        scheduled=False,
    ),
    TrainingOption(
        name="allow_random_backbone",
        type=bool,
        default=False,
        label="Allow a randomly initialised backbone when no pretrained weights are "
        "available (demos only: the model gets a warning)",
        help="Train the image branch on a randomly initialised backbone when no "
        "pretrained weights are available (recorded as a warning on the model).",
    ),
)

TRAINING_OPTION_NAMES: tuple[str, ...] = tuple(o.name for o in TRAINING_OPTIONS)


def training_options_defaults() -> dict:
    return {option.name: option.default for option in TRAINING_OPTIONS}


def training_options_errors(data: dict) -> dict[str, str]:
    """Each refused option's message, by option name (unknown keys under ``None``)."""
    errors: dict = {}
    unknown = set(data) - set(TRAINING_OPTION_NAMES)
    if unknown:
        errors[None] = f"Unknown training option(s): {', '.join(sorted(unknown))}"
    for option in TRAINING_OPTIONS:
        try:
            option.clean(data.get(option.name))
        except ApplicationError as exc:
            errors[option.name] = exc.message
    return errors


def training_options_clean(data: dict) -> dict:
    """Every option, checked, with its default when missing. Unknown keys and bad
    values are refused with an ``ApplicationError`` (the first refusal's message)."""
    errors = training_options_errors(data)
    if errors:
        raise ApplicationError(next(iter(errors.values())))
    return {o.name: o.clean(data.get(o.name)) for o in TRAINING_OPTIONS}


def training_options_pick(parameters: dict, *, scheduled: bool = False) -> dict:
    """The user options among a run's stored parameters (the platform's own keys,
    such as ``is_demo`` or ``gate``, are left out): what a restarted run reuses, or
    with ``scheduled`` what a scheduled retraining carries over."""
    names = {o.name for o in TRAINING_OPTIONS if o.scheduled or not scheduled}
    return {key: value for key, value in parameters.items() if key in names}


# --- What the interfaces build from the schema ------------------------------------


def training_options_form_fields() -> dict:
    """Fields of the staff form: typed, initialised with the defaults; the values are
    checked by :func:`training_options_errors` (``TrainingRunForm.clean``)."""
    from django import forms

    fields = {}
    for option in TRAINING_OPTIONS:
        common = {"label": option.label, "initial": option.default, "required": False}
        if option.type is bool:
            fields[option.name] = forms.BooleanField(**common)
        elif option.type is int:
            attrs = {"min": option.min_value, "max": option.max_value}
            widget = forms.NumberInput(attrs=attrs)
            fields[option.name] = forms.IntegerField(widget=widget, **common)
        else:
            choices = [(name, name) for name in option.choices()]
            widget = forms.Select(choices=choices)
            fields[option.name] = forms.CharField(widget=widget, **common)
    return fields


def training_options_serializer_fields() -> dict:
    """Fields of the API's input serializer (and its OpenAPI schema): typed, with the
    defaults; the values are checked by the service."""
    from rest_framework import serializers

    field_class = {
        bool: serializers.BooleanField,
        int: serializers.IntegerField,
        str: serializers.CharField,
    }
    return {
        option.name: field_class[option.type](
            required=False, default=option.default, help_text=option.describe()
        )
        for option in TRAINING_OPTIONS
    }


def training_options_add_arguments(parser) -> None:
    """``train_model``'s flags: ``--backbone NAME``, ``--epochs N`` and
    ``--text-only``/``--no-text-only`` style switches, with the schema's defaults."""
    from argparse import BooleanOptionalAction

    for option in TRAINING_OPTIONS:
        flag = "--" + option.name.replace("_", "-")
        kwargs = {"default": option.default, "help": option.describe()}
        if option.type is bool:
            kwargs["action"] = BooleanOptionalAction
        else:
            kwargs["type"] = option.type
        parser.add_argument(flag, **kwargs)


def training_options_from(values: dict) -> dict:
    """The options among an interface's parsed values (a command's options, a form's
    or a serializer's cleaned data)."""
    return {name: values.get(name) for name in TRAINING_OPTION_NAMES}
