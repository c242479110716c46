"""The columns of ``camera_registry.csv`` and the validated record each row becomes.

| column | required | meaning |
|---|---|---|
| camera_id | yes | unique id, e.g. a GB/T 28181 20-digit device code |
| name | yes | what operators read: place and direction |
| main_url | yes | main stream (recording, evidence); rtsp/rtsps/http/https |
| sub_url | no | analysis sub-stream; empty = main_url |
| lon, lat | yes | WGS84 position of the place the camera looks at |
| enabled | no | true/false (yes/no, 1/0); empty = true |
| analysis_interval_s | no | seconds between looks, 0.2..60; empty = 1.0 |
| zones | no | JSON list of {id, purpose, polygon} in normalized image coords |
| tags | no | words separated by ';' (market;school) |
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gridwatch.registry.zones import Zone, dump_zones
from gridwatch.secrets import mask_url

COLUMNS: tuple[str, ...] = (
    "camera_id",
    "name",
    "main_url",
    "sub_url",
    "lon",
    "lat",
    "enabled",
    "analysis_interval_s",
    "zones",
    "tags",
)
REQUIRED_COLUMNS: frozenset[str] = frozenset(COLUMNS)  # every column must be in the header
REQUIRED_VALUES: frozenset[str] = frozenset({"camera_id", "name", "main_url", "lon", "lat"})
URL_SCHEMES: frozenset[str] = frozenset({"rtsp", "rtsps", "http", "https"})
DEFAULT_INTERVAL_S = 1.0
MIN_INTERVAL_S = 0.2
MAX_INTERVAL_S = 60.0
CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


@dataclass(frozen=True)
class CameraRecord:
    """One valid registry row. URLs keep their credentials; print them via ``masked()``."""

    camera_id: str
    name: str
    main_url: str
    sub_url: str
    lon: float
    lat: float
    enabled: bool = True
    analysis_interval_s: float = DEFAULT_INTERVAL_S
    zones: tuple[Zone, ...] = ()
    tags: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)

    def csv_row(self) -> dict[str, str]:
        """The row as it is written to ``camera_registry.csv``."""
        return dict(zip(COLUMNS, self.cells(), strict=True))

    def cells(self) -> tuple[str, ...]:
        """The row's cells in the order of ``COLUMNS``."""
        return (
            self.camera_id,
            self.name,
            self.main_url,
            "" if self.sub_url == self.main_url else self.sub_url,
            f"{self.lon:.6f}",
            f"{self.lat:.6f}",
            "true" if self.enabled else "false",
            f"{self.analysis_interval_s:g}",
            self.zones_cell,
            ";".join(self.tags),
        )

    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of the row's content, to tell updated rows from unchanged ones."""
        raw = "\x1f".join(self.cells())
        return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()

    @cached_property
    def zones_cell(self) -> str:
        """The ``zones`` cell: compact JSON, empty without zones (computed once per record)."""
        return dump_zones(list(self.zones))

    def zones_json(self) -> list[dict[str, Any]]:
        return [z.to_dict() for z in self.zones]

    def masked(self) -> dict[str, str]:
        """The URLs with passwords replaced by ``***``."""
        return {"main_url": mask_url(self.main_url), "sub_url": mask_url(self.sub_url)}
