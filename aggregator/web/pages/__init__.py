"""Server-rendered operator pages; ``router`` (all page groups) is included by the app.

One module per page group: review queue, cases, grid map, cameras, statistics, and the
login form. Labels come from :mod:`aggregator.web.pages.i18n` (Chinese, ``?lang=en``).
"""

from fastapi import APIRouter

from aggregator.web.pages.cameras import router as cameras_router
from aggregator.web.pages.cases import router as cases_router
from aggregator.web.pages.grid_map import router as map_router
from aggregator.web.pages.login import router as login_router
from aggregator.web.pages.review import router as review_router
from aggregator.web.pages.stats import router as stats_router

router = APIRouter(include_in_schema=False)
for _page_router in (
    login_router,
    review_router,
    cases_router,
    map_router,
    cameras_router,
    stats_router,
):
    router.include_router(_page_router)
