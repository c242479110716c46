"""Camera health: heartbeats keep each camera's status; a dead camera gets a maintenance case.

Edge agents send a heartbeat every few seconds listing their cameras' states
(gridwatch.protocol.CameraStatus). :meth:`CameraHealth.record` keeps the latest one per
camera in ``camera_status``. :meth:`CameraHealth.check` (run periodically) opens a
maintenance case for the camera itself (component 监控电子眼, the event types file's
``maintenance_code``) when a camera has been

* silent: not mentioned by any heartbeat for ``HealthConfig.offline_case_after_s``, or
* offline, stalled or auth_failed for that long.

Only cameras heard of at least once are watched (a registry camera no agent ever
mentioned is a sharding problem, not a broken camera). The case is opened already
dispatched to the maintenance department by actor ``system``, and closed by ``system``
(handled → verified → closed, each step recorded) when a heartbeat reports the camera
online again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, or_, select, update

from aggregator.cases import CameraPlace, insert_cases, insert_transitions, update_cases
from aggregator.config import HealthConfig
from aggregator.event_types import EventTypes
from aggregator.models import CAMERA_STATUS, CASES
from aggregator.workflow import CaseRecord, CaseState, TransitionRecord, opened, walk
from gridwatch.protocol import CameraState, HeartbeatPayload
from gridwatch.secrets import redact

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
BAD_STATES = (CameraState.OFFLINE, CameraState.STALLED, CameraState.AUTH_FAILED)
_CHUNK = 2000

PlaceLookup = Callable[[Iterable[str]], dict[str, CameraPlace]]


class CameraHealth:
    """Camera status from heartbeats, and the maintenance cases that follow from it."""

    def __init__(
        self, engine: Engine, config: HealthConfig, types: EventTypes, places: PlaceLookup
    ) -> None:
        self.engine = engine
        self.config = config
        self.types = types
        self.places = places

    def record(self, node_id: str, heartbeat: HeartbeatPayload, received_at: float) -> None:
        """Upsert the status of every camera the heartbeat mentions (one transaction)."""
        statuses = {s.camera_id: s for s in heartbeat.cameras}
        if not statuses:
            return
        # Evidence the node's bounded outbox dropped, per camera (aggregator/nodes.py).
        drops = heartbeat.outbox.dropped_by_camera if heartbeat.outbox is not None else None
        table = CAMERA_STATUS
        with self.engine.begin() as conn:
            old = self._load(conn, sorted(statuses))
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            recovered: dict[int, str] = {}
            for camera_id, status in statuses.items():
                prev = old.get(camera_id)
                state = str(status.state)
                if status.since is not None:
                    since = status.since
                elif prev is not None and prev.state == state:
                    since = prev.since
                else:
                    since = received_at
                case_id = prev.maintenance_case_id if prev is not None else None
                if status.state is CameraState.ONLINE and case_id is not None:
                    recovered[case_id] = camera_id
                    case_id = None
                values = {
                    "node_id": node_id,
                    "state": state,
                    "reason": redact(status.reason) if status.reason else None,
                    "last_frame_at": status.last_frame_at,
                    "last_heartbeat_at": received_at,
                    "since": since,
                    "maintenance_case_id": case_id,
                }
                if drops is not None:
                    dropped = drops.get(camera_id)
                    values["dropped_clips"] = dropped.clips if dropped else 0
                    values["dropped_images"] = dropped.images if dropped else 0
                if prev is None:
                    inserts.append({"camera_id": camera_id, **values})
                else:
                    updates.append({"b_camera_id": camera_id, **values})
            if inserts:
                conn.execute(insert(table), inserts)
            if updates:
                columns: dict[str, Any] = {
                    k: bindparam(k) for k in updates[0] if k != "b_camera_id"
                }
                stmt = update(table).where(table.c.camera_id == bindparam("b_camera_id"))
                conn.execute(stmt.values(columns), updates)
            if recovered:
                self._close(conn, recovered, received_at)

    @staticmethod
    def _load(conn: Connection, ids: Sequence[str]) -> dict[str, Any]:
        table = CAMERA_STATUS
        rows: dict[str, Any] = {}
        for i in range(0, len(ids), _CHUNK):
            stmt = select(table).where(table.c.camera_id.in_(ids[i : i + _CHUNK]))
            rows.update({row.camera_id: row for row in conn.execute(stmt)})
        return rows

    def _close(self, conn: Connection, recovered: dict[int, str], at: float) -> None:
        """Close the maintenance cases of cameras that came back online."""
        c = CASES.c
        cases = [
            CaseRecord.from_row(row)
            for row in conn.execute(select(CASES).where(c.id.in_(sorted(recovered))))
        ]
        records: list[TransitionRecord] = []
        changed = []
        for case in cases:
            if case.state in (CaseState.CLOSED, CaseState.REJECTED):
                continue  # an operator settled it already
            note = f"camera {recovered[case.id or 0]} is back online"
            records += walk(
                case, CaseState.CLOSED, actor=SYSTEM_ACTOR, at=at, types=self.types, note=note
            )
            changed.append(case)
        update_cases(conn, changed)
        insert_transitions(conn, records, {c.origin_key: c.id for c in changed if c.id})

    def check(self, now: float) -> list[int]:
        """Open maintenance cases for cameras silent or broken too long; returns their ids."""
        cutoff = now - self.config.offline_case_after_s
        s = CAMERA_STATUS.c
        due = and_(
            s.maintenance_case_id.is_(None),
            or_(
                s.last_heartbeat_at < cutoff,
                and_(s.state.in_([str(b) for b in BAD_STATES]), s.since < cutoff),
            ),
        )
        with self.engine.begin() as conn:
            rows = conn.execute(select(CAMERA_STATUS).where(due)).all()
            if not rows:
                return []
            places = self.places([r.camera_id for r in rows])
            cases: list[CaseRecord] = []
            records: list[TransitionRecord] = []
            for row in rows:
                place = places.get(row.camera_id)
                if place is None:
                    continue  # not in the registry (any more): nothing to maintain
                case, steps = self._maintenance_case(row, place, now, cutoff)
                cases.append(case)
                records += steps
            existing = self._existing(conn, [c.origin_key for c in cases])
            fresh = [c for c in cases if c.origin_key not in existing]
            insert_cases(conn, fresh)
            ids = {**existing, **{c.origin_key: c.id for c in fresh if c.id is not None}}
            insert_transitions(conn, [r for r in records if r.case_key not in existing], ids)
            table = CAMERA_STATUS
            links = [{"b_camera_id": c.camera_id, "case_id": ids[c.origin_key]} for c in cases]
            if links:
                stmt = update(table).where(table.c.camera_id == bindparam("b_camera_id"))
                conn.execute(stmt.values(maintenance_case_id=bindparam("case_id")), links)
        for case in fresh:
            log.warning("camera %s: maintenance case %s opened", case.camera_id, case.id)
        return [c.id for c in fresh if c.id is not None]

    def _maintenance_case(
        self, row: Any, place: CameraPlace, now: float, cutoff: float
    ) -> tuple[CaseRecord, list[TransitionRecord]]:
        silent = row.last_heartbeat_at < cutoff
        since = row.last_heartbeat_at if silent else row.since
        why = (
            f"no heartbeat since {since:.0f}"
            if silent
            else f"{row.state} since {since:.0f}" + (f": {row.reason}" if row.reason else "")
        )
        case = CaseRecord.new(
            f"maint:{row.camera_id}:{int(since)}",
            kind="maintenance",
            event_code=self.types.maintenance_code,
            camera_id=row.camera_id,
            place=place.place(),
            at=now,
        )
        case.first_seen = since
        case.sightings = 1
        note = f"camera {row.camera_id} {why}"
        steps = [opened(case, actor=SYSTEM_ACTOR, note=note)]
        steps += walk(
            case, CaseState.DISPATCHED, actor=SYSTEM_ACTOR, at=now, types=self.types, note=note
        )
        return case, steps

    @staticmethod
    def _existing(conn: Connection, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        c = CASES.c
        stmt = select(c.origin_key, c.id).where(c.origin_key.in_(keys))
        return {key: id_ for key, id_ in conn.execute(stmt)}
