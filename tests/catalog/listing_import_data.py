"""Files for the listing-import tests: a CSV and a zip of photos built in memory, as
uploads."""

import csv
import io
import stat
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

HEADER = ("sku", "title", "description", "image")


def csv_bytes(rows, *, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def csv_upload(rows, *, header=HEADER, name="catalogue.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows, header=header), "text/csv")


def zip_bytes(entries: dict[str, bytes], *, links: dict[str, str] | None = None):
    """A zip of ``entries`` (name -> bytes, deflated) and symbolic ``links`` (name ->
    target)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return out.getvalue()


def zip_upload(entries, *, links=None, name="photos.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, zip_bytes(entries, links=links), "application/zip")


def media_files(root) -> list[str]:
    """Every file under the media folder, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
