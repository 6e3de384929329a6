"""Text and image preprocessing shared by training and serving.

Training (:mod:`ml.core.pipeline`, :mod:`ml.core.features`) and serving
(:mod:`ml.core.inference`) call exactly these functions, so a product is turned into
tensors the same way in both places.
"""

from __future__ import annotations

import html
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import torch
from PIL import Image, ImageOps
from tokenizers import (
    Tokenizer,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)
from torchvision import transforms
from transformers import PreTrainedTokenizerFast

from ml.core.errors import InvalidImageError

__all__ = [
    "PAD_TOKEN",
    "UNK_TOKEN",
    "MAX_LENGTH",
    "IMAGE_SIZE",
    "RESIZE_SIZE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageSource",
    "clean_text",
    "product_text",
    "train_tokenizer",
    "save_tokenizer",
    "load_tokenizer",
    "encode_texts",
    "image_transform",
    "read_image_bytes",
    "open_image",
    "check_image_size",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_ASPECT_RATIO",
    "image_tensor",
    "preprocessing_config",
    "TRANSFORMS_VERSION",
]

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
MAX_LENGTH = 50

IMAGE_SIZE = 224
RESIZE_SIZE = 256
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The largest photo :func:`open_image` decodes, read from the header before any
#: decoding: a 216-byte 2 x 20,000 PNG or a 76 KB 1 x 39,000,000 PNG would otherwise
#: cost gigabytes to decode and resize. The web app's ``IMAGE_MAX_PIXELS`` and
#: ``IMAGE_MAX_ASPECT_RATIO`` settings default to the same values (a test checks).
MAX_IMAGE_PIXELS = 25_000_000
MAX_IMAGE_ASPECT_RATIO = 10.0

#: What :func:`open_image` accepts: a path, raw bytes, a binary file object, or
#: ``None`` for "no photo".
ImageSource = str | Path | bytes | bytearray | memoryview | IO[bytes] | None

_TAG_RE = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)
_SPACE_RE = re.compile(r"\s+")


# --------------------------------------------------------------------------- text
def clean_text(text: str | None) -> str:
    """Return ``text`` without HTML, with entities decoded and whitespace collapsed.

    Tags (``<br />``, ``<p class=..>``, comments) become spaces, entities such as
    ``&amp;`` / ``&#39;`` are decoded (twice-encoded markup like ``&lt;b&gt;`` is
    stripped too), the result is NFKC-normalised and runs of whitespace are
    collapsed to one space. ``None`` gives ``""``.
    """
    if not text:
        return ""
    text = _TAG_RE.sub(" ", str(text))
    text = html.unescape(text)
    text = _TAG_RE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    return _SPACE_RE.sub(" ", text).strip()


def product_text(title: str | None, description: str | None) -> str:
    """Return the cleaned text the text network sees: ``title`` then ``description``."""
    parts = (clean_text(title), clean_text(description))
    return " ".join(part for part in parts if part)


def train_tokenizer(
    texts: Iterable[str], *, vocab_size: int = 8000, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a byte-pair-encoding (BPE) tokenizer on ``texts`` (already cleaned).

    The normaliser lowercases and strips accents, the pre-tokenizer splits on
    whitespace and punctuation. ``[PAD]`` has id 0 and ``[UNK]`` id 1 (unknown
    characters). Plain BPE without a word-continuation prefix is used because
    its training is deterministic: the ``##`` tokens of WordPiece get ids in
    hash-map order, so the same texts can give another vocabulary in another
    process (huggingface/tokenizers#1794).
    """
    backend = Tokenizer(models.BPE(unk_token=UNK_TOKEN, fuse_unk=True))
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=False, strip_accents=True, lowercase=True
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD_TOKEN, UNK_TOKEN],
        show_progress=False,
    )
    backend.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token=PAD_TOKEN, unk_token=UNK_TOKEN
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> None:
    """Write ``tokenizer`` to ``directory`` (``tokenizer.json`` + config files)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(directory))


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer written by :func:`save_tokenizer`; never touches the network.

    It is built straight from the local ``tokenizer.json`` (no Hub lookup).
    """
    directory = Path(directory)
    config_file = directory / "tokenizer_config.json"
    config = json.loads(config_file.read_text("utf-8")) if config_file.exists() else {}
    return PreTrainedTokenizerFast(
        tokenizer_file=str(directory / "tokenizer.json"),
        pad_token=config.get("pad_token", PAD_TOKEN),
        unk_token=config.get("unk_token", UNK_TOKEN),
    )


#: Texts encoded per call of the backend tokenizer. Each of its encodings keeps the
#: whole text's tokens, offsets and masks (kilobytes a product), so a training set's
#: texts are encoded a chunk at a time, not all at once.
ENCODE_CHUNK = 1024


def encode_texts(
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    *,
    max_length: int = MAX_LENGTH,
) -> torch.Tensor:
    """Encode cleaned ``texts`` to a ``LongTensor[N, max_length]``.

    Token ids are truncated to ``max_length`` and right-padded with the pad id.
    An empty text is a row of pad ids. The backend tokenizer is not mutated,
    so this is safe to call from several threads.
    """
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        raise ValueError("tokenizer has no pad token")
    out = torch.full((len(texts), max_length), pad_id, dtype=torch.long)
    for start in range(0, len(texts), ENCODE_CHUNK):
        encodings = tokenizer.backend_tokenizer.encode_batch(
            list(texts[start : start + ENCODE_CHUNK]), add_special_tokens=False
        )
        for row, encoding in enumerate(encodings, start):
            ids = [i for i in encoding.ids[:max_length] if i != pad_id]
            if ids:
                out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


# ------------------------------------------------------------------------- images
_TRANSFORM = transforms.Compose(
    [
        transforms.Resize(RESIZE_SIZE),
        transforms.CenterCrop(IMAGE_SIZE),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
)


def image_transform() -> transforms.Compose:
    """Return the eval transform: resize 256, center crop 224, ImageNet normalise."""
    return _TRANSFORM


def read_image_bytes(source: ImageSource) -> bytes | None:
    """Return the raw bytes of ``source`` (path, bytes or binary file), or ``None``.

    Raises:
        InvalidImageError: the file cannot be read or is empty.
    """
    if source is None:
        return None
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif isinstance(source, (str, Path)):
            data = Path(source).read_bytes()
        elif hasattr(source, "read"):
            if hasattr(source, "seek"):
                source.seek(0)
            data = source.read()
            if not isinstance(data, (bytes, bytearray)):
                raise InvalidImageError(
                    "image file object must be opened in binary mode"
                )
            data = bytes(data)
        else:
            raise InvalidImageError(f"unsupported image source type {type(source)!r}")
    except OSError as exc:
        raise InvalidImageError(f"cannot read image: {exc}") from exc
    if not data:
        raise InvalidImageError("image data is empty")
    return data


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert to RGB, compositing transparent images onto white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (
        img.mode == "P" and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def check_image_size(
    width: int,
    height: int,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_aspect_ratio: float = MAX_IMAGE_ASPECT_RATIO,
) -> None:
    """Raise :class:`~ml.core.errors.InvalidImageError` for an image of ``width`` x
    ``height`` over the pixel budget or with a longer side more than
    ``max_aspect_ratio`` times its shorter one (call it on the header's size, before
    decoding)."""
    if width < 1 or height < 1:
        raise InvalidImageError(f"image has no pixels ({width} x {height})")
    if width * height > max_pixels:
        raise InvalidImageError(
            f"image has too many pixels ({width} x {height}, more than {max_pixels})"
        )
    if max(width, height) > max_aspect_ratio * min(width, height):
        raise InvalidImageError(
            f"image is too elongated ({width} x {height}, more than "
            f"{max_aspect_ratio:g}:1)"
        )


def open_image(source: ImageSource) -> Image.Image | None:
    """Decode ``source`` into an RGB :class:`PIL.Image.Image`; ``None`` stays ``None``.

    EXIF orientation is applied. Raises :class:`~ml.core.errors.InvalidImageError` on
    unreadable or undecodable data, and, before decoding, on an image over
    :data:`MAX_IMAGE_PIXELS` or :data:`MAX_IMAGE_ASPECT_RATIO`
    (:func:`check_image_size`).
    """
    data = read_image_bytes(source)
    if data is None:
        return None
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
    except Exception as exc:  # PIL raises many types on malformed data
        raise InvalidImageError(f"cannot decode image: {exc}") from exc
    check_image_size(*img.size)
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
        return _to_rgb(img)
    except Exception as exc:  # PIL raises many types on malformed data
        raise InvalidImageError(f"cannot decode image: {exc}") from exc


def image_tensor(img: Image.Image) -> torch.Tensor:
    """Return the normalised ``Tensor[3, 224, 224]`` of an RGB image."""
    return _TRANSFORM(img)


# Bump when clean_text, product_text, the tokenizer's normaliser or the image transform
# change what a network sees: a bundle made with another version is refused on load,
# since serving it would feed its networks inputs they were not trained on.
TRANSFORMS_VERSION = 1


def preprocessing_config(*, max_length: int = MAX_LENGTH) -> dict:
    """Describe the preprocessing (stored in bundles so serving can check it)."""
    return {
        "version": TRANSFORMS_VERSION,
        "text": "clean_text(title) + ' ' + clean_text(description)",
        "tokenizer": "BPE, lowercase, strip accents",
        "max_length": max_length,
        "image_size": IMAGE_SIZE,
        "resize": RESIZE_SIZE,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }
