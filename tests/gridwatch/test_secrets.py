import logging

import pytest

from gridwatch.secrets import RedactingFilter, mask_url, redact


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "rtsp://admin:s3cret@10.1.2.3:554/Streaming/Channels/102",
            "rtsp://admin:***@10.1.2.3:554/Streaming/Channels/102",
        ),
        ("rtsp://admin:p%40ss@cam.local/live", "rtsp://admin:***@cam.local/live"),
        ("rtsp://10.1.2.3/live", "rtsp://10.1.2.3/live"),
        ("rtsp://user:pw@[fe80::1]:8554/a?x=1", "rtsp://user:***@[fe80::1]:8554/a?x=1"),
        ("postgresql+psycopg://gw:hunter2@db:5432/gw", "postgresql+psycopg://gw:***@db:5432/gw"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    assert mask_url(url) == expected


def test_redact_masks_urls_inside_text() -> None:
    text = "open rtsp://admin:abc123@h/1 failed; retry rtsp://root:xyz@h2:554/2"
    out = redact(text)
    assert "abc123" not in out and "xyz" not in out
    assert out.count("***") == 2


def test_log_filter_masks_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("gridwatch.test")
    handler = caplog.handler
    handler.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO):
            logger.info("camera %s is offline", "rtsp://admin:topsecret@10.0.0.1/s")
    finally:
        handler.removeFilter(handler.filters[-1])
    assert "topsecret" not in caplog.text
    assert "rtsp://admin:***@10.0.0.1/s" in caplog.text
