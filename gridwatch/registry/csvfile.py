"""Read and validate ``camera_registry.csv``, reporting every problem at once.

Each problem names its line, its column and the reason, so an engineer fixing a file of
thousands of rows sees everything in one pass. Values are never echoed with credentials:
URLs in messages are masked.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gridwatch.registry.schema import (
    CAMERA_ID_PATTERN,
    COLUMNS,
    DEFAULT_INTERVAL_S,
    MAX_INTERVAL_S,
    MIN_INTERVAL_S,
    REQUIRED_COLUMNS,
    REQUIRED_VALUES,
    URL_SCHEMES,
    CameraRecord,
)
from gridwatch.registry.zones import ZoneError, parse_zones
from gridwatch.secrets import mask_url

_ID_RE = re.compile(CAMERA_ID_PATTERN)
_TAG_RE = re.compile(r"^[\w.-]{1,32}$")
# The usual camera URL, scheme://[user[:password]@]host[:port][/path]: one that matches
# (and has a port up to 65535) is valid, without the cost of urlsplit. Anything unusual
# (IPv6, several '@', spaces or control characters) goes through urlsplit, which also
# words the error.
_PLAIN_URL = re.compile(
    r"(?:rtsps?|https?)://(?:[^@/?#\[\]\x00-\x20\x7f-\U0010ffff]*@)?[A-Za-z0-9._-]+"
    r"(?::(?P<port>[0-9]{0,5}))?(?:[/?#][^\x00-\x20\x7f]*)?",
    re.IGNORECASE | re.ASCII,
)
_TRUE = {"true", "yes", "1", "y", "on"}
_FALSE = {"false", "no", "0", "n", "off"}


@dataclass(frozen=True, order=True)
class RowError:
    """One problem: the 1-based line of the file, the column, and why."""

    line: int
    column: str
    reason: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}: {self.column}: {self.reason}"


@dataclass
class ReadResult:
    """What reading a registry file produced: valid records and every problem found."""

    records: list[CameraRecord]
    errors: list[RowError]
    rows: int  # data rows seen (valid or not)
    seen_ids: set[str] = field(default_factory=set)  # every camera id on any row

    @property
    def invalid_lines(self) -> set[int]:
        return {e.line for e in self.errors}


class _Row:
    """Validation of one row: collects errors instead of stopping at the first."""

    def __init__(self, line: int, values: dict[str, str]) -> None:
        self.line = line
        self.values = values
        self.errors: list[RowError] = []

    def fail(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.line, column, reason))

    def text(self, column: str, max_len: int = 200) -> str:
        value = self.values.get(column, "").strip()
        if not value and column in REQUIRED_VALUES:
            self.fail(column, "missing value")
        elif len(value) > max_len:
            self.fail(column, f"longer than {max_len} characters")
        return value

    def url(self, column: str) -> str:
        value = self.text(column, max_len=2000)
        if not value:
            return value
        fast = _PLAIN_URL.fullmatch(value)
        if fast is not None and (not fast["port"] or int(fast["port"]) <= 65535):
            return value  # what urlsplit would accept: a known scheme, a host, a valid port
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            self.fail(column, f"malformed URL {mask_url(value)!r} ({exc})")
            return value
        if parts.scheme.lower() not in URL_SCHEMES:
            allowed = ", ".join(sorted(URL_SCHEMES))
            self.fail(column, f"URL scheme {parts.scheme or '(none)'!r} is not one of {allowed}")
        elif not parts.hostname:
            self.fail(column, f"URL {mask_url(value)!r} has no host")
        return value

    def number(self, column: str, low: float, high: float) -> float:
        raw = self.text(column)
        if not raw:
            return math.nan
        try:
            value = float(raw)
        except ValueError:
            self.fail(column, f"{raw!r} is not a number")
            return math.nan
        if not math.isfinite(value) or not (low <= value <= high):
            self.fail(column, f"{raw} is out of range ({low:g}..{high:g})")
            return math.nan
        return value

    def boolean(self, column: str) -> bool:
        raw = self.values.get(column, "").strip().lower()
        if not raw or raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        self.fail(column, f"{raw!r} is not true/false")
        return True

    def interval(self, column: str) -> float:
        if not self.values.get(column, "").strip():
            return DEFAULT_INTERVAL_S
        value = self.number(column, MIN_INTERVAL_S, MAX_INTERVAL_S)
        return DEFAULT_INTERVAL_S if math.isnan(value) else value

    def tags(self, column: str) -> tuple[str, ...]:
        raw = self.values.get(column, "").strip()
        tags = tuple(t.strip() for t in raw.split(";") if t.strip())
        for tag in tags:
            if not _TAG_RE.match(tag):
                self.fail(column, f"tag {tag!r} must be 1-32 letters, digits, '_', '.', '-'")
        return tags


def _validate(row: _Row) -> CameraRecord | None:
    camera_id = row.text("camera_id", max_len=64)
    if camera_id and not _ID_RE.match(camera_id):
        row.fail("camera_id", f"{camera_id!r} must be letters, digits, '.', '_', '-' (max 64)")
    name = row.text("name")
    main_url = row.url("main_url")
    sub_url = row.url("sub_url") or main_url
    lon = row.number("lon", -180.0, 180.0)
    lat = row.number("lat", -90.0, 90.0)
    enabled = row.boolean("enabled")
    interval = row.interval("analysis_interval_s")
    try:
        zones = tuple(parse_zones(row.values.get("zones", "")))
    except ZoneError as exc:
        row.fail("zones", str(exc))
        zones = ()
    tags = row.tags("tags")
    if row.errors:
        return None
    return CameraRecord(
        camera_id, name, main_url, sub_url, lon, lat, enabled, interval, zones, tags, row.line
    )


def _decode(data: bytes) -> tuple[str | None, RowError | None]:
    """Decode UTF-8 (with or without BOM); on failure, name the line and suggest a fix."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = " (it looks like GBK/GB18030: save the file as UTF-8)"
        except UnicodeDecodeError:
            pass
        reason = f"file is not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded{hint}"
        return None, RowError(line, "(file)", reason)


def _header_errors(header: list[str]) -> list[RowError]:
    errors = []
    names = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c in REQUIRED_COLUMNS and c not in names]
    unknown = [h for h in names if h not in COLUMNS]
    dupes = sorted({h for h in names if names.count(h) > 1})
    if missing:
        errors.append(RowError(1, "(header)", f"missing columns: {', '.join(missing)}"))
    if unknown:
        errors.append(RowError(1, "(header)", f"unknown columns: {', '.join(unknown)}"))
    if dupes:
        errors.append(RowError(1, "(header)", f"repeated columns: {', '.join(dupes)}"))
    if errors:
        errors.append(RowError(1, "(header)", "expected columns: " + ",".join(COLUMNS)))
    return errors


def iter_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, fields) for each CSV record, multi-line fields included."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for fields in reader:
        yield start, fields
        start = reader.line_num + 1


@contextmanager
def bulk_load() -> Iterator[None]:
    """Pause the cyclic garbage collector while building records for a whole file.

    A city's registry becomes millions of small objects (records, zones, tuples, strings)
    that form no cycles; the collector would walk all of them again and again as they
    pile up (a third of an import of 200,000 cameras) and free nothing. Reference
    counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_registry(path: Path, *, progress: Callable[[int], None] | None = None) -> ReadResult:
    """Validate every row of a registry file.

    Returns the valid records and every problem found (line, column, reason). Duplicate
    camera ids are reported on every line after the first, naming the first.
    """
    with bulk_load():
        return _read_registry(path, progress)


def _read_registry(path: Path, progress: Callable[[int], None] | None) -> ReadResult:
    data = path.read_bytes()
    text, error = _decode(data)
    if text is None:
        assert error is not None
        return ReadResult([], [error], 0)
    rows = iter_rows(text)
    first = next(rows, None)
    if first is None:
        return ReadResult([], [RowError(1, "(header)", "file is empty")], 0)
    header = [h.strip() for h in first[1]]
    errors = _header_errors(header)
    if errors:
        return ReadResult([], errors, 0)
    result = _check_rows(header, rows, progress)
    result.errors.sort()
    return result


def _check_rows(
    header: list[str],
    rows: Iterator[tuple[int, list[str]]],
    progress: Callable[[int], None] | None,
) -> ReadResult:
    result = ReadResult([], [], 0)
    first_line: dict[str, int] = {}
    for line, fields in rows:
        if not any(f.strip() for f in fields):
            continue  # blank line
        result.rows += 1
        if progress is not None and result.rows % 1000 == 0:
            progress(1000)
        if len(fields) != len(header):
            reason = f"expected {len(header)} fields, found {len(fields)}"
            result.errors.append(RowError(line, "(row)", reason))
            continue
        row = _Row(line, dict(zip(header, fields, strict=True)))
        record = _validate(row)
        camera_id = row.values["camera_id"].strip()
        if camera_id in first_line:
            first = first_line[camera_id]
            row.fail("camera_id", f"duplicate id {camera_id!r} (first on line {first})")
            record = None
        elif camera_id:
            first_line[camera_id] = line
        if camera_id:
            result.seen_ids.add(camera_id)
        result.errors.extend(row.errors)
        if record is not None:
            result.records.append(record)
    if progress is not None:
        progress(result.rows % 1000)
    return result


def write_registry(records: list[CameraRecord], path: Path) -> None:
    """Write records as a registry CSV (UTF-8, header first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow(record.csv_row())
