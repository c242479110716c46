"""Open311 GeoReport v2 read endpoints: field names and types, statuses, dates, filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tests.aggregator.test_store import MONDAY_10AM, event, incoming
from tests.web.web_helpers import make_site

SERVICE_FIELDS = {
    "service_code": str, "service_name": str, "description": str, "metadata": bool,
    "type": str, "keywords": str, "group": str,
}  # fmt: skip
REQUEST_FIELDS: dict[str, Any] = {
    "service_request_id": str, "status": str, "status_notes": (str, type(None)),
    "service_name": str, "service_code": str, "description": str,
    "agency_responsible": str, "service_notice": str, "requested_datetime": str,
    "updated_datetime": str, "expected_datetime": (str, type(None)), "address": str,
    "address_id": str, "zipcode": (str, type(None)), "lat": (float, type(None)),
    "long": (float, type(None)), "media_url": (str, type(None)),
}  # fmt: skip
WINDOW = {"start_date": "2026-11-01T00:00:00+08:00", "end_date": "2026-12-01T00:00:00Z"}


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def _check_request(doc: dict[str, Any]) -> None:
    assert set(doc) == set(REQUEST_FIELDS)
    for key, kind in REQUEST_FIELDS.items():
        assert isinstance(doc[key], kind), (key, doc[key])
    assert doc["status"] in ("open", "closed")
    assert _aware(doc["requested_datetime"]) <= _aware(doc["updated_datetime"])
    if doc["expected_datetime"] is not None:
        _aware(doc["expected_datetime"])


def test_services_document(db_url: str, tmp_path: Path) -> None:
    client = make_site(db_url, tmp_path).token_client("operator")
    services = client.get("/open311/v2/services.json").json()
    assert len(services) >= 10
    for s in services:
        assert set(s) == set(SERVICE_FIELDS)
        for key, kind in SERVICE_FIELDS.items():
            assert isinstance(s[key], kind), key
        assert s["metadata"] is False and s["type"] == "realtime"
    parking = next(s for s in services if s["service_code"] == "05-05")
    assert parking["service_name"] == "机动车乱停放" and parking["group"] == "交警"


def test_requests_documents_statuses_and_filters(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    site.store.commit_events(
        [
            incoming(event(evidence=("s.jpg",)), {"s.jpg": b"\xff\xd8"}),
            incoming(event(camera="cam-3", code="05-04", t=MONDAY_10AM + 60)),
            incoming(event(camera="cam-2", code="01-02", t=MONDAY_10AM + 120)),
        ]
    )
    op = site.token_client("operator")
    for case, state in ((1, "registered"), (1, "dispatched")):
        assert op.post(f"/api/cases/{case}/transitions", json={"state": state}).status_code == 201
    reject = {"state": "rejected", "reason": "false_positive", "note": "a shadow"}
    assert op.post("/api/cases/2/transitions", json=reject).status_code == 201

    docs = op.get("/open311/v2/requests.json", params=WINDOW).json()
    assert [d["service_request_id"] for d in docs] == ["3", "2", "1"]
    for doc in docs:
        _check_request(doc)
    by_id = {d["service_request_id"]: d for d in docs}
    one, two = by_id["1"], by_id["2"]
    assert one["status"] == "open" and one["agency_responsible"] == "交警"
    assert one["expected_datetime"] is not None and one["address"].endswith("网格01")
    assert one["media_url"].startswith("http://testserver/evidence/") and one["lat"] == 31.0
    offset = _aware(one["requested_datetime"]).utcoffset()
    assert offset is not None and offset.total_seconds() == 8 * 3600
    assert two["status"] == "closed" and "false_positive" in two["status_notes"]
    assert "a shadow" in two["status_notes"] and two["expected_datetime"] is None

    def ids(**params: str) -> list[str]:
        r = op.get("/open311/v2/requests.json", params={**WINDOW, **params})
        assert r.status_code == 200, r.text
        return [d["service_request_id"] for d in r.json()]

    assert ids(status="closed") == ["2"] and ids(status="open") == ["3", "1"]
    assert ids(status="open,closed") == ["3", "2", "1"]
    assert ids(service_code="05-05,01-02") == ["3", "1"]
    assert ids(start_date="2026-11-23T10:00:30+08:00") == ["3", "2"]
    assert ids(end_date="2026-11-23T10:00:30+08:00", start_date="2026-11-01") == ["1"]
    assert ids(service_request_id="1,3", status="closed") == ["3", "1"]  # ids win
    assert op.get("/open311/v2/requests.json", params={"status": "x"}).status_code == 400
    assert op.get("/open311/v2/requests.json", params={"start_date": "soon"}).status_code == 422

    (single,) = op.get("/open311/v2/requests/1.json").json()
    assert single == one
    missing = op.get("/open311/v2/requests/99.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "no service request 99"}]


def test_default_window_is_the_last_90_days(sqlite_url: str, tmp_path: Path) -> None:
    site = make_site(sqlite_url, tmp_path)
    site.store.commit_events([incoming(event())])
    client = site.token_client("engineer")
    site.app.state.web.clock = lambda: MONDAY_10AM + 89 * 86400
    assert len(client.get("/open311/v2/requests.json").json()) == 1
    site.app.state.web.clock = lambda: MONDAY_10AM + 91 * 86400
    assert client.get("/open311/v2/requests.json").json() == []
