"""Checks on product photos, shared by uploads and imports: the bytes must be a
complete, reasonably sized JPEG, PNG or WebP whose extension matches its content, within
the pixel budget and aspect ratio (settings ``IMAGE_MAX_PIXELS``,
``IMAGE_MAX_ASPECT_RATIO``), judged from the header before anything is decoded."""

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from rakuten.exceptions import ApplicationError

ALLOWED_FORMATS = {"JPEG": {".jpg", ".jpeg"}, "PNG": {".png"}, "WEBP": {".webp"}}


class InvalidImageError(ApplicationError):
    code = "invalid_image"


@dataclass(frozen=True)
class CheckedImage:
    format: str
    width: int
    height: int
    sha256: str
    extension: str


def image_check(
    data: bytes,
    *,
    filename: str,
    max_bytes: int,
    max_pixels: int | None = None,
    max_aspect_ratio: float | None = None,
) -> CheckedImage:
    """Return the photo's facts, or raise ``InvalidImageError`` with a user message.
    The pixel budget and aspect ratio (default: the settings) are checked on the
    header's size, before any decoding: a 200-byte file can declare gigapixels."""
    max_pixels = max_pixels or settings.IMAGE_MAX_PIXELS
    max_aspect_ratio = max_aspect_ratio or settings.IMAGE_MAX_ASPECT_RATIO
    if not data:
        raise InvalidImageError("The photo is empty.")
    if len(data) > max_bytes:
        raise InvalidImageError(f"The photo is larger than {size_text(max_bytes)}.")
    extension = PurePath(filename).suffix.lower()
    allowed = sorted(set().union(*ALLOWED_FORMATS.values()))
    if extension not in allowed:
        raise InvalidImageError(
            f"Unsupported file extension {extension or '(none)'!r}: use "
            f"{', '.join(allowed)}."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
                _check_size(width, height, max_pixels, max_aspect_ratio)
                img.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # decodes fully: a truncated file fails here
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError("The photo has too many pixels.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError("The file is not a valid or complete image.") from exc
    if fmt not in ALLOWED_FORMATS:
        raise InvalidImageError(
            f"Unsupported image format {fmt}: use JPEG, PNG or WebP."
        )
    if extension not in ALLOWED_FORMATS[fmt]:
        raise InvalidImageError(
            f"The file extension {extension} does not match its content ({fmt})."
        )
    return CheckedImage(
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        extension=extension,
    )


def _check_size(width: int, height: int, max_pixels: int, max_ratio: float) -> None:
    if width * height > max_pixels:
        raise InvalidImageError("The photo has too many pixels.")
    if max(width, height) > max_ratio * max(min(width, height), 1):
        raise InvalidImageError(
            f"The photo is too narrow or too wide ({width} × {height}): its longer "
            f"side may be at most {max_ratio:g} times its shorter one."
        )


def size_text(size: int) -> str:
    """``5 MB``, ``1.5 MB``, ``200 KB``, ``100 bytes`` (a limit under 1 MB used to read
    as "0 MB")."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{round(size / factor, 1):g} {unit}"
    return f"{size} bytes"
