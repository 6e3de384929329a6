import hashlib
import io
import random
import struct
import zlib

import pytest
from django.conf import settings
from PIL import Image

from catalog.images import CheckedImage, InvalidImageError, image_check

MB = 1024 * 1024


def _photo(fmt: str, size=(64, 48), *, noise: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 40))
    if noise:  # incompressible content, so that a cut lands inside the pixel data
        rng = random.Random(7)
        image.putdata(
            [
                tuple(rng.randrange(256) for _ in range(3))
                for _ in range(size[0] * size[1])
            ]
        )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares huge dimensions (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "filename", "expected_format"),
    [
        ("JPEG", "photo.jpg", "JPEG"),
        ("JPEG", "PHOTO.JPEG", "JPEG"),
        ("PNG", "photo.png", "PNG"),
        ("WEBP", "photo.webp", "WEBP"),
    ],
)
def test_a_valid_photo_is_accepted(fmt, filename, expected_format):
    # Given a complete photo whose extension matches its content
    data = _photo(fmt)
    # When it is checked
    checked = image_check(data, filename=filename, max_bytes=5 * MB)
    # Then its facts are returned
    assert checked == CheckedImage(
        format=expected_format,
        width=64,
        height=48,
        sha256=hashlib.sha256(data).hexdigest(),
        extension=filename[filename.rindex(".") :].lower(),
    )


def _refused(data: bytes, filename: str, max_bytes: int = 5 * MB) -> str:
    with pytest.raises(InvalidImageError) as excinfo:
        image_check(data, filename=filename, max_bytes=max_bytes)
    assert excinfo.value.code == "invalid_image"
    return excinfo.value.message


def test_bytes_that_are_not_an_image_are_refused():
    message = _refused(b"this is a text file, not a photo\n" * 10, "photo.jpg")
    assert message == "The file is not a valid or complete image."


def test_an_empty_file_is_refused():
    assert _refused(b"", "photo.jpg") == "The photo is empty."


def test_a_truncated_jpeg_is_refused():
    # Given a JPEG cut in the middle of its pixel data
    data = _photo("JPEG", (128, 128), noise=True)
    truncated = data[: len(data) // 2]
    # Then it is refused (the header alone opens; the full decode fails)
    assert _refused(truncated, "photo.jpg") == (
        "The file is not a valid or complete image."
    )


def test_a_decompression_bomb_is_refused():
    # Given a 150-byte PNG declaring 20000 x 20000 pixels
    data = _png_declaring(20000, 20000)
    assert len(data) < 200
    # Then it is refused before anything is decoded
    assert _refused(data, "bomb.png") == "The photo has too many pixels."


def test_a_photo_over_the_pixel_limit_is_refused():
    # Given a real PNG just above the platform's pixel limit (below Pillow's own)
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, "PNG")
    assert settings.IMAGE_MAX_PIXELS < 8000 * 6000
    # Then it is refused
    assert _refused(buffer.getvalue(), "big.png") == "The photo has too many pixels."


def test_an_svg_is_refused_by_its_extension():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert _refused(svg, "logo.svg") == (
        "Unsupported file extension '.svg': use .jpeg, .jpg, .png, .webp."
    )


def test_a_file_without_extension_is_refused():
    assert _refused(_photo("JPEG"), "photo") == (
        "Unsupported file extension '(none)': use .jpeg, .jpg, .png, .webp."
    )


@pytest.mark.parametrize(
    ("max_bytes", "limit_text"),
    [
        (5 * MB, "5 MB"),
        (MB + MB // 2, "1.5 MB"),
        (200 * 1024, "200 KB"),
        (100, "100 bytes"),
    ],
)
def test_a_photo_over_max_bytes_is_refused(max_bytes, limit_text):
    # Given a photo one byte over the limit
    data = b"\xff" * (max_bytes + 1)
    # Then it is refused with the limit in readable units
    assert _refused(data, "photo.jpg", max_bytes) == (
        f"The photo is larger than {limit_text}."
    )


def test_a_photo_exactly_at_max_bytes_is_accepted():
    data = _photo("PNG")
    assert image_check(data, filename="p.png", max_bytes=len(data)).format == "PNG"


def test_jpeg_data_named_png_is_refused():
    assert _refused(_photo("JPEG"), "photo.png") == (
        "The file extension .png does not match its content (JPEG)."
    )


def test_a_gif_renamed_jpg_is_refused():
    assert _refused(_photo("GIF"), "anim.jpg") == (
        "Unsupported image format GIF: use JPEG, PNG or WebP."
    )
