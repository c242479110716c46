"""What an event's place looks like, as a small signature both sides agree on.

The edge agent computes :func:`signature` of an event's box on the clean analysis frame
(pixels straight from the decoder, before any JPEG) and sends it with the event; the
aggregator compares it with the signatures of events operators rejected
(:func:`similarity`), so a false positive that comes back at the same place looking the
same is recognised without the aggregator ever decoding an image.

A signature has two parts, chosen to survive the light of another day and to tell a
different object at the same place apart:

* a 16×16 grey patch of the box, normalized to zero mean and unit spread (so a
  brighter or darker day changes nothing), compared by correlation;
* a hue × saturation histogram (8 × 4 bins, brightness left out), compared by
  histogram intersection.

:func:`similarity` is the smaller of the two, so both texture and colour must agree.
Encoded as text (``a1:`` + base64 of 288 bytes) to travel in JSON and sit in a column.

>>> import numpy as np
>>> img = np.random.default_rng(1).integers(0, 255, (90, 160, 3), dtype=np.uint8)
>>> sig = signature(img, (40, 20, 100, 80))
>>> round(similarity(sig, sig), 3)
1.0
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

VERSION = "a1"
PATCH = 16  # side of the grey patch
HUE_BINS, SAT_BINS = 8, 4
_Z_CLIP = 3.0  # z-scores beyond ±3 are clipped before quantizing to int8
_Z_SCALE = 127 / _Z_CLIP
_FLAT = 1e-3  # a patch with less spread than this has no texture to correlate
_SIZE = PATCH * PATCH + HUE_BINS * SAT_BINS


class SignatureError(ValueError):
    """Not a signature this code can read (other version, damaged text).

    Recover by treating the event as having no signature: it is then never suppressed.
    """


def signature(image: npt.NDArray[np.uint8], box: Sequence[float]) -> str | None:
    """The signature of pixel ``box`` (x1, y1, x2, y2) on BGR ``image``; None when the
    box holds fewer than 2×2 pixels."""
    import cv2

    h, w = image.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    crop = image[y1:y2, x1:x2]
    grey = cv2.resize(
        cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), (PATCH, PATCH), interpolation=cv2.INTER_AREA
    )
    g = grey.astype(np.float32)
    spread = float(g.std())
    z = (g - g.mean()) / spread if spread > _FLAT else np.zeros_like(g)
    patch = np.clip(np.round(z * _Z_SCALE), -127, 127).astype(np.int8)
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256]).ravel()
    hist = np.round(hist / max(1.0, float(hist.sum())) * 255).astype(np.uint8)
    data = patch.tobytes() + hist.tobytes()
    return f"{VERSION}:{base64.b64encode(data).decode('ascii')}"


def _parts(sig: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    version, _, body = sig.partition(":")
    if version != VERSION:
        raise SignatureError(f"signature version {version!r}, this code reads {VERSION!r}")
    try:
        data = base64.b64decode(body, validate=True)
    except ValueError:
        raise SignatureError("signature is not base64") from None
    if len(data) != _SIZE:
        raise SignatureError(f"signature has {len(data)} bytes, expected {_SIZE}")
    patch = np.frombuffer(data[: PATCH * PATCH], np.int8).astype(np.float32)
    hist = np.frombuffer(data[PATCH * PATCH :], np.uint8).astype(np.float32)
    return patch, hist


def similarity(a: str, b: str) -> float:
    """How alike two places look, 0 (nothing alike) to 1 (the same).

    The smaller of the grey patches' correlation (negative counts as 0; two flat patches
    agree, a flat and a textured one do not) and the colour histograms' intersection.
    Raises :class:`SignatureError` for a signature it cannot read.
    """
    pa, ha = _parts(a)
    pb, hb = _parts(b)
    na, nb = float(np.linalg.norm(pa)), float(np.linalg.norm(pb))
    if na == 0.0 or nb == 0.0:
        texture = 1.0 if na == nb else 0.0
    else:
        texture = max(0.0, float(np.dot(pa, pb)) / (na * nb))
    colour = float(np.minimum(ha, hb).sum()) / max(1.0, float(max(ha.sum(), hb.sum())))
    return min(texture, colour)
