"""Checks on product photos, shared by uploads and imports: the bytes must be a
complete,
reasonably sized JPEG, PNG or WebP whose extension matches its content."""

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, UnidentifiedImageError

from rakuten.exceptions import ApplicationError

ALLOWED_FORMATS = {"JPEG": {".jpg", ".jpeg"}, "PNG": {".png"}, "WEBP": {".webp"}}
MAX_PIXELS = 40_000_000  # a larger photo is refused as a possible decompression bomb


class InvalidImageError(ApplicationError):
    code = "invalid_image"


@dataclass(frozen=True)
class CheckedImage:
    format: str
    width: int
    height: int
    sha256: str
    extension: str


def image_check(data: bytes, *, filename: str, max_bytes: int) -> CheckedImage:
    """Return the photo's facts, or raise ``InvalidImageError`` with a user message."""
    if not data:
        raise InvalidImageError("The photo is empty.")
    if len(data) > max_bytes:
        raise InvalidImageError(f"The photo is larger than {_size_text(max_bytes)}.")
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
                if width * height > MAX_PIXELS:
                    raise InvalidImageError("The photo has too many pixels.")
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


def _size_text(size: int) -> str:
    """``5 MB``, ``1.5 MB``, ``200 KB``, ``100 bytes`` (a limit under 1 MB used to read
    as "0 MB")."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{round(size / factor, 1):g} {unit}"
    return f"{size} bytes"
