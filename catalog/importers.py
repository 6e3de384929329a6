"""Readers for the product files the platform imports. They parse and check rows, touch
no
database, and yield either an ``ImportRow`` or a ``RejectedRow`` (reported, then
skipped).
A problem with the whole file raises ``ImportFileError``."""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rakuten.exceptions import ApplicationError

GENERIC_COLUMNS = ("product_id", "title", "description", "category", "image")
RAKUTEN_X_COLUMNS = ("designation", "description", "productid", "imageid")
RAKUTEN_Y_COLUMNS = ("prdtypecode",)
RAKUTEN_ID_PREFIX = "rakuten:"
MAX_TITLE_LENGTH = 500
# Column sizes (Product.external_id is 120 with the prefix, Category.code is 64): longer
# values are rejected here, not left to the database (MySQL refuses, SQLite accepts).
MAX_PRODUCT_ID_LENGTH = 100
MAX_CATEGORY_LENGTH = 64

csv.field_size_limit(10 * 1024 * 1024)


class ImportFileError(ApplicationError):
    """The file cannot be imported at all (unreadable, a missing column, ...)."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    external_id: str
    title: str
    description: str
    category: str  # a category code; "" for an unlabelled product
    image_path: Path | None
    external_image_id: str = ""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


def count_data_rows(path: Path) -> int:
    """Number of data rows (for a progress bar); quoted newlines are handled."""
    with _open(path) as handle:
        reader = csv.reader(handle)
        try:
            return max(sum(1 for _ in reader) - 1, 0)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(
                f"{path}: unreadable near line {reader.line_num + 1}: {exc}"
            ) from exc


def read_generic_csv(
    csv_path: Path, *, images_dir: Path | None
) -> Iterator[ImportRow | RejectedRow]:
    """The generic layout: ``product_id,title,description,category,image``."""
    with _open(csv_path) as handle:
        reader = csv.DictReader(handle)
        _check_columns(csv_path, reader.fieldnames, GENERIC_COLUMNS)
        for record in _records(csv_path, reader):
            line = reader.line_num
            if None in record or None in record.values():
                yield RejectedRow(line, "wrong number of fields")
                continue
            product_id = record["product_id"].strip()
            image_name = record["image"].strip()
            problem = _check_basic(
                product_id, record["title"], record["category"].strip()
            )
            image_path = None
            if not problem and image_name:
                image_path, problem = _image_path(images_dir, image_name)
            if problem:
                yield RejectedRow(line, problem)
                continue
            yield ImportRow(
                line=line,
                external_id=product_id,
                title=record["title"].strip(),
                description=record["description"].strip(),
                category=record["category"].strip(),
                image_path=image_path,
            )


def read_rakuten_csv(
    x_path: Path, *, y_path: Path | None, images_dir: Path | None
) -> Iterator[ImportRow | RejectedRow]:
    """The challenge layout: X ``,designation,description,productid,imageid`` and
    optionally Y ``,prdtypecode`` joined on the first column (the row index). Photos are
    ``image_<imageid>_product_<productid>.jpg``. Rows without a label are unlabelled."""
    labels = _read_rakuten_labels(y_path) if y_path else {}
    with _open(x_path) as handle:
        reader = csv.DictReader(handle)
        _check_columns(x_path, reader.fieldnames, RAKUTEN_X_COLUMNS)
        index_column = reader.fieldnames[0]
        for record in _records(x_path, reader):
            line = reader.line_num
            if None in record or None in record.values():
                yield RejectedRow(line, "wrong number of fields")
                continue
            product_id = record["productid"].strip()
            image_id = record["imageid"].strip()
            category = labels.get(record[index_column].strip(), "")
            problem = _check_basic(product_id, record["designation"], category)
            image_path = None
            if not problem and image_id and images_dir is not None:
                name = f"image_{image_id}_product_{product_id}.jpg"
                image_path, problem = _image_path(images_dir, name)
            if problem:
                yield RejectedRow(line, problem)
                continue
            yield ImportRow(
                line=line,
                external_id=f"{RAKUTEN_ID_PREFIX}{product_id}",
                title=record["designation"].strip(),
                description=(record["description"] or "").strip(),
                category=category,
                image_path=image_path,
                external_image_id=image_id,
            )


def _read_rakuten_labels(y_path: Path) -> dict[str, str]:
    with _open(y_path) as handle:
        reader = csv.DictReader(handle)
        _check_columns(y_path, reader.fieldnames, RAKUTEN_Y_COLUMNS)
        index_column = reader.fieldnames[0]
        return {
            r[index_column].strip(): (r["prdtypecode"] or "").strip()
            for r in _records(y_path, reader)
        }


def _open(path: Path):
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from exc
    return handle


def _records(path: Path, reader: csv.DictReader) -> Iterator[dict]:
    try:
        yield from reader
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(
            f"{path}: unreadable near line {reader.line_num + 1}: {exc}"
        ) from exc


def _check_columns(path: Path, found: list[str] | None, required: tuple[str, ...]):
    if not found:
        raise ImportFileError(
            f"{path} is empty: expected columns {', '.join(required)}"
        )
    missing = [c for c in required if c not in found]
    if missing:
        raise ImportFileError(f"{path}: missing column(s): {', '.join(missing)}")


def _check_basic(product_id: str, title: str | None, category: str = "") -> str:
    if not product_id:
        return "empty product id"
    if len(product_id) > MAX_PRODUCT_ID_LENGTH:
        return f"product id longer than {MAX_PRODUCT_ID_LENGTH} characters"
    if len(category) > MAX_CATEGORY_LENGTH:
        return f"category code longer than {MAX_CATEGORY_LENGTH} characters"
    if not (title or "").strip():
        return "empty title"
    if len(title.strip()) > MAX_TITLE_LENGTH:
        return f"title longer than {MAX_TITLE_LENGTH} characters"
    return ""


def _image_path(images_dir: Path | None, name: str) -> tuple[Path | None, str]:
    if images_dir is None:
        return None, ""  # photos not asked for: import the text alone
    if Path(name).name != name:
        return None, f"image name {name!r} is not a plain file name"
    path = images_dir / name
    if not path.is_file():
        return None, f"image file {name} not found in {images_dir}"
    return path, ""
