"""The scripted scenes: who walks or drives where, when, and what a detector should report.

Coordinates are normalized (x, foot y) in the 16:9 view of vtest.avi that
:mod:`gridwatch.scenes.compose` renders; times are seconds from the clip's start. Each
script draws its random jitter from the RNG it is given, so a seed fixes the scene.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gridwatch.scenes import sprites
from gridwatch.scenes.sprites import Sprite

PERSON_M = 1.75


@dataclass(frozen=True)
class ExpectedEvent:
    """One event a correct edge agent should raise on the clip."""

    event_code: str
    label: str
    t_appear_s: float
    box: tuple[float, float, float, float]  # normalized x1, y1, x2, y2
    classes_seen: tuple[str, ...]  # COCO classes YOLO reports on the key object(s)
    note: str = ""
    t_owner_leaves_s: float | None = None  # the carrier is out of the picture


@dataclass
class Actor:
    """A cut-out following a piecewise-linear track in normalized image coordinates.

    ``keys`` are (t_s, x, foot_y); before the first and after the last key the actor is
    not drawn, unless ``stays`` (it then rests at its last key to the end of the clip).
    """

    sprite: Callable[[], Sprite]
    height_m: float
    keys: list[tuple[float, float, float]]
    walks: bool = False
    faces_right: bool = True
    stays: bool = False
    lift_m: Callable[[float], float] = field(default=lambda t: 0.0)

    def where(self, t: float) -> tuple[float, float, bool] | None:
        """(x, foot_y, moving_right) at ``t``, or None when off stage."""
        keys = self.keys
        if t < keys[0][0] or (t > keys[-1][0] and not self.stays):
            return None
        if t >= keys[-1][0]:
            prev = keys[-2] if len(keys) > 1 else keys[-1]
            return keys[-1][1], keys[-1][2], keys[-1][1] >= prev[1]
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(keys):
            if t0 <= t <= t1:
                u = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + (x1 - x0) * u, y0 + (y1 - y0) * u, x1 >= x0
        return None


@dataclass(frozen=True)
class Script:
    """Everything one scene needs: its actors, ground truth and zone."""

    actors: list[Actor]
    expected: list[tuple[ExpectedEvent, Actor]]  # box filled in from the actor's rest place
    zone: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class SceneSpec:
    """A named scene: what it shows and how long it runs by default."""

    name: str
    description: str
    default_seconds: float
    min_seconds: float
    script: Callable[[np.random.Generator], Script]


# --- the scenes -------------------------------------------------------------------------
# Coordinates are normalized (x, foot y) in the 16:9 view of vtest.avi. The lower-left
# lawn and the lower-right plaza see few of vtest's own pedestrians, so props go there.


def _walker(person: int, keys: list[tuple[float, float, float]]) -> Actor:
    return Actor(lambda: sprites.people()[person], PERSON_M, keys, walks=True)


def _dumping(rng: np.random.Generator) -> Script:
    t0 = 3.0 + float(rng.uniform(0.0, 1.0))
    x_drop, y = 0.30 + float(rng.uniform(-0.03, 0.03)), 0.86
    t_drop = t0 + 3.3
    carrier = _walker(
        int(rng.integers(0, 3)),
        [(t0, -0.08, y), (t_drop, x_drop, y), (t_drop + 1.5, x_drop, y), (t_drop + 4.8, -0.08, y)],
    )

    def lift(t: float) -> float:  # carried at hand height, set down over 0.4 s
        return 0.45 * float(np.clip((t_drop + 0.4 - t) / 0.4, 0.0, 1.0))

    box = Actor(
        sprites.cardboard_box,
        0.55,
        [(t0, -0.08 + 0.035, y + 0.005), (t_drop, x_drop + 0.035, y + 0.005)],
        stays=True,
        lift_m=lift,
    )
    event = ExpectedEvent(
        event_code="01-03",
        label="cardboard box left on the lawn",
        t_appear_s=round(t_drop + 0.4, 2),
        box=(0, 0, 0, 0),
        classes_seen=(),
        note="static foreground blob: YOLO has no COCO class for a cardboard box; "
        "the carrier is a 'person' until he leaves at "
        f"{t_drop + 4.8:.1f} s",
        t_owner_leaves_s=round(t_drop + 4.8, 2),
    )
    return Script([carrier, box], [(event, box)], ())


def _vending(rng: np.random.Generator) -> Script:
    t0 = 2.0 + float(rng.uniform(0.0, 1.0))
    x, y = 0.20 + float(rng.uniform(-0.02, 0.02)), 0.80
    vendor = _walker(
        int(rng.integers(0, 3)),
        [
            (t0, -0.08, y - 0.01),
            (t0 + 3.0, x + 0.12, y - 0.01),
            (t0 + 12.0, x + 0.12, y - 0.01),
            (t0 + 13.0, x + 0.14, y - 0.01),
            (t0 + 30.0, x + 0.14, y - 0.01),
            (t0 + 31.0, x + 0.12, y - 0.01),
        ],
    )
    vendor.stays = True
    t_table, t_goods, t_umbrella = t0 + 4.0, t0 + 5.0, t0 + 6.0
    table = Actor(sprites.market_table, 0.8, [(t_table, x, y)], stays=True)
    goods = Actor(
        sprites.fruit_crate,
        0.35,
        [(t_goods, x - 0.02, y + 0.001)],
        stays=True,
        lift_m=lambda t: 0.62,
    )
    umbrella = Actor(sprites.market_umbrella, 2.6, [(t_umbrella, x + 0.01, y - 0.002)], stays=True)
    event = ExpectedEvent(
        event_code="05-01",
        label="market stall (umbrella, table, fruit) with its vendor beside it",
        t_appear_s=round(t_umbrella, 2),
        box=(0, 0, 0, 0),
        classes_seen=("umbrella", "bench", "person"),
        note="table (YOLO: bench) and umbrella are drawn: no photo of either is on the "
        "machine; the fruit is real (fruits.jpg); the vendor is a person beside the stall",
    )
    return Script([vendor, umbrella, table, goods], [(event, umbrella)], ())


def _parking(rng: np.random.Generator) -> Script:
    t0 = 3.0 + float(rng.uniform(0.0, 1.0))
    x, y = 0.72 + float(rng.uniform(-0.03, 0.03)), 0.78
    car = Actor(
        sprites.car,
        1.45,
        [(t0, 1.25, y), (t0 + 3.0, x + 0.12, y), (t0 + 5.0, x + 0.01, y), (t0 + 6.0, x, y)],
        faces_right=False,
        stays=True,
    )
    event = ExpectedEvent(
        event_code="05-05",
        label="car parks on the pedestrian plaza",
        t_appear_s=round(t0 + 6.0, 2),
        box=(0, 0, 0, 0),
        classes_seen=("car",),
    )
    return Script([car], [(event, car)], ())


def _walkthrough(rng: np.random.Generator) -> Script:
    walkers = []
    for k, (t, y, left_to_right) in enumerate(
        [(2.0, 0.86, True), (9.0, 0.80, False), (15.0, 0.90, True)]
    ):
        t += float(rng.uniform(0.0, 1.5))
        xs = (-0.08, 1.08) if left_to_right else (1.08, -0.08)
        walkers.append(_walker(k % 3, [(t, xs[0], y), (t + 9.5, xs[1], y)]))
    zone = ((0.0, 0.62), (0.55, 0.62), (0.55, 1.0), (0.0, 1.0))
    return Script(walkers, [], zone)


def _traffic(rng: np.random.Generator) -> Script:
    passes = [
        (2.0, sprites.car, 1.45, 0.80, True),
        (7.5, sprites.bus, 4.2, 0.60, False),
        (13.0, sprites.car, 1.45, 0.66, False),
        (19.0, sprites.bus, 4.2, 0.82, True),
        (25.0, sprites.car, 1.45, 0.78, True),
    ]
    vehicles = []
    for t, sprite, height, y, left_to_right in passes:
        t += float(rng.uniform(0.0, 1.0))
        xs = (-0.35, 1.35) if left_to_right else (1.35, -0.35)
        vehicles.append(
            Actor(
                sprite,
                height,
                [(t, xs[0], y), (t + 5.0, xs[1], y)],
                faces_right=sprite is not sprites.car,
            )
        )
    zone = ((0.35, 0.45), (1.0, 0.45), (1.0, 0.95), (0.35, 0.95))
    return Script(vehicles, [], zone)


SCENES: dict[str, SceneSpec] = {
    spec.name: spec
    for spec in (
        SceneSpec(
            "dumping",
            "a man carries a box onto the lawn, sets it down and leaves",
            40.0,
            32.0,
            _dumping,
        ),
        SceneSpec(
            "vending",
            "a vendor sets up a table, fruit and an umbrella and stays",
            45.0,
            35.0,
            _vending,
        ),
        SceneSpec(
            "parking", "a car drives onto the pedestrian plaza and stays", 40.0, 30.0, _parking
        ),
        SceneSpec(
            "walkthrough",
            "negative: pedestrians cross the lawn, nothing is left",
            30.0,
            28.0,
            _walkthrough,
        ),
        SceneSpec(
            "traffic", "negative: cars and buses drive through, none stops", 35.0, 32.0, _traffic
        ),
    )
}
SCENE_SALT = {name: i + 1 for i, name in enumerate(SCENES)}
