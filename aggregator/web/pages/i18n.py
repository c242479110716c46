"""Labels of the operator pages in Chinese (default) and English.

The language comes from ``?lang=en|zh`` (which also sets the ``lang`` cookie, see
:func:`remember_language`) or from that cookie; anything else means Chinese. Templates
call ``t("key")``; a key missing from a language falls back to Chinese, then to the key
itself, so a forgotten label shows up as its key rather than breaking the page.

>>> translator("en")("state.registered")
'Registered'
>>> translator("zh")("state.registered")
'已立案'
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response

from aggregator.web.labels import REJECT_REASON_NAMES, STATE_NAMES

LANGUAGES = ("zh", "en")
COOKIE = "lang"

_ZH: dict[str, str] = {
    "app.title": "网格智能巡查",
    "nav.review": "待审核",
    "nav.cases": "案件",
    "nav.map": "网格地图",
    "nav.cameras": "摄像头",
    "nav.stats": "统计",
    "nav.logout": "退出",
    "nav.lang": "English",
    "login.title": "登录",
    "login.user": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed": "用户名或密码错误",
    "action.open": "发现",
    "action.register": "立案",
    "action.reject": "驳回",
    "action.dispatch": "派遣",
    "action.handle": "处置完毕",
    "action.verify": "核查通过",
    "action.close": "结案",
    "action.reopen": "返工",
    "review.title": "待审核事件",
    "review.empty": "没有待审核的事件。",
    "review.confirm": "立案",
    "review.reject": "驳回",
    "review.duplicate": "重复",
    "review.duplicate_of": "重复于案件编号",
    "review.keys": "快捷键：c 立案 · r 驳回 · d 重复 · j/k 下一个/上一个",
    "review.queue": "队列",
    "review.teaches": "以“误报”或“此处不属问题”驳回会让该摄像头记住：同一位置、同样外观的事件"
    "在一段时间内不再提交审核（工程师可在摄像头页面解除）。每次立案和驳回也都是训练数据。",
    "field.case": "案件",
    "field.event": "事件类型",
    "field.camera": "摄像头",
    "field.grid": "网格",
    "field.time": "时间",
    "field.first_seen": "首次发现",
    "field.last_seen": "最近发现",
    "field.sightings": "发现次数",
    "field.confidence": "置信度",
    "field.state": "状态",
    "field.department": "处置部门",
    "field.deadline": "处置时限",
    "field.verify_deadline": "核查时限",
    "field.street": "街镇",
    "field.community": "社区",
    "field.note": "备注",
    "field.reason": "原因",
    "field.actor": "操作人",
    "field.from_to": "状态变化",
    "field.rule": "规则",
    "field.zone": "区域",
    "field.evidence": "证据",
    "field.clip": "视频片段",
    "field.overdue": "超期",
    "field.since": "开始",
    "field.until": "截止",
    "field.search": "搜索",
    "field.health": "状态",
    "field.last_frame": "最后画面",
    "field.enabled": "启用",
    "field.streams": "视频流",
    "field.open_cases": "未结案件",
    "cases.title": "案件",
    "cases.filter": "筛选",
    "cases.any": "全部",
    "cases.none": "没有符合条件的案件。",
    "cases.events": "事件与证据",
    "cases.place_check": "摄像头核查：原处是否恢复原样",
    "cases.place_before": "之前（物体出现前）",
    "cases.place_object": "发现时",
    "cases.place_after": "核查时（现在）",
    "cases.timeline": "处理流程",
    "cases.actions": "操作",
    "cases.no_actions": "当前角色无可执行的操作。",
    "cases.overdue_only": "仅超期",
    "map.title": "网格地图",
    "map.zoom": "缩放到",
    "map.district": "全区",
    "map.legend": "未结案件数",
    "map.pick": "点击网格查看案件和摄像头。",
    "map.cases": "案件",
    "map.cameras": "摄像头",
    "cameras.title": "摄像头",
    "cameras.none": "没有符合条件的摄像头。",
    "health.online": "在线",
    "health.connecting": "连接中",
    "health.stalled": "卡顿",
    "health.offline": "离线",
    "health.auth_failed": "认证失败",
    "health.unknown": "未知",
    "camera.snapshot": "最新画面",
    "camera.no_snapshot": "暂无画面",
    "camera.zones": "区域",
    "camera.editor_help": "点击图像添加顶点，拖动顶点移动，双击删除顶点。",
    "camera.new_zone": "新建区域",
    "camera.delete_zone": "删除区域",
    "camera.purpose": "用途",
    "camera.save": "保存区域",
    "camera.saved": "已保存",
    "camera.enable": "启用",
    "camera.disable": "停用",
    "camera.readonly": "仅工程师可编辑区域。",
    "purpose.no_dumping": "禁止倾倒",
    "purpose.bin_area": "垃圾箱区域",
    "purpose.no_vending": "禁止摆摊",
    "purpose.shopfront": "店铺门前",
    "purpose.no_parking": "禁止停车",
    "purpose.bike_parking": "非机动车停放",
    "purpose.ignore": "忽略",
    "stats.title": "统计",
    "stats.opened": "新增案件",
    "stats.closure_rate": "结案率",
    "stats.ontime_rate": "按期结案率",
    "stats.review_median": "审核时长中位数",
    "stats.fp_rate": "误报率",
    "stats.by_day": "每日新增案件",
    "stats.street_time": "各街镇新增案件（按周/月）",
    "stats.type_time": "各事件类型新增案件（按周/月）",
    "stats.by_street": "按街镇",
    "stats.by_type": "按事件类型",
    "stats.by_rule": "按规则误报率",
    "stats.by_camera": "按摄像头误报率",
    "stats.days": "天数",
    "stats.none": "暂无数据",
    "stats.suppressed": "已抑制（已知误报）",
    "stats.suppressed_by_rule": "按规则已抑制事件",
    "stats.suppressed_by_camera": "按摄像头已抑制事件",
    "camera.suppressions": "已学习的误报抑制",
    "camera.no_suppressions": "暂无。以“误报”或“此处不属问题”驳回的案件会教会摄像头，"
    "并显示在这里。",
    "camera.rule": "规则",
    "camera.learnt_from": "来源案件",
    "camera.held_back": "已抑制",
    "camera.until": "有效至",
    "camera.lift": "解除",
    "camera.lifted": "已解除",
    "camera.expired": "已过期",
    "camera.active": "生效中",
    "camera.lifted_msg": "已解除抑制：相同的事件将再次进入审核。",
    "common.save": "保存",
    "common.submit": "提交",
    "common.minutes": "分钟",
    "common.yes": "是",
    "common.no": "否",
    "error.forbidden": "无权限执行此操作",
    "error.illegal": "不允许的状态变化",
}

_EN: dict[str, str] = {
    "app.title": "Gridwatch",
    "nav.review": "Review",
    "nav.cases": "Cases",
    "nav.map": "Grid map",
    "nav.cameras": "Cameras",
    "nav.stats": "Statistics",
    "nav.logout": "Log out",
    "nav.lang": "中文",
    "login.title": "Log in",
    "login.user": "User name",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong user name or password",
    "action.open": "Found",
    "action.register": "Register",
    "action.reject": "Reject",
    "action.dispatch": "Dispatch",
    "action.handle": "Mark handled",
    "action.verify": "Verify",
    "action.close": "Close",
    "action.reopen": "Reopen",
    "review.title": "Review queue",
    "review.empty": "Nothing to review.",
    "review.confirm": "Confirm",
    "review.reject": "Reject",
    "review.duplicate": "Duplicate",
    "review.duplicate_of": "Duplicate of case #",
    "review.keys": "Keys: c confirm · r reject · d duplicate · j/k next/previous",
    "review.queue": "Queue",
    "review.teaches": "Rejecting as a false positive or as not a problem here teaches the "
    "camera: the same look at the same place is held back from review for a while (an "
    "engineer can lift it on the camera page). Every decision is also training data.",
    "field.case": "Case",
    "field.event": "Event type",
    "field.camera": "Camera",
    "field.grid": "Grid",
    "field.time": "Time",
    "field.first_seen": "First seen",
    "field.last_seen": "Last seen",
    "field.sightings": "Sightings",
    "field.confidence": "Confidence",
    "field.state": "State",
    "field.department": "Department",
    "field.deadline": "Handle by",
    "field.verify_deadline": "Verify by",
    "field.street": "Street",
    "field.community": "Community",
    "field.note": "Note",
    "field.reason": "Reason",
    "field.actor": "By",
    "field.from_to": "Change",
    "field.rule": "Rule",
    "field.zone": "Zone",
    "field.evidence": "Evidence",
    "field.clip": "Clip",
    "field.overdue": "Overdue",
    "field.since": "From",
    "field.until": "To",
    "field.search": "Search",
    "field.health": "Health",
    "field.last_frame": "Last frame",
    "field.enabled": "Enabled",
    "field.streams": "Streams",
    "field.open_cases": "Open cases",
    "cases.title": "Cases",
    "cases.filter": "Filter",
    "cases.any": "Any",
    "cases.none": "No cases match.",
    "cases.events": "Events and evidence",
    "cases.place_check": "Camera verification: does the place look as it did before?",
    "cases.place_before": "Before (without the object)",
    "cases.place_object": "When found",
    "cases.place_after": "At verification (now)",
    "cases.timeline": "Timeline",
    "cases.actions": "Actions",
    "cases.no_actions": "No action is open to your role.",
    "cases.overdue_only": "Overdue only",
    "map.title": "Grid map",
    "map.zoom": "Zoom to",
    "map.district": "Whole district",
    "map.legend": "Open cases",
    "map.pick": "Click a grid to see its cases and cameras.",
    "map.cases": "Cases",
    "map.cameras": "Cameras",
    "cameras.title": "Cameras",
    "cameras.none": "No cameras match.",
    "health.online": "Online",
    "health.connecting": "Connecting",
    "health.stalled": "Stalled",
    "health.offline": "Offline",
    "health.auth_failed": "Auth failed",
    "health.unknown": "Unknown",
    "camera.snapshot": "Latest picture",
    "camera.no_snapshot": "No picture yet",
    "camera.zones": "Zones",
    "camera.editor_help": "Click the picture to add points, drag a point to move it, "
    "double-click a point to delete it.",
    "camera.new_zone": "New zone",
    "camera.delete_zone": "Delete zone",
    "camera.purpose": "Purpose",
    "camera.save": "Save zones",
    "camera.saved": "Saved",
    "camera.enable": "Enable",
    "camera.disable": "Disable",
    "camera.readonly": "Only engineers can edit zones.",
    "purpose.no_dumping": "No dumping",
    "purpose.bin_area": "Bin area",
    "purpose.no_vending": "No vending",
    "purpose.shopfront": "Shopfront",
    "purpose.no_parking": "No parking",
    "purpose.bike_parking": "Bicycle parking",
    "purpose.ignore": "Ignore",
    "stats.title": "Statistics",
    "stats.opened": "Cases opened",
    "stats.closure_rate": "Closure rate",
    "stats.ontime_rate": "On-time closure rate",
    "stats.review_median": "Median time to review",
    "stats.fp_rate": "False-positive rate",
    "stats.by_day": "Cases opened per day",
    "stats.street_time": "Cases opened per street over time (week/month)",
    "stats.type_time": "Cases opened per event type over time (week/month)",
    "stats.by_street": "By street",
    "stats.by_type": "By event type",
    "stats.by_rule": "False positives by rule",
    "stats.by_camera": "False positives by camera",
    "stats.days": "Days",
    "stats.none": "No data yet",
    "stats.suppressed": "Held back (known false positives)",
    "stats.suppressed_by_rule": "Events held back by rule",
    "stats.suppressed_by_camera": "Events held back by camera",
    "camera.suppressions": "Learnt suppressions",
    "camera.no_suppressions": "None yet. A case rejected as a false positive or as not a "
    "problem here teaches the camera and shows up here.",
    "camera.rule": "Rule",
    "camera.learnt_from": "From case",
    "camera.held_back": "Held back",
    "camera.until": "Until",
    "camera.lift": "Lift",
    "camera.lifted": "Lifted",
    "camera.expired": "Expired",
    "camera.active": "Active",
    "camera.lifted_msg": "Suppression lifted: look-alike events go to review again.",
    "common.save": "Save",
    "common.submit": "Submit",
    "common.minutes": "min",
    "common.yes": "yes",
    "common.no": "no",
    "error.forbidden": "Your role may not do this",
    "error.illegal": "This change is not allowed",
}

_TABLES = {"zh": _ZH, "en": _EN}


# Workflow states and reject reasons are named once, in aggregator/web/labels.py (the
# API's names too), keyed by their enums.
for _key, (_zh, _en) in {
    **{f"state.{k}": v for k, v in STATE_NAMES.items()},
    **{f"reason.{k}": v for k, v in REJECT_REASON_NAMES.items()},
}.items():
    _ZH[_key], _EN[_key] = _zh, _en


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` for ``lang``, falling back to Chinese, then to the key itself."""
    table = _TABLES.get(lang, _ZH)

    def t(key: str) -> str:
        return table.get(key) or _ZH.get(key) or key

    return t


def language(request: Request) -> str:
    """The page language: ``?lang=`` first, then the cookie, else Chinese."""
    for value in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return "zh"


def remember_language(request: Request, response: Response) -> None:
    """Keep an explicit ``?lang=`` choice in a cookie for the next pages."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="lax")


def missing_keys() -> list[str]:
    """Keys one language has and the other lacks (a test keeps this empty)."""
    return sorted(set(_ZH) ^ set(_EN))
