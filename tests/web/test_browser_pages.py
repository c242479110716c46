"""The operator pages in a real headless Chromium against the real app on a real port.

One case made from the real ``dumping`` scene goes from review to closed through the
pages; an engineer draws a zone with the mouse; the map draws every grid; statistics
draw charts; roles and login are enforced; no page shows a camera password. Each page
is saved as test-artifacts/screenshots/<name>.png.
"""

# The fixtures imported from browser_fixtures are parameters of the tests (F811).
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser_fixtures import (  # noqa: F401 (browser, site: fixtures)
    ENGINEER,
    OPERATOR,
    SECRETS,
    WebSite,
    browser,
    shot,
    site,
)


def _no_secrets(page: Any) -> None:
    html = page.content()
    leaked = [s for s in SECRETS if s in html]
    assert not leaked, f"{page.url} shows camera passwords"


def _login(browser: Any, site: WebSite, who: tuple[str, str], path: str = "/review") -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{site.url}{path}")
    assert "/login" in page.url
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    with page.expect_navigation():
        page.click("#login-submit")
    assert "/login" not in page.url, page.content()
    return page


def test_logged_out_browser_goes_to_login(browser: Any, site: WebSite) -> None:
    context = browser.new_context()
    page = context.new_page()
    for path in ("/review", "/cases", "/map", f"/cameras/{site.cameras[0]}", "/stats"):
        page.goto(f"{site.url}{path}")
        assert page.url.startswith(f"{site.url}/login?next="), page.url
    assert page.locator("#login-form").is_visible()
    shot(page, "login")
    context.close()


def _step(page: Any, action: str, note: str) -> None:
    form = page.locator(f"#act-{action}")
    form.locator("input[name=note]").fill(note)
    with page.expect_navigation():
        form.locator("button").click()


def test_operator_reviews_and_closes_the_real_case(browser: Any, site: WebSite) -> None:
    page = _login(browser, site, OPERATOR)
    assert page.url.endswith("/review")
    case = page.locator(f"#case-{site.demo_case_id}")
    assert case.is_visible(), "the real scene's case is not in the review queue"
    img = page.locator("#evidence-img")
    img.wait_for()
    page.wait_for_function("document.getElementById('evidence-img').complete")
    assert img.evaluate("el => el.naturalWidth") > 0, "evidence image did not load"
    assert page.locator("#evidence-clip").get_attribute("src")
    assert "01-03" in page.content() and "积存垃圾渣土" in page.content()
    _no_secrets(page)
    shot(page, "review")
    queue = page.locator("#queue li")
    assert queue.count() == 2 and queue.first.get_attribute("data-case") == str(site.demo_case_id)
    with page.expect_navigation():
        page.keyboard.press("j")  # next case (less confident)
    assert page.locator(f"#case-{site.demo_case_id}").count() == 0
    with page.expect_navigation():
        page.keyboard.press("k")  # back
    assert page.locator(f"#case-{site.demo_case_id}").is_visible()

    with page.expect_navigation():
        page.keyboard.press("c")  # confirm (立案) from the keyboard
    assert page.locator(f"#case-{site.demo_case_id}").count() == 0  # moved on
    assert page.locator("#evidence-img, .evidence .muted").count() == 1  # the next case
    shot(page, "review-next")
    page.keyboard.press("d")  # duplicate: the key focuses the case-number field
    page.keyboard.type(str(site.demo_case_id))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#review-empty").is_visible()

    page.goto(f"{site.url}/cases/{site.demo_case_id}")
    _step(page, "dispatch", "派往市容环卫")
    _step(page, "handle", "已清运")
    _step(page, "verify", "摄像头复核：垃圾已清除")
    _step(page, "close", "结案")
    timeline = page.locator("#timeline li")
    actions = [timeline.nth(i).get_attribute("data-action") for i in range(timeline.count())]
    assert actions == ["open", "register", "dispatch", "handle", "verify", "close"]
    assert "摄像头复核：垃圾已清除" in page.locator("#timeline").inner_text()
    assert OPERATOR[0] in page.locator("#timeline").inner_text()
    assert page.locator("#case-state .state-closed").count() == 1
    assert page.locator("#act-reopen").count() == 1  # closed: only reopen is left
    _no_secrets(page)
    shot(page, "case")

    page.goto(f"{site.url}/cases?state=closed")
    assert page.locator(f"tr[data-case='{site.demo_case_id}']").count() == 1
    shot(page, "cases")
    page.context.close()


def test_operator_cannot_save_zones(browser: Any, site: WebSite) -> None:
    page = _login(browser, site, OPERATOR, f"/cameras/{site.cameras[0]}")
    assert page.locator("#zone-canvas").count() == 1
    assert page.locator("#zone-save").count() == 0
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.patch(
        f"{site.url}/api/cameras/{site.cameras[0]}",
        data=json.dumps({"zones": []}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    assert answer.status == 403
    _no_secrets(page)
    page.context.close()


def test_engineer_draws_and_saves_a_zone(browser: Any, site: WebSite) -> None:
    camera = site.cameras[0]
    page = _login(browser, site, ENGINEER, f"/cameras/{camera}")
    page.wait_for_function("document.getElementById('snapshot').naturalWidth > 0")
    assert page.locator("#zone-list li").count() == 1  # the zone the case was found in
    page.click("#zone-new")
    page.select_option("#zone-purpose", "no_parking")
    box = page.locator("#zone-canvas").bounding_box()
    for x, y in ((0.55, 0.2), (0.9, 0.2), (0.9, 0.5), (0.55, 0.5)):
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    # drag the last point a little further down
    page.mouse.move(box["x"] + 0.55 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.6 * box["height"], steps=4)
    page.mouse.up()
    shot(page, "camera-editing")
    page.click("#zone-save")
    page.wait_for_selector("#zone-status.saved")

    from sqlalchemy import create_engine

    from gridwatch.db.models import CameraRow

    engine = create_engine(site.db_url)
    with engine.connect() as conn:
        zones = (
            conn.execute(CameraRow.__table__.select().where(CameraRow.camera_id == camera))
            .one()
            ._mapping["zones"]
        )
    engine.dispose()
    drawn = [z for z in zones if z["purpose"] == "no_parking"]
    assert len(zones) == 2 and len(drawn) == 1 and len(drawn[0]["polygon"]) == 4
    assert drawn[0]["polygon"][3] == pytest.approx([0.6, 0.6], abs=0.02)

    page.reload()
    page.wait_for_function("document.querySelectorAll('#zone-list li').length === 2")
    assert "no_parking" in page.locator("#zone-list").inner_text()
    _no_secrets(page)
    shot(page, "camera")
    with page.expect_navigation():
        page.click("#toggle-enabled")  # disable, through PATCH /api/cameras/{id}
    assert page.locator("#toggle-enabled").get_attribute("data-enabled") == "0"
    with page.expect_navigation():
        page.click("#toggle-enabled")
    assert page.locator("#toggle-enabled").get_attribute("data-enabled") == "1"
    # no evidence and an unreachable stream: no picture, quickly, and the page says so
    assert page.request.get(f"{site.url}/cameras/{site.cameras[1]}/snapshot.jpg").status == 404
    page.goto(f"{site.url}/cameras")
    assert page.locator("#camera-table tbody tr").count() == len(site.cameras)
    assert page.locator(".health-auth_failed").count() == 1
    _no_secrets(page)
    shot(page, "cameras")
    page.context.close()


def test_map_draws_every_grid_and_opens_a_panel(browser: Any, site: WebSite) -> None:
    page = _login(browser, site, OPERATOR, "/map")
    assert page.locator("#grid-map path.grid").count() == 1322
    shaded = page.locator("#grid-map path.grid:not([data-open='0'])")
    assert shaded.count() >= 1
    code = shaded.first.get_attribute("data-code")
    shaded.first.click(force=True)
    page.wait_for_selector(f"#grid-info[data-code='{code}']")
    assert page.locator("#grid-info a[href^='/cases/']").count() >= 1
    assert page.locator("#grid-info a[href^='/cameras/']").count() >= 1
    shot(page, "map")
    page.click("#grid-info button.zoom-to")
    assert page.locator("#grid-map").get_attribute("viewBox") != page.locator(
        "#grid-map"
    ).get_attribute("data-full")
    shot(page, "map-zoomed")
    _no_secrets(page)
    page.context.close()


def test_stats_draw_charts_in_both_languages(browser: Any, site: WebSite) -> None:
    page = _login(browser, site, OPERATOR, "/stats")
    assert page.locator(".chart svg rect").count() >= 10
    assert page.locator("#chart-per_day svg").count() == 1
    assert page.locator("#chart-street_time table.heat tbody tr").count() == 3  # 3 streets
    assert page.locator("#chart-type_time table.heat tbody tr").count() == 5  # 5 codes
    assert "结案率" in page.content()
    shot(page, "stats")
    page.click("#lang-toggle")
    page.wait_for_load_state()
    assert "Closure rate" in page.content()
    page.goto(f"{site.url}/review")  # the choice sticks (cookie)
    assert "Review queue" in page.content() or "Nothing to review" in page.content()
    shot(page, "review-english")
    page.context.close()


def test_every_label_in_the_templates_is_translated() -> None:
    import re

    from aggregator.web.pages.i18n import _EN, _ZH, missing_keys

    assert missing_keys() == []
    folder = Path(__file__).resolve().parents[2] / "aggregator/web/templates"
    used = {
        key
        for path in folder.rglob("*.html")
        for key in re.findall(r"t\('([a-z_]+\.[a-z_]+)'\)", path.read_text(encoding="utf-8"))
    }
    assert used and not (used - set(_ZH)) and not (used - set(_EN))


def test_snapshot_grab_reads_one_keyframe(site: WebSite) -> None:
    from aggregator.web.pages.cameras import grab_keyframe

    if not site.scene_mp4.is_file():
        pytest.skip("the composed scene is not in the cache")
    jpeg = grab_keyframe(str(site.scene_mp4))
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    assert grab_keyframe("rtsp://user:pw@127.0.0.1:9/none", timeout_s=2) is None
