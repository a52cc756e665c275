"""Draws the synthetic signer with OpenCV primitives (anti-aliased, sub-pixel positions) on a studio backdrop.

Per frame: a copy of the precomputed backdrop, about 60 filled polygons / ellipses / thick lines (C speed),
one multiply by a precomputed lighting map (directional light + vignette).  Body parts are drawn back to
front (trousers, torso, neck, head, then the arm and hand further from the camera first; the fingers and palm
of each hand sorted by depth), so hands in front of the face or the chest occlude correctly.
"""

from __future__ import annotations

import functools

import numpy as np

from benchmark.datasets.synthetic.motion import Skeleton
from benchmark.datasets.synthetic.signers import Signer

SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = 1 << SHIFT
_FINGERS = [(1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)]


@functools.lru_cache(maxsize=256)
def _shade(colour: tuple, f: float) -> tuple:
    return tuple(int(min(max(c * f, 0), 255)) for c in colour)


def _p(xy) -> tuple:
    return (int(round(xy[0] * _ONE)), int(round(xy[1] * _ONE)))


class Renderer:
    """Renders frames of one signer at ``width`` x ``height`` (BGR uint8)."""

    def __init__(self, signer: Signer, width: int, height: int, rng: np.random.Generator):
        import cv2

        self.cv2 = cv2
        self.s, self.w, self.h = signer, width, height
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        cx, cy = signer.centre_x * width, 0.45 * height
        back = np.asarray(signer.backdrop, np.float32)
        spot = np.exp(-(((xx - cx) / (0.55 * width)) ** 2 + ((yy - cy) / (0.8 * height)) ** 2))
        grad = 0.78 + 0.22 * spot - 0.08 * (yy / height)
        texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3) * 6
        bg = back[None, None] * grad[..., None] + texture[..., None]
        self.background = np.clip(bg, 0, 255).astype(np.uint8)
        lx = (xx / width) if signer.light_from_left else (1 - xx / width)
        light = (
            0.9
            + 0.1 * (1 - lx)
            - 0.12 * ((xx - width / 2) ** 2 / (width / 2) ** 2 + (yy - height / 2) ** 2 / (height / 2) ** 2) / 2
        )
        self.light = np.repeat(np.clip(light * 255, 0, 255).astype(np.uint8)[..., None], 3, 2)
        self.light_dir = -1.0 if signer.light_from_left else 1.0  # highlights shift toward the light (x)

    # -- primitives ---------------------------------------------------------------------------------------
    def _line(self, img, a, b, colour, thick):
        self.cv2.line(img, _p(a), _p(b), colour, max(1, int(round(thick))), self.cv2.LINE_AA, SHIFT)

    def _ellipse(self, img, c, axes, colour, angle=0.0):
        self.cv2.ellipse(
            img,
            _p(c),
            (max(1, int(axes[0] * _ONE)), max(1, int(axes[1] * _ONE))),
            angle,
            0,
            360,
            colour,
            -1,
            self.cv2.LINE_AA,
            SHIFT,
        )

    def _poly(self, img, pts, colour):
        pts = np.round(np.asarray(pts, np.float64)[:, :2] * _ONE).astype(np.int32)
        self.cv2.fillPoly(img, [pts], colour, self.cv2.LINE_AA, SHIFT)

    # -- body parts ---------------------------------------------------------------------------------------
    def draw(self, sk: Skeleton, i: int) -> np.ndarray:
        """Frame ``i`` of the skeleton, back to front: torso, neck, head, then the arms (see the module)."""
        img = self.background.copy()
        b = sk.body[i]
        S = sk.shoulder_px
        mid = (b[11, :2] + b[12, :2]) / 2
        self._torso(img, b, mid, S)
        self._neck(img, sk.neck_top[i], mid, S)
        hh, hw = sk.head_size
        self._head(img, b, sk.head[i, :2], sk.head[i, 2], hh, hw)
        self._arms(img, b, sk.left[i], sk.right[i], S, sk.hand_px)
        self.cv2.multiply(img, self.light, img, scale=1 / 255.0)
        return img

    def _torso(self, img, b, mid, S):
        """Trousers down to the bottom of the frame, then the shirt, shaded on the side away from the light."""
        s = self.s
        lsh, rsh, lhip, rhip = b[11, :2], b[12, :2], b[23, :2], b[24, :2]
        bottom = self.h + 2.0
        self._poly(
            img,
            [
                rhip + [-0.05 * S, -0.05 * S],
                lhip + [0.05 * S, -0.05 * S],
                [lhip[0] + 0.1 * S, bottom],
                [rhip[0] - 0.1 * S, bottom],
            ],
            s.trousers,
        )
        shirt = s.shirt
        torso = [
            rsh + [-0.06 * S, 0.02 * S],
            mid + [-0.2 * S, -0.08 * S],
            mid + [0.2 * S, -0.08 * S],
            lsh + [0.06 * S, 0.02 * S],
            lhip + [0.06 * S, 0.0],
            rhip + [-0.06 * S, 0.0],
        ]
        self._poly(img, torso, shirt)
        for sh in (lsh, rsh):
            self._ellipse(img, sh + [0, 0.06 * S], (0.16 * S, 0.12 * S), shirt)
        dark_side = lsh if self.light_dir < 0 else rsh
        dark_hip = lhip if self.light_dir < 0 else rhip
        self._poly(
            img,
            [
                dark_side + [0, 0.1 * S],
                dark_hip,
                (dark_hip + (lhip + rhip) / 2) / 2,
                (dark_side + mid) / 2 + [0, 0.3 * S],
            ],
            _shade(shirt, 0.8),
        )

    def _neck(self, img, neck_top, mid, S):
        """The neck and the shirt's collar."""
        s = self.s
        self._line(img, neck_top, mid + [0, 0.02 * S], _shade(s.skin, 0.82), 0.3 * S)
        self._poly(
            img,
            [
                mid + [-0.16 * S, -0.07 * S],
                mid + [0.0, 0.14 * S],
                mid + [0.16 * S, -0.07 * S],
                mid + [0.2 * S, -0.02 * S],
                mid + [0.0, 0.2 * S],
                mid + [-0.2 * S, -0.02 * S],
            ],
            _shade(s.shirt, 0.7),
        )

    def _arms(self, img, b, left, right, S, hand_px):
        """Both arms and hands, the one further from the camera first (so the nearer one occludes it)."""
        s = self.s
        arms = [(13, 15, left), (14, 16, right)]
        arms.sort(key=lambda a: -np.mean(a[2][:, 2]))
        for e_idx, w_idx, hand in arms:
            sh = b[e_idx - 2, :2]
            el, wr = b[e_idx, :2], b[w_idx, :2]
            sleeve = s.shirt
            self._line(img, sh, el, _shade(sleeve, 0.75), 0.27 * S + 2)
            self._line(img, sh, el, sleeve, 0.27 * S)
            fore = sleeve if s.long_sleeves else s.skin
            self._line(img, el, wr, _shade(fore, 0.75), 0.21 * S + 2)
            self._line(img, el, wr, fore, 0.21 * S)
            if s.long_sleeves:  # cuff
                self._line(img, el + 0.85 * (wr - el), wr + 0.02 * (wr - el), _shade(s.shirt, 0.6), 0.22 * S)
            self._hand(img, hand, hand_px)

    def _head(self, img, b, hc, yaw, hh, hw):
        s = self.s
        skin = s.skin
        hair_c = s.hair
        if s.hair_style == 1:  # long hair behind the head, down to the shoulders at the sides
            for side in (-1, 1):
                self._ellipse(img, hc + [side * 0.38 * hw, 0.3 * hh], (0.24 * hw, 0.62 * hh), hair_c)
        for ear in (b[7, :2], b[8, :2]):
            self._ellipse(img, ear, (0.1 * hw, 0.16 * hh), _shade(skin, 0.85))
        top = {0: 0.56, 1: 0.58, 2: 0.52}[s.hair_style]
        self._ellipse(img, hc + [0, -0.08 * hh], (top * hw, 0.52 * hh), hair_c)
        self._ellipse(img, hc + [0, 0.05 * hh], (0.48 * hw, 0.47 * hh), _shade(skin, 0.85))
        self._ellipse(img, hc + [self.light_dir * -0.04 * hw, 0.05 * hh], (0.42 * hw, 0.43 * hh), skin)
        # fringe
        self._ellipse(img, hc + [0.1 * hw * np.sin(yaw), -0.36 * hh], (0.42 * hw, 0.12 * hh), hair_c)
        ew, eh = 0.1 * hw, 0.045 * hh
        for eye, brow_dir in ((b[2, :2], 1), (b[5, :2], -1)):
            self._line(
                img,
                eye + [-1.2 * ew, -0.11 * hh],
                eye + [1.2 * ew, -0.12 * hh - brow_dir * 0.0],
                _shade(hair_c, 0.9),
                max(1.0, 0.035 * hh),
            )
            self._ellipse(img, eye, (ew, eh), (235, 240, 240))
            self._ellipse(img, eye + [0.3 * ew * np.sin(yaw), 0], (0.45 * ew, 0.9 * eh), (40, 30, 25))
        nose = b[0, :2]
        self._line(img, nose + [0, -0.12 * hh], nose, _shade(skin, 0.75), max(1.0, 0.04 * hw))
        self._ellipse(img, nose + [0, 0.01 * hh], (0.06 * hw, 0.03 * hh), _shade(skin, 0.7))
        mouth = (b[9, :2] + b[10, :2]) / 2
        self._ellipse(img, mouth, (0.5 * np.linalg.norm(b[9, :2] - b[10, :2]) + 1, 0.035 * hh), (70, 70, 160))

    def _hand(self, img, j, hand_px):
        cv2 = self.cv2
        skin = self.s.skin
        width = max(1.5, 0.095 * hand_px)
        palm_idx = [0, 1, 5, 9, 13, 17]
        palm = j[palm_idx, :2]
        u = j[9, :2] - j[0, :2]
        perp = np.array([-u[1], u[0]]) / max(np.linalg.norm(u), 1e-6) * 0.14 * hand_px
        pts = np.concatenate([palm, [j[0, :2] + perp, j[0, :2] - perp]])
        hull = cv2.convexHull(np.round(pts * _ONE).astype(np.int32))
        parts = [(float(np.mean(j[palm_idx, 2])), "palm", hull)]
        for f in _FINGERS:
            parts.append((float(np.mean(j[list(f), 2])), "finger", f))
        parts.sort(key=lambda p: -p[0])
        outline, fill = _shade(skin, 0.72), skin
        for _, kind, data in parts:
            if kind == "palm":
                cv2.fillConvexPoly(img, data, _shade(skin, 0.93), cv2.LINE_AA, SHIFT)
                cv2.polylines(img, [data], True, outline, 1, cv2.LINE_AA, SHIFT)
            else:  # one polyline per finger: outline, then fill (thick polylines have round joints)
                chain = np.round(j[list(data), :2] * _ONE).astype(np.int32)
                cv2.polylines(img, [chain], False, outline, int(round(width + 2)), cv2.LINE_AA, SHIFT)
                cv2.polylines(img, [chain], False, fill, int(round(width)), cv2.LINE_AA, SHIFT)
