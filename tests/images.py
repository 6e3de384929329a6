"""Photos for the tests: a valid JPEG and the bad kinds an upload must refuse."""

import base64
import functools
import io
import struct
import zlib

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


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def blank_png_bytes(width: int, height: int) -> bytes:
    """A black 8-bit greyscale PNG of ``width`` x ``height``, written by hand so that
    making it never holds the decoded image: the rows (a filter byte and ``width``
    zero bytes each) are compressed a million at a time."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts, left = [], height
    while left:
        rows = min(left, 1_000_000)
        parts.append(compressor.compress(row * rows))
        left -= rows
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


@functools.cache
def narrow_png_bytes() -> bytes:
    """2 x 20,000 pixels in a couple of hundred bytes: an extreme aspect ratio."""
    return blank_png_bytes(2, 20_000)


@functools.cache
def thread_png_bytes() -> bytes:
    """1 x 39,000,000 pixels in about 76 KB: decoding and resizing it would cost
    gigabytes."""
    return blank_png_bytes(1, 39_000_000)


SVG_BYTES = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
    b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
