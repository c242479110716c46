"""The live demo: the whole system on one machine, on embedded defaults.

Real footage scenes are served as live RTSP cameras, placed in five Songjiang grids; an
edge agent with the real YOLO weights watches them and delivers events over ZeroMQ to an
aggregator with SQLite, which opens cases that an operator reviews in the web UI.

Everything lives in one folder (``data/demo`` by default), made anew on each run. The
demo never touches the registry's own cameras: its agent runs only the scene cameras.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gridwatch.config import Settings
from gridwatch.grid.model import GridIndex, Level
from gridwatch.registry.schema import CameraRecord
from gridwatch.registry.zones import Zone, ZonePurpose

SCENES = ("dumping", "vending", "parking", "walkthrough", "traffic")
# Where the scene cameras stand: one grid in each of five central subdistricts.
STREETS = ("310117001", "310117002", "310117003", "310117004", "310117005")
PURPOSES = {"dumping": ["no_dumping"], "vending": ["no_vending"], "parking": ["no_parking"]}
NEGATIVE = ["no_dumping", "no_vending", "no_parking"]
# The scenes loop every 30-45 s: their zones set a short dwell of their own so events
# show within a loop (a real camera's zones take the rules' minutes).
DEMO_DWELL_S = 8.0
NODE = "demo-node"


@dataclass
class DemoSite:
    folder: Path
    config: Path
    db_url: str
    web_url: str
    username: str
    password: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_scenes(folder: Path, echo: Callable[[str], None]) -> Path:
    """Compose the scene clips once (about a minute here); later runs reuse them."""
    from gridwatch.scenes.compose import compose_scene

    folder.mkdir(parents=True, exist_ok=True)
    for name in SCENES:
        if (folder / f"{name}.h264").exists() and (folder / f"{name}.json").exists():
            continue
        echo(f"composing scene {name} from real footage...")
        compose_scene(name, folder, size=(640, 360), h264=True)
    return folder


def scene_cameras(
    grid: GridIndex, scenes: Path, url_of: Callable[[str], str]
) -> list[CameraRecord]:
    """One camera per scene, in a grid of a central street, with zones where it looks."""
    records = []
    for name, street in zip(SCENES, STREETS, strict=True):
        unit = min(
            (u for u in grid.units.values() if u.level is Level.GRID and u.code.startswith(street)),
            key=lambda u: u.code,
        )
        truth = json.loads((scenes / f"{name}.json").read_text(encoding="utf-8"))
        polygon = tuple((float(x), float(y)) for x, y in truth["recommended_zone"])
        zones = tuple(
            Zone(p, ZonePurpose(p), polygon, DEMO_DWELL_S) for p in PURPOSES.get(name, NEGATIVE)
        )
        point = unit.geometry.representative_point()
        records.append(
            CameraRecord(
                camera_id=f"demo-{name}",
                name=f"{grid.units[street].name} {truth['description'][:40]}",
                main_url=url_of(name),
                sub_url=url_of(name),
                lon=round(point.x, 6),
                lat=round(point.y, 6),
                zones=zones,
                tags=("demo",),
            )
        )
    return records


def prepare(
    settings: Settings,
    folder: Path,
    scenes: Path,
    rtsp_url: Callable[[str], str],
    web_port: int,
    echo: Callable[[str], None],
) -> DemoSite:
    """A fresh demo folder: database with grid and scene cameras, a user, a config file."""
    from sqlalchemy.orm import Session

    from aggregator.web.auth import Role, create_user
    from gridwatch.db import open_db
    from gridwatch.registry.csvfile import write_registry
    from gridwatch.registry.importer import import_registry
    from gridwatch.registry.store import store_grid

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    db_url = f"sqlite:///{folder / 'gridwatch.db'}"
    grid = GridIndex.load(settings.grid.file)
    engine = open_db(db_url)
    store_grid(engine, grid)
    registry = folder / "demo_cameras.csv"
    write_registry(scene_cameras(grid, scenes, rtsp_url), registry)
    report = import_registry(registry, db_url, default_grid=settings.grid.file, echo=echo)
    if report.errors:
        raise RuntimeError("; ".join(e.format(str(registry)) for e in report.errors))
    password = secrets.token_urlsafe(12)
    with Session(engine) as db:
        create_user(db, "demo", Role.ADMIN, password)
        db.commit()
    port = free_port()
    repo = Path.cwd()
    config = folder / "gridwatch.yaml"
    config.write_text(
        f"""# Made by `gridwatch demo`; the demo folder is made anew on each run.
paths: {{data_dir: {folder}}}
database: {{url: "{db_url}"}}
grid: {{file: {(repo / settings.grid.file).resolve()}}}
sharding: {{nodes: [{{id: {NODE}}}]}}
edge:
  rules_file: {(repo / settings.edge.rules_file).resolve()}
  models_catalogue: {(repo / settings.edge.models_catalogue).resolve()}
  metrics_port: 0
  ingest: {{workers: 1, registry_poll_s: 5}}
  delivery: {{aggregator: "tcp://127.0.0.1:{port}", heartbeat_s: 2}}
aggregator:
  evidence_dir: {folder / "evidence"}
  event_types_file: {(repo / settings.aggregator.event_types_file).resolve()}
  metrics_port: 0
  receiver: {{bind: "tcp://127.0.0.1:{port}"}}
""",
        encoding="utf-8",
    )
    return DemoSite(folder, config, db_url, f"http://127.0.0.1:{web_port}/", "demo", password)


def start(site: DemoSite, *args: str, log: str) -> subprocess.Popen[bytes]:
    """A gridwatch process on the demo config, its output in the demo folder."""
    out = (site.folder / log).open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gridwatch.cli", "-v", "--config", str(site.config), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop_all(procs: list[subprocess.Popen[bytes]], timeout_s: float = 30) -> list[int]:
    """SIGTERM, then wait; SIGKILL what does not stop. The exit codes, in order."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout_s))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


def count_cases(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("select count(*) from cases where kind != 'maintenance'")
                ).scalar()
                or 0
            )
    finally:
        engine.dispose()


def wait(
    procs: dict[str, subprocess.Popen[bytes]],
    site: DemoSite,
    seconds: float,
    stopping: Callable[[], bool],
    echo: Callable[[str], None],
) -> str | None:
    """Run until asked to stop, ``seconds`` pass (0: forever) or a process dies."""
    deadline = time.monotonic() + seconds if seconds else None
    shown = 0
    while not stopping() and (deadline is None or time.monotonic() < deadline):
        for name, proc in procs.items():
            if proc.poll() is not None:
                return f"{name} exited with {proc.returncode} (see {site.folder / (name + '.log')})"
        cases = count_cases(site.db_url)
        if cases != shown:
            echo(f"{cases} case(s) waiting for review at {site.web_url}")
            shown = cases
        time.sleep(2)
    return None
