"""Validation of camera_registry.csv: every problem, with its line, column and reason."""

from pathlib import Path

import pytest

from gridwatch.registry.csvfile import read_registry, write_registry
from gridwatch.registry.schema import COLUMNS, CameraRecord
from gridwatch.registry.zones import ZoneError, ZonePurpose, parse_zones

HEADER = ",".join(COLUMNS)
GOOD = (
    "cam-1,岳阳街道 菜场,rtsp://admin:pw1@10.0.0.1/101,rtsp://admin:pw1@10.0.0.1/102,"
    '121.23,31.01,true,1,"[{""purpose"":""no_vending"",""polygon"":[[0,0.5],[1,0.5],[1,1]]}]",market'
)


def registry(tmp_path: Path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "cams.csv"
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def test_good_row_becomes_a_record(tmp_path: Path) -> None:
    result = read_registry(registry(tmp_path, GOOD))
    assert result.errors == []
    (record,) = result.records
    assert record.camera_id == "cam-1" and record.line == 2
    assert record.zones[0].purpose is ZonePurpose.NO_VENDING
    assert record.tags == ("market",)
    assert record.analysis_interval_s == 1.0


def test_optional_columns_take_defaults(tmp_path: Path) -> None:
    result = read_registry(registry(tmp_path, "cam-2,n,rtsp://h/1,,121.2,31.0,,,,"))
    (record,) = result.records
    assert record.sub_url == "rtsp://h/1"
    assert record.enabled is True and record.analysis_interval_s == 1.0
    assert record.zones == () and record.tags == ()


BAD_ROWS = [
    ("cam-3,,rtsp://h/1,,121.2,31.0,,,,", "name", "missing value"),
    ("cam-3,n,ftp://h/1,,121.2,31.0,,,,", "main_url", "scheme 'ftp'"),
    ("cam-3,n,rtsp:///nohost,,121.2,31.0,,,,", "main_url", "no host"),
    ("cam-3,n,rtsp://h/1,,east,31.0,,,,", "lon", "'east' is not a number"),
    ("cam-3,n,rtsp://h/1,,121.2,95,,,,", "lat", "out of range"),
    ("cam-3,n,rtsp://h/1,,121.2,31.0,maybe,,,", "enabled", "not true/false"),
    ("cam-3,n,rtsp://h/1,,121.2,31.0,,0.01,,", "analysis_interval_s", "out of range"),
    (
        'cam-3,n,rtsp://h/1,,121.2,31.0,,,"[{""purpose"":""no_parking"",""polygon"":[[0,0],[1,1]]}]",',
        "zones",
        "at least 3 points",
    ),
    (
        'cam-3,n,rtsp://h/1,,121.2,31.0,,,"[{""purpose"":""parking"",""polygon"":[[0,0],[1,0],[1,1]]}]",',
        "zones",
        "purpose 'parking'",
    ),
    (
        'cam-3,n,rtsp://h/1,,121.2,31.0,,,"[{""purpose"":""no_parking"",""polygon"":[[0,0],[1,1],[1,0],[0,1]]}]",',
        "zones",
        "not valid",
    ),
    (
        'cam-3,n,rtsp://h/1,,121.2,31.0,,,"[{""purpose"":""no_parking"",""polygon"":[[0,0],[2,0],[1,1]]}]",',
        "zones",
        "outside the image",
    ),
    ("cam-3,n,rtsp://h/1,,121.2,31.0,,,[{oops,", "zones", "not valid JSON"),
    ("cam 3,n,rtsp://h/1,,121.2,31.0,,,,", "camera_id", "must be letters"),
    ("cam-3,n,rtsp://h/1,,121.2,31.0,,,,bad tag!", "tags", "tag 'bad tag!'"),
    ("cam-3,n,rtsp://h/1,,121.2,31.0,,,", "(row)", "expected 10 fields, found 9"),
]


@pytest.mark.parametrize(("row", "column", "reason"), BAD_ROWS)
def test_each_kind_of_bad_row_is_named(tmp_path: Path, row: str, column: str, reason: str) -> None:
    result = read_registry(registry(tmp_path, GOOD, row))
    assert [r.camera_id for r in result.records] == ["cam-1"]
    assert len(result.errors) == 1, result.errors
    (error,) = result.errors
    assert (error.line, error.column) == (3, column)
    assert reason in error.reason


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    rows = [GOOD] + [row.replace("cam-3", f"cam-x{i}") for i, (row, _, _) in enumerate(BAD_ROWS)]
    rows.append(GOOD.replace("岳阳街道", "again"))  # duplicate id cam-1
    result = read_registry(registry(tmp_path, *rows))
    assert len(result.errors) == len(BAD_ROWS) + 1
    assert [e.line for e in result.errors] == list(range(3, len(rows) + 2))
    dup = result.errors[-1]
    assert dup.column == "camera_id" and "duplicate id 'cam-1' (first on line 2)" in dup.reason
    assert result.rows == len(rows)


def test_multiline_field_keeps_line_numbers_right(tmp_path: Path) -> None:
    multiline = 'cam-4,"two\nlines",rtsp://h/1,,121.2,31.0,,,,'
    result = read_registry(registry(tmp_path, GOOD, multiline, "cam-5,n,rtsp://h/1,,x,31,,,,"))
    assert [r.line for r in result.records] == [2, 3]
    assert [(e.line, e.column) for e in result.errors] == [(5, "lon")]


def test_wrong_column_set(tmp_path: Path) -> None:
    header = HEADER.replace("lat", "latitude") + ",owner"
    result = read_registry(registry(tmp_path, GOOD, header=header))
    assert result.records == []
    reasons = " | ".join(e.reason for e in result.errors)
    assert all(e.line == 1 for e in result.errors)
    assert "missing columns: lat" in reasons
    assert "unknown columns: latitude, owner" in reasons


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = registry(tmp_path, GOOD, GOOD.replace("cam-1", "cam-9"), encoding="gb18030")
    result = read_registry(path)
    (error,) = result.errors
    assert error.line == 2 and error.column == "(file)"
    assert "not UTF-8" in error.reason and "GB18030" in error.reason


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = registry(tmp_path, GOOD, encoding="utf-8-sig")
    assert read_registry(path).errors == []


def test_messages_never_show_passwords(tmp_path: Path) -> None:
    row = "cam-3,n,rtsp://admin:hunter2@h:99999/1,,121.2,31.0,,,,"
    result = read_registry(registry(tmp_path, row))
    (error,) = result.errors
    assert error.column == "main_url"
    assert "hunter2" not in error.format("f.csv")
    assert "***" in error.reason


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    records = read_registry(
        registry(tmp_path, GOOD, "cam-2,n,rtsp://h/1,,121.2,31.0,false,2,,a;b")
    ).records
    out = tmp_path / "out.csv"
    write_registry(records, out)
    again = read_registry(out).records
    assert [r.fingerprint for r in again] == [r.fingerprint for r in records]
    assert again[1] == CameraRecord(
        "cam-2", "n", "rtsp://h/1", "rtsp://h/1", 121.2, 31.0, False, 2.0, (), ("a", "b")
    )


def test_zone_ids_default_and_must_be_unique() -> None:
    zones = parse_zones(
        '[{"purpose":"ignore","polygon":[[0,0],[1,0],[1,1]]},'
        '{"id":"kerb","purpose":"no_parking","polygon":[[0,0],[1,0],[0,1]]}]'
    )
    assert [z.id for z in zones] == ["z1", "kerb"]
    with pytest.raises(ZoneError, match="unique"):
        parse_zones(
            '[{"id":"a","purpose":"ignore","polygon":[[0,0],[1,0],[1,1]]},'
            '{"id":"a","purpose":"ignore","polygon":[[0,0],[1,0],[1,1]]}]'
        )


@pytest.mark.parametrize(
    ("points", "simple"),
    [
        (((0, 0), (1, 0), (1, 1), (0, 1)), True),
        (((0, 0), (1, 1), (1, 0), (0, 1)), False),  # bow tie
        (((0, 0), (1, 0), (0.5, 0), (0.5, 1)), False),  # edge doubles back on itself
        (((0, 0), (2, 0), (2, 2), (1, 0), (0, 2)), False),  # vertex touches an edge
        (((0, 0), (0.5, 0.2), (1, 0), (1, 1), (0, 1)), True),  # concave is fine
        (((0, 0), (1, 0), (1, 1), (0, 0), (0, 1)), False),  # repeated point
    ],
)
def test_simple_polygon_check_agrees_with_shapely(points, simple: bool) -> None:  # type: ignore[no-untyped-def]
    from shapely.geometry import Polygon

    from gridwatch.registry.zones import is_simple

    pts = tuple((float(x), float(y)) for x, y in points)
    assert is_simple(pts) is simple
    assert Polygon(pts).is_valid is simple
