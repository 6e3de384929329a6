"""Photos for the tests: a valid JPEG and the bad kinds an upload must refuse."""

import base64
import functools
import io

from PIL import Image


def jpeg_bytes(*, color=(200, 30, 30), size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_bytes(*, size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_jpeg_bytes() -> bytes:
    data = jpeg_bytes(size=(256, 256))
    return data[: len(data) // 2]


@functools.cache
def decompression_bomb_png_bytes() -> bytes:
    """A 12 KB file that decodes to 100 megapixels."""
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG")
    return buffer.getvalue()


SVG_BYTES = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
    b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
