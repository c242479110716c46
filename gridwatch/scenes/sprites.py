"""Cut-outs of real photographs (people, vehicles, a box, fruit) for composed scenes.

Everything here comes from images that Debian's ``opencv-doc`` and the ultralytics
wheel ship, so scenes can be composed offline. Cut-outs use GrabCut inside a known
box (boxes found once with YOLO); the market stall's table and umbrella have no
photograph on the machine that YOLO recognises, so they are drawn (see
:func:`market_umbrella` and :func:`market_table`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Alpha = npt.NDArray[np.float32]

OPENCV_DOC = Path(os.environ.get("GRIDWATCH_OPENCV_DOC", "/usr/share/doc/opencv-doc"))
VTEST = OPENCV_DOC / "examples" / "data" / "vtest.avi"


class MissingFootageError(FileNotFoundError):
    """Real footage or photos are missing: install Debian's ``opencv-doc`` package."""


@dataclass(frozen=True)
class Sprite:
    """A BGR cut-out with an alpha matte in [0, 1], bottom-centre anchored."""

    bgr: Image
    alpha: Alpha

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.bgr.shape[1] / self.bgr.shape[0]

    def scaled(self, height: int) -> Sprite:
        """The sprite resized to ``height`` pixels, keeping its aspect ratio."""
        height = max(2, int(height))
        width = max(2, round(height * self.aspect))
        bgr = cv2.resize(self.bgr, (width, height), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(self.alpha, (width, height), interpolation=cv2.INTER_AREA)
        return Sprite(np.asarray(bgr, np.uint8), np.asarray(alpha, np.float32))

    def flipped(self) -> Sprite:
        """The mirror image (a vehicle driving the other way)."""
        return Sprite(self.bgr[:, ::-1].copy(), self.alpha[:, ::-1].copy())


def paste(canvas: Image, sprite: Sprite, foot_x: int, foot_y: int) -> tuple[int, int, int, int]:
    """Alpha-blend ``sprite`` with its bottom centre at (foot_x, foot_y), in place.

    Returns the pixel box (x1, y1, x2, y2) the sprite covers, clipped to the canvas.
    """
    h, w = sprite.bgr.shape[:2]
    x1, y1 = foot_x - w // 2, foot_y - h
    cx1, cy1 = max(0, x1), max(0, y1)
    cx2, cy2 = min(canvas.shape[1], x1 + w), min(canvas.shape[0], y1 + h)
    if cx2 <= cx1 or cy2 <= cy1:
        return (cx1, cy1, cx1, cy1)
    src = sprite.bgr[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1].astype(np.float32)
    a = sprite.alpha[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1, None]
    dst = canvas[cy1:cy2, cx1:cx2].astype(np.float32)
    canvas[cy1:cy2, cx1:cx2] = (src * a + dst * (1.0 - a)).astype(np.uint8)
    return (cx1, cy1, cx2, cy2)


def _read(path: Path) -> Image:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MissingFootageError(
            f"{path} is missing: install the Debian package opencv-doc "
            "(apt-get install opencv-doc) or set GRIDWATCH_OPENCV_DOC"
        )
    return np.asarray(image, dtype=np.uint8)


def _grabcut(image: Image, box: tuple[int, int, int, int], iters: int = 5) -> Sprite:
    """Cut the object inside ``box`` out of ``image`` with GrabCut, feathering the edge."""
    x1, y1, x2, y2 = box
    cv2.setRNGSeed(0)  # GrabCut's GMM start uses OpenCV's global RNG: keep it deterministic
    mask = np.zeros(image.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(image, mask, (x1, y1, x2 - x1, y2 - y1), bgd, fgd, iters, cv2.GC_INIT_WITH_RECT)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    # Keep the largest blob: stray background islands look like litter in the scene.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    if n > 1:
        fg = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    alpha = np.asarray(cv2.GaussianBlur(fg.astype(np.float32), (5, 5), 0), np.float32)
    ys, xs = np.nonzero(fg)
    tight = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return Sprite(
        image[tight[1] : tight[3], tight[0] : tight[2]].copy(),
        alpha[tight[1] : tight[3], tight[0] : tight[2]].copy(),
    )


def _ultralytics_asset(name: str) -> Path:
    import ultralytics

    return Path(ultralytics.__file__).parent / "assets" / name


@functools.cache
def people() -> tuple[Sprite, ...]:
    """Three full-body pedestrians cut from ultralytics' ``bus.jpg`` (YOLO: person 0.86-0.91)."""
    image = _read(_ultralytics_asset("bus.jpg"))
    boxes = [(51, 398, 239, 905), (226, 402, 346, 866), (675, 389, 809, 881)]
    return tuple(_grabcut(image, b) for b in boxes)


@functools.cache
def car() -> Sprite:
    """A silver estate car, side view, from opencv-doc's ``text/scenetext01.jpg`` (car 0.91)."""
    image = _read(OPENCV_DOC / "examples" / "text" / "scenetext01.jpg")
    return _grabcut(image, (386, 410, 698, 584))


@functools.cache
def bus() -> Sprite:
    """A red double-decker bus from opencv-doc's ``pexels_double_decker_bus.jpg`` (bus 0.97)."""
    image = _read(OPENCV_DOC / "opencv4" / "html" / "pexels_double_decker_bus.jpg")
    return _grabcut(image, (58, 104, 478, 402))


@functools.cache
def cardboard_box() -> Sprite:
    """A printed biscuit box from opencv-doc's ``box.png``; YOLO has no class for it."""
    image = _read(OPENCV_DOC / "examples" / "data" / "box.png")
    # box.png is a grey box on a plain background: a threshold is cleaner than GrabCut.
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, fg = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ys, xs = np.nonzero(fg)
    x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    crop = image[y1:y2, x1:x2]
    # Warm it up a little so it reads as cardboard rather than a grey slab.
    tint = np.array([0.80, 0.95, 1.15], np.float32)
    bgr = np.clip(crop.astype(np.float32) * tint, 0, 255).astype(np.uint8)
    return Sprite(bgr, np.ones(crop.shape[:2], np.float32))


@functools.cache
def fruit_crate() -> Sprite:
    """Oranges and limes from opencv-doc's ``fruits.jpg`` (orange 0.89), as a crate of goods."""
    image = _read(OPENCV_DOC / "examples" / "data" / "fruits.jpg")
    crop = image[40:480, 60:512]
    h, w = crop.shape[:2]
    framed = crop.copy()
    cv2.rectangle(framed, (0, 0), (w - 1, h - 1), (40, 70, 110), max(4, w // 40))
    return Sprite(framed, np.ones((h, w), np.float32))


@functools.cache
def market_umbrella(height: int = 400) -> Sprite:
    """A striped market umbrella on a pole, drawn: no photograph of one is on the machine."""
    w = int(height * 1.2)
    canvas = np.zeros((height, w, 3), np.uint8)
    alpha = np.zeros((height, w), np.uint8)
    cx, top, rim = w // 2, int(height * 0.04), int(height * 0.36)
    colors = [(40, 40, 200), (235, 235, 235)]
    n = 8
    for i in range(n):
        # Each panel is a sector of a half-ellipse dome with a scalloped hem; a dome
        # reads as "umbrella" to YOLO (0.55) where flat triangles scored about 0.3.
        arc = np.linspace(np.pi * (1 - i / n), np.pi * (1 - (i + 1) / n), 12)
        rx, ry = w * 0.48, rim - top
        pts = np.array(
            [(cx, rim), *((int(cx + rx * np.cos(a)), int(rim - ry * np.sin(a))) for a in arc)],
            np.int32,
        )
        xa, xb = int(cx + rx * np.cos(arc[0])), int(cx + rx * np.cos(arc[-1]))
        for img, value in ((canvas, colors[i % 2]), (alpha, 255)):
            cv2.fillPoly(img, [pts], value)
            cv2.ellipse(
                img, ((xa + xb) // 2, rim), (abs(xb - xa) // 2, height // 30), 0, 0, 180, value, -1
            )
    shade = np.linspace(1.0, 0.75, height, dtype=np.float32)[:, None, None]
    canvas = (canvas.astype(np.float32) * shade).astype(np.uint8)
    pole = max(3, height // 60)
    for img, value in ((canvas, (60, 60, 60)), (alpha, 255)):
        cv2.rectangle(img, (cx - pole, rim), (cx + pole, height - 1), value, -1)
    return Sprite(canvas, alpha.astype(np.float32) / 255.0)


@functools.cache
def market_table(height: int = 200) -> Sprite:
    """A folding table with a cloth, drawn: no photograph of one is on the machine."""
    w = int(height * 2.2)
    canvas = np.zeros((height, w, 3), np.uint8)
    alpha = np.zeros((height, w), np.uint8)
    top = int(height * 0.25)
    leg = max(3, height // 25)
    for img, cloth, wood in ((canvas, (150, 110, 60), (40, 60, 90)), (alpha, 255, 255)):
        cv2.rectangle(img, (0, 0), (w - 1, top), wood, -1)  # table top seen from above
        cv2.rectangle(img, (0, top), (w - 1, int(height * 0.6)), cloth, -1)  # hanging cloth
        for x in (leg * 2, w - leg * 3):
            cv2.rectangle(img, (x, top), (x + leg, height - 1), wood, -1)
    return Sprite(canvas, alpha.astype(np.float32) / 255.0)
