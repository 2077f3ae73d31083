"""gae.storage's rules without Cloud Storage: names, sizes, types, sniffing, the record."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gae.storage import FileTypeRejected, MiB, StoredFile, UploadPolicy
from gae.storage.policy import (
    content_disposition,
    describe_size,
    extension_of,
    normalize_type,
    sanitize_filename,
)
from gae.storage.sniff import sniff

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 100
ZIP = b"PK\x03\x04" + b"\0" * 100
PDF = b"%PDF-1.7\n" + b"x" * 100
ELF = b"\x7fELF" + b"\0" * 100


def test_importing_gae_storage_loads_no_google_module() -> None:
    code = (
        "import sys, gae, gae.storage\n"
        "gae.Storage, gae.UploadPolicy, gae.StoredFile\n"
        "print(sorted(m for m in sys.modules if m.startswith('google')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\My Photo.JPG", "My Photo.JPG"),
        ('a"b\r\nSet-Cookie: x.txt', "a_b_Set-Cookie_ x.txt"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
        (".hidden", "hidden"),
        ("Cafe\u0301.txt", "Caf\u00e9.txt"),
    ],
)
def test_sanitize_filename_keeps_only_a_safe_last_component(given: str | None, kept: str) -> None:
    assert sanitize_filename(given) == kept


def test_sanitize_filename_caps_length_and_keeps_the_extension() -> None:
    name = sanitize_filename("\u00e9" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 200


def test_extension_of() -> None:
    assert extension_of("Photo.JPG") == "jpg"
    assert extension_of("archive.tar.gz") == "gz"
    assert extension_of("README") == ""
    assert extension_of(".bashrc") == ""


def test_content_disposition_is_safe_for_any_filename() -> None:
    assert content_disposition("report.pdf") == 'attachment; filename="report.pdf"'
    assert content_disposition("a.png", as_attachment=False) == 'inline; filename="a.png"'
    tricky = content_disposition('r\u00e9sum\u00e9 "final"\r\n.pdf')
    assert "\r" not in tricky and "\n" not in tricky
    assert tricky == (
        "attachment; filename=\"resume _final_.pdf\"; filename*=UTF-8''"
        "r%C3%A9sum%C3%A9%20_final_.pdf"
    )
    # Nothing of the name is ASCII: the fallback keeps the extension under a real name.
    assert content_disposition("\u0434\u0430\u043d\u043d\u044b\u0435.txt") == (
        "attachment; filename=\"download.txt\"; filename*=UTF-8''"
        "%D0%B4%D0%B0%D0%BD%D0%BD%D1%8B%D0%B5.txt"
    )
    assert content_disposition("\u6587\u4ef6").startswith('attachment; filename="download";')


def test_describe_size_is_readable_and_exact() -> None:
    assert describe_size(10 * MiB) == "10 MiB (10,485,760 bytes)"
    assert describe_size(1536) == "1.5 KiB (1,536 bytes)"
    assert describe_size(12) == "12 bytes"


def test_normalize_type() -> None:
    assert normalize_type("Image/PNG; charset=x") == "image/png"
    assert normalize_type(None) == "application/octet-stream"
    assert normalize_type("not a type") == "application/octet-stream"


def test_sniff_recognises_common_formats() -> None:
    assert sniff(PNG) == ("png", "image/png")
    assert sniff(JPEG) == ("jpeg", "image/jpeg")
    assert sniff(b"\0\0\0\x18ftypheic" + b"\0" * 20) == ("isobmff", "image/heic")
    assert sniff(b"\0\0\0\x18ftypisom" + b"\0" * 20) == ("isobmff", "video/mp4")
    assert sniff(b"BMW,Audi,VW\n1,2,3\n") is None  # text that starts with "BM"
    assert sniff(b"MZ is a name\n") is None  # text that starts with "MZ"
    assert sniff(b"plain text") is None


def test_policy_accepts_a_matching_file_and_reports_its_type() -> None:
    policy = UploadPolicy(allowed_types={"image/*"})
    assert policy.check_content("a.png", "image/png", PNG) == "image/png"
    assert policy.check_content("a.jpg", "image/jpg", JPEG) == "image/jpg"


def test_octet_stream_gets_the_sniffed_type() -> None:
    policy = UploadPolicy()
    assert policy.check_content("a", "application/octet-stream", PDF) == "application/pdf"
    assert policy.check_content("a", "application/octet-stream", b"\x01\x02") == (
        "application/octet-stream"
    )


@pytest.mark.parametrize(
    ("declared", "head", "phrase"),
    [
        ("image/png", b"<html><script>alert(1)</script>", "does not start like one"),
        ("image/png", JPEG, "looks like 'image/jpeg'"),
        ("text/plain", ELF, "content is 'application/x-executable'"),
        ("text/csv", b"a,b\n\0\0\0\0binary", "contains binary data"),
        ("application/pdf", ZIP, "looks like 'application/zip'"),
        ("image/svg+xml", b"<html>hi</html>", "no <svg> element"),
    ],
)
def test_content_that_contradicts_the_declared_type_is_rejected(
    declared: str, head: bytes, phrase: str
) -> None:
    with pytest.raises(FileTypeRejected) as caught:
        UploadPolicy().check_content("f.bin", declared, head)
    assert caught.value.code == 415
    assert phrase in str(caught.value.description)
    assert declared in str(caught.value.description)


def test_office_documents_are_zip_containers() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert UploadPolicy().check_content("a.docx", docx, ZIP) == docx


def test_types_and_extensions_outside_the_policy_are_rejected_with_the_allowed_list() -> None:
    policy = UploadPolicy(allowed_types={"image/png", "image/jpeg"}, allowed_extensions={".PNG"})
    with pytest.raises(FileTypeRejected) as caught:
        policy.check_declared("notes.txt", "text/plain")
    assert "'.txt'" in str(caught.value.description)
    assert "'.png'" in str(caught.value.description)
    with pytest.raises(FileTypeRejected) as caught:
        policy.check_declared("x.png", "text/html")
    assert "'text/html'" in str(caught.value.description)
    assert "'image/jpeg', 'image/png'" in str(caught.value.description)
    # Undeclared types wait for the first bytes.
    policy.check_declared("x.png", "application/octet-stream")
    with pytest.raises(FileTypeRejected):
        policy.check_content("x.png", "application/octet-stream", PDF)


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"max_file_size": 0}, "max_file_size"),
        ({"max_request_size": 0}, "max_request_size"),
        ({"max_files": 0}, "max_files"),
        ({"checksum": "sha1"}, "checksum"),
        ({"prefix": "/abs/"}, "prefix"),
        ({"prefix": "a/../b/"}, "prefix"),
    ],
)
def test_invalid_policies_fail_at_construction(changes: dict[str, object], phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        UploadPolicy(**changes)  # type: ignore[arg-type]


def test_policy_replace_and_record_round_trip() -> None:
    policy = UploadPolicy().replace(max_file_size=5 * MiB)
    assert policy.max_file_size == 5 * MiB
    record = StoredFile(
        bucket="b",
        name="uploads/x",
        size=3,
        content_type="text/plain",
        checksum_algorithm="crc32c",
        checksum="AAAAAA==",
        original_filename="a.txt",
        generation=7,
        field="file",
    )
    assert StoredFile.from_dict({**record.to_dict(), "extra": 1}) == record
    assert record.url == "gs://b/uploads/x"
