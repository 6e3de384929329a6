"""Readers for a seller's listing import: the CSV (``sku,title,description,image``) and
the optional zip of photos. They touch no database and store nothing.

A problem with a whole file (a missing column, too many rows, a file over its size
limit, an unsafe or oversized zip, a photo that is not an image) raises
``ListingFileError``: the upload is refused and nothing is stored. A bad row is a
``RowRejection`` (its line and the reason): it is reported and the other rows go on.

The zip is never extracted by its own names: each photo a row names is read into
memory, counting its bytes against the limits (a zip's directory can understate the
sizes), then checked like a Sell-page photo (``catalog.images.image_check``).
"""

import csv
import io
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings

from catalog.images import InvalidImageError, image_check, size_text
from rakuten.exceptions import ApplicationError

COLUMNS = ("sku", "title", "description", "image")
MAX_SKU_LENGTH = 100
MIN_TITLE_LENGTH = 3  # as the Sell form (catalog.forms.ProductForm)
MAX_TITLE_LENGTH = 500
MAX_IMAGE_NAME_LENGTH = 255
READ_BLOCK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")

csv.field_size_limit(1024 * 1024)


class ListingFileError(ApplicationError):
    """The CSV or the zip cannot be imported at all: nothing is stored. ``field``
    (``csv`` or ``zip``) names the upload at fault: the message is that field's
    error (``extra``)."""

    code = "invalid_file"

    def __init__(self, message: str, *, field: str = "csv") -> None:
        super().__init__(message, extra={field: [message]})


@dataclass(frozen=True)
class ListingLimits:
    max_rows: int
    max_csv_bytes: int
    max_zip_bytes: int
    max_photo_bytes: int
    max_unzipped_bytes: int

    @classmethod
    def from_settings(cls) -> "ListingLimits":
        return cls(
            max_rows=settings.LISTING_IMPORT_MAX_ROWS,
            max_csv_bytes=settings.LISTING_IMPORT_MAX_CSV_BYTES,
            max_zip_bytes=settings.LISTING_IMPORT_MAX_ZIP_BYTES,
            max_photo_bytes=settings.LISTING_IMPORT_MAX_PHOTO_BYTES,
            max_unzipped_bytes=settings.LISTING_IMPORT_MAX_UNZIPPED_BYTES,
        )


@dataclass(frozen=True)
class ListingRow:
    line: int
    sku: str
    title: str
    description: str
    image: str  # a file name in the zip, "" without a photo


@dataclass(frozen=True)
class RowRejection:
    line: int
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason}


def sizes_check(*, csv_size: int, zip_size: int | None, limits: ListingLimits) -> None:
    """The uploads' sizes, checked before either is read."""
    if csv_size > limits.max_csv_bytes:
        raise ListingFileError(
            f"The CSV is larger than {size_text(limits.max_csv_bytes)}."
        )
    if zip_size is not None and zip_size > limits.max_zip_bytes:
        raise ListingFileError(
            f"The zip is larger than {size_text(limits.max_zip_bytes)}.", field="zip"
        )


def listing_csv_read(
    data: bytes, *, max_rows: int
) -> tuple[list[ListingRow], list[RowRejection]]:
    """The CSV's valid rows and its rejected ones, by line (the header is line 1)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListingFileError("The CSV is not UTF-8 text.") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ListingFileError(f"The CSV cannot be read: {exc}.") from exc
    if not header:
        raise ListingFileError("The CSV is empty: its header must be sku,title,...")
    columns = [name.strip().lower() for name in header]
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise ListingFileError(
            f"The CSV misses the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}: its header must be {','.join(COLUMNS)}.",
            field="csv",
        )
    index = {name: columns.index(name) for name in COLUMNS}
    rows: list[ListingRow] = []
    rejections: list[RowRejection] = []
    seen: dict[str, int] = {}
    count = 0
    line = reader.line_num
    try:
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line
            count += 1
            if count > max_rows:
                raise ListingFileError(
                    f"The CSV has more than {max_rows:,} rows: import at most "
                    f"{max_rows:,} at a time.",
                    field="csv",
                )
            values = {
                name: (record[i].strip() if i < len(record) else "")
                for name, i in index.items()
            }
            reason = _row_problem(values, seen)
            if reason:
                rejections.append(RowRejection(start, reason))
                continue
            seen[values["sku"]] = start
            rows.append(ListingRow(line=start, **values))
    except csv.Error as exc:
        raise ListingFileError(
            f"The CSV cannot be read near line {line}: {exc}."
        ) from exc
    return rows, rejections


def _row_problem(values: dict[str, str], seen: dict[str, int]) -> str:
    sku, title = values["sku"], values["title"]
    if not sku:
        return "The sku is empty."
    if len(sku) > MAX_SKU_LENGTH:
        return f"The sku is longer than {MAX_SKU_LENGTH} characters."
    if sku in seen:
        return f"The sku {sku!r} is already on line {seen[sku]}."
    if len(title) < MIN_TITLE_LENGTH:
        return f"The title is shorter than {MIN_TITLE_LENGTH} characters."
    if len(title) > MAX_TITLE_LENGTH:
        return f"The title is longer than {MAX_TITLE_LENGTH} characters."
    if len(values["image"]) > MAX_IMAGE_NAME_LENGTH:
        return f"The image name is longer than {MAX_IMAGE_NAME_LENGTH} characters."
    return ""


class PhotoArchive:
    """A checked zip of photos: every entry has a safe name, none is a link, and the
    declared sizes fit the limits. ``read`` counts the bytes it inflates."""

    def __init__(self, upload, *, limits: ListingLimits) -> None:
        self.limits = limits
        self.inflated = 0
        try:
            upload.seek(0)
            self._zip = zipfile.ZipFile(upload)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise ListingFileError(
                "The zip is not a readable zip archive.", field="zip"
            ) from exc
        declared = 0
        self._by_name: dict[str, zipfile.ZipInfo] = {}
        by_base: dict[str, list[zipfile.ZipInfo]] = {}
        for info in infos:
            _entry_check(info)
            if info.is_dir():
                continue
            declared += info.file_size
            name = _normalised(info.filename)
            self._by_name[name] = info
            by_base.setdefault(PurePosixPath(name).name, []).append(info)
        if declared > limits.max_unzipped_bytes:
            raise ListingFileError(_bomb_message(limits), field="zip")
        # A bare file name finds a photo in a folder of the zip, when only one has it.
        self._by_base = {
            base: found[0] for base, found in by_base.items() if len(found) == 1
        }

    def find(self, name: str) -> zipfile.ZipInfo | None:
        name = _normalised(name)
        return self._by_name.get(name) or self._by_base.get(name)

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """The photo's bytes, stopping as soon as it or the whole zip inflates past
        its limit, whatever its entry declared."""
        if info.file_size > self.limits.max_photo_bytes:
            raise self._too_large(info)
        chunks, size = [], 0
        try:
            with self._zip.open(info) as handle:
                while block := handle.read(READ_BLOCK):
                    size += len(block)
                    self.inflated += len(block)
                    if size > self.limits.max_photo_bytes:
                        raise self._too_large(info)
                    if self.inflated > self.limits.max_unzipped_bytes:
                        raise ListingFileError(_bomb_message(self.limits), field="zip")
                    chunks.append(block)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
            raise ListingFileError(
                f"The photo {info.filename} cannot be read from the zip.", field="zip"
            ) from exc
        return b"".join(chunks)

    def photo(self, info: zipfile.ZipInfo, *, line: int) -> tuple[bytes, str]:
        """The photo's bytes, checked as a Sell-page photo, and its extension."""
        data = self.read(info)
        try:
            checked = image_check(
                data, filename=info.filename, max_bytes=self.limits.max_photo_bytes
            )
        except InvalidImageError as exc:
            raise ListingFileError(
                f"The photo {info.filename} (line {line}) is refused: {exc.message} "
                "Nothing was imported.",
                field="zip",
            ) from exc
        return data, checked.extension

    def _too_large(self, info: zipfile.ZipInfo) -> ListingFileError:
        return ListingFileError(
            f"The photo {info.filename} is larger than "
            f"{size_text(self.limits.max_photo_bytes)}.",
            field="zip",
        )

    def close(self) -> None:
        self._zip.close()


def _entry_check(info: zipfile.ZipInfo) -> None:
    """Zip-slip and links: an entry's name may not climb out of the archive (``..``)
    or be absolute, and no entry may be a symbolic link."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in PurePosixPath(name).parts:
        raise ListingFileError(
            f"The zip holds an unsafe path ({info.filename}): paths may not be "
            "absolute or contain '..'. Nothing was imported.",
            field="zip",
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ListingFileError(
            f"The zip holds a symbolic link ({info.filename}). Nothing was imported.",
            field="zip",
        )
    if info.flag_bits & 0x1:
        raise ListingFileError(
            f"The zip's entry {info.filename} is encrypted.",
            field="zip",
        )


def _normalised(name: str) -> str:
    return name.replace("\\", "/").lstrip("./").strip()


def _bomb_message(limits: ListingLimits) -> str:
    return (
        "The zip's photos expand to more than "
        f"{size_text(limits.max_unzipped_bytes)}. Nothing was imported."
    )
