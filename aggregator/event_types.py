"""Event types: standard codes, names, responsible departments and time limits.

``configs/event_types.yaml`` lists the codes the cameras can find (CJ/T 214 / Shanghai
standard, see DOMAIN.md) and the camera component (监控电子眼) whose maintenance cases
the aggregator opens itself. Each type names the department a case is dispatched to and
its time limits in working hours.

Working hours are deliberately simple: the same opening hours on the listed weekdays in
one time zone (default 08:30-17:30 Monday to Friday, Asia/Shanghai), no public holidays.
An ``urgent`` type counts its limits in wall-clock hours (紧急工时: the clock never stops).

>>> wh = WorkingHours()
>>> friday_5pm = datetime(2026, 11, 27, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
>>> datetime.fromtimestamp(wh.add(friday_5pm, 1.0), ZoneInfo("Asia/Shanghai")).isoformat()
'2026-11-30T09:00:00+08:00'
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from gridwatch.sections import Section, repeated

CODE_PATTERN = r"^[0-9A-Za-z]{2,8}-[0-9A-Za-z]{2,8}$"
_MAX_DAYS = 3660  # a limit never spans more than ten years of calendar days


class WorkingHours(Section):
    """When the working-hour clock runs."""

    timezone: str = "Asia/Shanghai"
    start: time = time(8, 30)
    end: time = time(17, 30)
    weekdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday ... 6 = Sunday."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays must be a non-empty list of 0..6 (0 = Monday)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _order(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    def add(self, start: float, hours: float) -> float:
        """The Unix time ``hours`` working hours after ``start``."""
        tz = ZoneInfo(self.timezone)
        remaining = hours * 3600.0
        t = datetime.fromtimestamp(start, tz)
        for _ in range(_MAX_DAYS):
            day = t.date()
            if day.weekday() in self.weekdays:
                opens = datetime.combine(day, self.start, tz)
                closes = datetime.combine(day, self.end, tz)
                t = max(t, opens)
                if t < closes:
                    available = (closes - t).total_seconds()
                    if remaining <= available:
                        return (t + timedelta(seconds=remaining)).timestamp()
                    remaining -= available
            t = datetime.combine(day + timedelta(days=1), time(0), tz)
        raise ValueError(f"{hours} working hours do not fit in {_MAX_DAYS} days")


class EventTypeSpec(Section):
    """One standard code: what it is, who handles it, how fast."""

    code: str = Field(pattern=CODE_PATTERN)
    kind: Literal["event", "component"] = "event"
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    department: str = Field(min_length=1, max_length=64)
    handle_hours: float = Field(gt=0, le=10_000, description="Dispatch → handled.")
    verify_hours: float = Field(gt=0, le=10_000, description="Handled → verified.")
    urgent: bool = Field(False, description="Count the limits in wall-clock hours.")


class EventTypesFile(Section):
    """The whole of ``configs/event_types.yaml``."""

    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    maintenance_code: str = Field(
        pattern=CODE_PATTERN, description="Component code of a camera (监控电子眼)."
    )
    default_department: str = Field(
        "街道网格中心", min_length=1, description="For a code the file does not list."
    )
    default_handle_hours: float = Field(8.0, gt=0)
    default_verify_hours: float = Field(4.0, gt=0)
    types: list[EventTypeSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> EventTypesFile:
        dupes = repeated(t.code for t in self.types)
        if dupes:
            raise ValueError(f"codes listed twice: {dupes}")
        if self.maintenance_code not in {t.code for t in self.types}:
            raise ValueError(f"maintenance_code {self.maintenance_code!r} is not in types")
        return self


class EventTypes:
    """Lookups and deadlines over a validated :class:`EventTypesFile`."""

    def __init__(self, spec: EventTypesFile) -> None:
        self.spec = spec
        self.by_code = {t.code: t for t in spec.types}

    @classmethod
    def load(cls, path: Path) -> EventTypes:
        """Load and validate a YAML file (raises gridwatch.config.ConfigError).

        A relative path that does not exist from the working directory is looked up
        from the repository root, so commands work from any folder of a checkout.
        """
        from gridwatch.config import load_model

        if not path.is_absolute() and not path.exists():
            candidate = Path(__file__).resolve().parent.parent / path
            if candidate.exists():
                path = candidate
        return cls(load_model(EventTypesFile, path))

    @property
    def maintenance_code(self) -> str:
        return self.spec.maintenance_code

    def get(self, code: str) -> EventTypeSpec:
        """The spec of ``code``; an unlisted code gets the file's defaults."""
        found = self.by_code.get(code)
        if found is not None:
            return found
        return EventTypeSpec(
            code=code,
            name_zh=code,
            name_en=code,
            department=self.spec.default_department,
            handle_hours=self.spec.default_handle_hours,
            verify_hours=self.spec.default_verify_hours,
        )

    def department(self, code: str) -> str:
        return self.get(code).department

    def _add(self, code: str, start: float, hours: float) -> float:
        if self.get(code).urgent:
            return start + hours * 3600.0
        return self.spec.working_hours.add(start, hours)

    def handle_deadline(self, code: str, dispatched_at: float) -> float:
        """When a case dispatched at ``dispatched_at`` must be handled."""
        return self._add(code, dispatched_at, self.get(code).handle_hours)

    def verify_deadline(self, code: str, handled_at: float) -> float:
        """When a case reported handled at ``handled_at`` must be verified."""
        return self._add(code, handled_at, self.get(code).verify_hours)
