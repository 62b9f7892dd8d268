"""A procedurally drawn talking face: one look per speaker, a mouth driven by viseme parameters.

The face is drawn with numpy/OpenCV only. Shading, eyes with highlights, a nose shadow, brows
and hair are there because the front end's face detector (RetinaFace) has to find the face in
practically every frame; a flat cartoon is not reliably detected. A frame is made of a static
background (with the shoulders), a head layer warped by a small head motion, and a global
lighting change, so that no two frames are pixel-identical even for the same mouth shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lipsound2.synthetic.visemes import MouthShape

SKIN_TONES = [  # RGB, light to dark
    (236, 200, 172),
    (225, 180, 150),
    (205, 160, 125),
    (180, 130, 100),
    (150, 105, 75),
    (115, 80, 60),
]
HAIR_COLOURS = [(30, 22, 18), (70, 45, 25), (120, 80, 40), (185, 150, 90), (90, 90, 90), (20, 20, 24)]
EYE_COLOURS = [(70, 45, 25), (60, 90, 120), (70, 100, 60), (40, 30, 20)]


@dataclass(frozen=True)
class FaceStyle:
    """Everything that makes one speaker's face look different from another's."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    eyes: tuple[int, int, int]
    lips: tuple[int, int, int]
    shirt: tuple[int, int, int]
    background: tuple[tuple[int, int, int], tuple[int, int, int]]
    face_w: float  # half width of the face, in units of the frame height
    face_h: float  # half height of the face, in units of the frame height
    eye_gap: float  # half distance between the eyes, relative to face_w
    mouth_w: float  # half width of the mouth, relative to face_w
    brow: float  # brow thickness in pixels at 288 rows
    hair_style: int  # 0 short, 1 long, 2 very short / receding
    beard: bool

    @staticmethod
    def random(rng: np.random.Generator) -> FaceStyle:
        """Draw a face style; the same generator state gives the same face."""

        def pick(options):
            return tuple(int(c) for c in options[int(rng.integers(len(options)))])

        skin = pick(SKIN_TONES)
        lips = tuple(int(np.clip(c * f, 0, 255)) for c, f in zip(skin, (0.82, 0.55, 0.55)))
        bg_a = tuple(int(v) for v in rng.integers(40, 200, 3))
        bg_b = tuple(int(np.clip(v + rng.integers(-50, 50), 0, 255)) for v in bg_a)
        return FaceStyle(
            skin=skin,
            hair=pick(HAIR_COLOURS),
            eyes=pick(EYE_COLOURS),
            lips=lips,
            shirt=tuple(int(v) for v in rng.integers(20, 230, 3)),
            background=(bg_a, bg_b),
            face_w=float(rng.uniform(0.175, 0.205)),
            face_h=float(rng.uniform(0.245, 0.27)),
            eye_gap=float(rng.uniform(0.36, 0.42)),
            mouth_w=float(rng.uniform(0.30, 0.36)),
            brow=float(rng.uniform(2.5, 4.5)),
            hair_style=int(rng.integers(3)),
            beard=bool(rng.random() < 0.3),
        )


@dataclass(frozen=True)
class Pose:
    """Head pose and lighting of one frame."""

    dx: float = 0.0  # pixels
    dy: float = 0.0
    angle: float = 0.0  # degrees, in-plane
    scale: float = 1.0
    gain: float = 1.0  # global brightness
    side_light: float = 0.0  # -1..1, left/right brightness tilt
    blink: float = 0.0  # 0 open .. 1 closed


def _shade(layer: np.ndarray, mask: np.ndarray, colour, centre, axes, light=(-0.35, -0.45)) -> None:
    """Fill ``mask`` with ``colour`` shaded like a lit ellipsoid (brighter towards ``light``)."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xx - centre[0]) / axes[0]
    v = (yy - centre[1]) / axes[1]
    r2 = np.clip(u * u + v * v, 0, 1)
    nz = np.sqrt(1 - r2)
    lit = 0.55 + 0.45 * np.clip(nz * 0.8 - u * light[0] - v * light[1], 0, 1.2)
    shaded = np.asarray(colour, np.float32)[None, None, :] * lit[..., None]
    m = mask.astype(np.float32)[..., None] / 255.0
    layer[:] = layer * (1 - m) + shaded * m


class FaceRenderer:
    """Renders frames of one speaker's face at a given frame size."""

    def __init__(self, style: FaceStyle, width: int = 360, height: int = 288, zoom: float = 1.0) -> None:
        self.style = style
        self.width, self.height = width, height
        self.unit = height / 288.0 * zoom  # pixels per "288-row pixel"
        s = height * zoom
        self.fw, self.fh = style.face_w * s, style.face_h * s
        self.cx, self.cy = width / 2.0, height * (0.46 if zoom == 1.0 else 0.5)
        self.mouth = (self.cx, self.cy + 0.55 * self.fh)
        self.background = self._background()
        self.heads = {False: self._head(closed_eyes=False), True: self._head(closed_eyes=True)}

    # -- static layers -------------------------------------------------------------------------
    def _background(self) -> np.ndarray:
        st, h, w = self.style, self.height, self.width
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        a, b = (np.asarray(c, np.float32) for c in st.background)
        bg = np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).copy()
        # neck and shoulders stay in the background layer; the head moves over them
        neck_w = int(self.fw * 0.55)
        top = int(self.cy + self.fh * 0.5)
        cv2.rectangle(bg, (int(self.cx) - neck_w, top), (int(self.cx) + neck_w, h), st.skin, -1)
        neck = np.zeros((h, w), np.uint8)
        cv2.ellipse(
            neck,
            (int(self.cx), int(self.cy + self.fh * 0.75)),
            (neck_w, int(self.fh * 0.3)),
            0,
            0,
            360,
            255,
            -1,
        )
        neck_shadow = cv2.GaussianBlur(neck, (0, 0), 4 * self.unit).astype(np.float32)[..., None] / 255.0
        bg *= 1 - 0.35 * neck_shadow
        shoulders = (int(self.cx), int(self.cy + self.fh * 2.3))
        cv2.ellipse(
            bg, shoulders, (int(self.fw * 2.6), int(self.fh * 1.0)), 0, 180, 360, st.shirt, -1, cv2.LINE_AA
        )
        return cv2.GaussianBlur(bg, (0, 0), 1.2 * self.unit)

    def _head(self, closed_eyes: bool) -> tuple[np.ndarray, np.ndarray]:
        """The head (RGB float32, alpha 0..1) in the neutral pose, without the mouth."""
        st, u = self.style, self.unit
        h, w = self.height, self.width
        cx, cy, fw, fh = self.cx, self.cy, self.fw, self.fh
        rgb = np.zeros((h, w, 3), np.float32)
        alpha = np.zeros((h, w), np.uint8)

        def P(x, y):  # noqa: N802 - face coordinates (units of fw/fh) to pixels
            return int(round(cx + x * fw)), int(round(cy + y * fh))

        hair_mask = np.zeros((h, w), np.uint8)
        if st.hair_style == 1:  # long hair behind the face
            cv2.ellipse(hair_mask, P(0, 0.15), (int(fw * 1.3), int(fh * 1.15)), 0, 180, 360, 255, -1)
            cv2.rectangle(hair_mask, P(-1.3, 0.15), P(1.3, 0.95), 255, -1)
        else:
            cv2.ellipse(hair_mask, P(0, -0.15), (int(fw * 1.1), int(fh * 0.95)), 0, 180, 360, 255, -1)
        _shade(rgb, hair_mask, st.hair, P(0, -0.3), (fw * 1.3, fh * 1.2))
        alpha = np.maximum(alpha, hair_mask)

        # ears, then the face ellipse with a narrower chin
        skin_mask = np.zeros((h, w), np.uint8)
        for side in (-1, 1):
            cv2.ellipse(skin_mask, P(side * 0.97, 0.02), (int(fw * 0.16), int(fh * 0.2)), 0, 0, 360, 255, -1)
        face = [
            P(np.sin(a) * (1.0 if np.cos(a) > 0 else 0.80 + 0.2 * abs(np.sin(a))), -np.cos(a))
            for a in np.linspace(0, 2 * np.pi, 72, endpoint=False)
        ]
        cv2.fillPoly(skin_mask, [np.array(face, np.int32)], 255, cv2.LINE_AA)
        _shade(rgb, skin_mask, st.skin, (cx, cy), (fw * 1.05, fh * 1.05))
        alpha = np.maximum(alpha, skin_mask)

        # hair over the top of the face down to a hairline that curves down to the temples
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        un, vn = (xx - cx) / fw, (yy - cy) / fh
        hairline = {0: -0.62, 1: -0.58, 2: -0.74}[st.hair_style] + 0.35 * un**2
        scalp = ((un / 1.04) ** 2 + (vn / 1.04) ** 2 < 1) & (vn < hairline)
        _shade(rgb, scalp.astype(np.uint8) * 255, st.hair, P(0, -0.6), (fw * 1.1, fh * 0.7))
        if st.beard and sum(st.hair) < 300:  # stubble only where it shows as darker
            beard = np.zeros((h, w), np.uint8)
            cv2.ellipse(beard, P(0, 0.45), (int(fw * 0.86), int(fh * 0.56)), 0, 0, 180, 255, -1)
            cv2.ellipse(beard, P(0, 0.55), (int(fw * 0.45), int(fh * 0.2)), 0, 0, 360, 0, -1)
            beard = cv2.GaussianBlur(beard, (0, 0), 2 * u)
            b = beard.astype(np.float32)[..., None] / 255.0 * 0.55
            rgb[:] = rgb * (1 - b) + np.asarray(st.hair, np.float32) * b

        skin = np.asarray(st.skin, np.float32)
        dark = (skin * 0.55).tolist()
        # eye sockets (soft shadow), eyes, lids, brows
        shadow = np.zeros((h, w), np.uint8)
        for side in (-1, 1):
            cv2.ellipse(
                shadow, P(side * st.eye_gap, -0.13), (int(fw * 0.24), int(fh * 0.1)), 0, 0, 360, 255, -1
            )
        shadow = cv2.GaussianBlur(shadow, (0, 0), 3 * u).astype(np.float32)[..., None] / 255.0
        rgb *= 1 - 0.22 * shadow
        for side in (-1, 1):
            ex, ey = P(side * st.eye_gap, -0.12)
            ew, eh = int(fw * 0.17), int(fh * 0.06)
            if closed_eyes:
                cv2.ellipse(
                    rgb, (ex, ey), (ew, max(1, eh // 3)), 0, 0, 180, dark, max(1, int(1.5 * u)), cv2.LINE_AA
                )
            else:
                cv2.ellipse(rgb, (ex, ey), (ew, eh), 0, 0, 360, (240, 238, 232), -1, cv2.LINE_AA)
                r_iris = int(eh * 0.95)
                cv2.circle(rgb, (ex, ey), r_iris, st.eyes, -1, cv2.LINE_AA)
                cv2.circle(rgb, (ex, ey), max(1, int(r_iris * 0.5)), (12, 10, 10), -1, cv2.LINE_AA)
                cv2.circle(
                    rgb,
                    (ex - r_iris // 3, ey - r_iris // 3),
                    max(1, r_iris // 4),
                    (255, 255, 255),
                    -1,
                    cv2.LINE_AA,
                )
                cv2.ellipse(
                    rgb, (ex, ey), (ew, eh), 0, 180, 360, (40, 30, 30), max(1, int(1.6 * u)), cv2.LINE_AA
                )
                cv2.ellipse(
                    rgb, (ex, ey - int(eh * 0.7)), (ew, eh), 0, 200, 340, dark, max(1, int(u)), cv2.LINE_AA
                )
            brow = [
                P(side * (st.eye_gap + t * 0.26), -0.3 - 0.05 * np.cos(t * 1.4))
                for t in np.linspace(-1, 1, 9)
            ]
            cv2.polylines(
                rgb, [np.array(brow, np.int32)], False, st.hair, max(1, int(st.brow * u)), cv2.LINE_AA
            )

        # nose: a shaded ridge, a tip highlight, nostrils and a shadow under it
        nose = np.zeros((h, w), np.uint8)
        cv2.ellipse(nose, P(0.07, 0.2), (int(fw * 0.1), int(fh * 0.25)), 0, 0, 360, 255, -1)
        nose = cv2.GaussianBlur(nose, (0, 0), 3 * u).astype(np.float32)[..., None] / 255.0
        rgb *= 1 - 0.18 * nose
        cv2.ellipse(
            rgb,
            P(0, 0.3),
            (int(fw * 0.14), int(fh * 0.08)),
            0,
            0,
            360,
            (skin * 1.08).tolist(),
            -1,
            cv2.LINE_AA,
        )
        for side in (-1, 1):
            cv2.ellipse(
                rgb,
                P(side * 0.09, 0.35),
                (int(fw * 0.05), int(fh * 0.025)),
                0,
                0,
                360,
                (skin * 0.4).tolist(),
                -1,
                cv2.LINE_AA,
            )
            cv2.ellipse(
                rgb,
                P(side * 0.15, 0.3),
                (int(fw * 0.06), int(fh * 0.08)),
                0,
                90 - side * 60,
                270 - side * 60 + (180 if side > 0 else 0),
                dark,
                max(1, int(u)),
                cv2.LINE_AA,
            )
        under = np.zeros((h, w), np.uint8)
        cv2.ellipse(under, P(0, 0.4), (int(fw * 0.18), int(fh * 0.04)), 0, 0, 360, 255, -1)
        under = cv2.GaussianBlur(under, (0, 0), 2 * u).astype(np.float32)[..., None] / 255.0
        rgb *= 1 - 0.25 * under

        # shadow under the chin
        chin = np.zeros((h, w), np.uint8)
        cv2.ellipse(chin, P(0, 0.98), (int(fw * 0.5), int(fh * 0.08)), 0, 0, 360, 255, -1)
        rgb *= 1 - 0.15 * cv2.GaussianBlur(chin, (0, 0), 4 * u).astype(np.float32)[..., None] / 255.0

        a = cv2.GaussianBlur(alpha, (0, 0), 0.8 * u).astype(np.float32) / 255.0
        return cv2.GaussianBlur(rgb, (0, 0), 0.6 * u), a

    # -- per frame -----------------------------------------------------------------------------
    def _draw_mouth(self, rgb: np.ndarray, m: MouthShape) -> None:
        st, u = self.style, self.unit
        mx, my = self.mouth
        half_w = self.fw * st.mouth_w * (1.0 + 0.25 * m.spread - 0.35 * m.round)
        lip_up, lip_lo = 3.2 * u * (1 + 0.4 * m.round), 4.2 * u * (1 + 0.4 * m.round)
        gap = m.open * 15.0 * u * (1 + 0.15 * m.round)
        xs = np.linspace(-1, 1, 25)
        prof = np.sqrt(np.clip(1 - xs**2, 0, 1)) ** (0.8 + 0.6 * m.round)
        x_pix = mx + xs * half_w
        top_in = my - gap * 0.35 * prof
        bot_in = my + gap * 0.65 * prof
        lip = np.asarray(st.lips, np.float32)
        # lips: outer contours around the opening
        bow = 1.0 - 0.35 * np.exp(-((xs / 0.18) ** 2))  # cupid's bow dip in the middle
        top_out = top_in - lip_up * np.sqrt(np.clip(1 - xs**2, 0.05, 1)) * (0.6 + 0.4 * bow) - 1.5 * u * prof
        bot_out = bot_in + lip_lo * np.sqrt(np.clip(1 - xs**2, 0.05, 1))
        upper = np.stack([np.r_[x_pix, x_pix[::-1]], np.r_[top_out, top_in[::-1]]], 1)
        lower = np.stack([np.r_[x_pix, x_pix[::-1]], np.r_[bot_in, bot_out[::-1]]], 1)
        cv2.fillPoly(rgb, [np.round(upper * 4).astype(np.int32)], (lip * 0.9).tolist(), cv2.LINE_AA, shift=2)
        cv2.fillPoly(rgb, [np.round(lower * 4).astype(np.int32)], lip.tolist(), cv2.LINE_AA, shift=2)
        if gap > 1.0:
            inner = np.stack([np.r_[x_pix, x_pix[::-1]], np.r_[top_in, bot_in[::-1]]], 1)
            pts = np.round(inner * 4).astype(np.int32)
            cv2.fillPoly(rgb, [pts], (55, 18, 22), cv2.LINE_AA, shift=2)
            clip = np.zeros(rgb.shape[:2], np.uint8)
            cv2.fillPoly(clip, [pts], 255, cv2.LINE_AA, shift=2)
            y0, y1 = int(top_in.min()) - 1, int(bot_in.max()) + 2
            x0, x1 = int(x_pix[0]) - 1, int(x_pix[-1]) + 2
            patch = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
            patch[:] = (55, 18, 22)
            teeth_h = gap * 0.45 * m.teeth
            if teeth_h > 0.5:
                cv2.ellipse(
                    patch,
                    (int(mx - x0), int(my - gap * 0.35 - y0)),
                    (int(half_w * 0.7), int(teeth_h)),
                    0,
                    0,
                    180,
                    (235, 232, 220),
                    -1,
                    cv2.LINE_AA,
                )
            if m.tongue > 0.05:
                cv2.ellipse(
                    patch,
                    (int(mx - x0), int(my + gap * 0.65 - y0)),
                    (int(half_w * 0.55), int(gap * 0.5 * m.tongue + 1)),
                    0,
                    180,
                    360,
                    (190, 80, 90),
                    -1,
                    cv2.LINE_AA,
                )
            c = clip[y0:y1, x0:x1].astype(np.float32)[..., None] / 255.0
            rgb[y0:y1, x0:x1] = rgb[y0:y1, x0:x1] * (1 - c) + patch * c
        else:
            cv2.polylines(
                rgb,
                [np.round(np.stack([x_pix, top_in + 0.5], 1) * 4).astype(np.int32)],
                False,
                (lip * 0.45).tolist(),
                max(1, int(1.2 * u)),
                cv2.LINE_AA,
                shift=2,
            )
        if m.bite > 0.05:  # f/v: upper teeth resting on the lower lip
            th = int(2.5 * u * m.bite) + 1
            cv2.ellipse(
                rgb,
                (int(mx), int(my + 1)),
                (int(half_w * 0.55), th),
                0,
                0,
                180,
                (235, 232, 220),
                -1,
                cv2.LINE_AA,
            )

    def frame(self, mouth: MouthShape, pose: Pose, noise: np.ndarray | None = None) -> np.ndarray:
        """One RGB uint8 frame of the face with the given mouth shape, pose and lighting."""
        rgb, alpha = self.heads[pose.blink > 0.5]
        rgb = rgb.copy()
        self._draw_mouth(rgb, mouth)
        M = cv2.getRotationMatrix2D((self.cx, self.cy + self.fh * 0.3), pose.angle, pose.scale)  # noqa: N806
        M[0, 2] += pose.dx * self.unit
        M[1, 2] += pose.dy * self.unit
        size = (self.width, self.height)
        rgb = cv2.warpAffine(rgb, M, size, flags=cv2.INTER_LINEAR)
        a = cv2.warpAffine(alpha, M, size, flags=cv2.INTER_LINEAR)[..., None]
        out = self.background * (1 - a) + rgb * a
        ramp = np.linspace(-1, 1, self.width, dtype=np.float32)[None, :, None]
        out *= pose.gain * (1 + 0.18 * pose.side_light * ramp)
        if noise is not None:
            out += noise
        return np.clip(out, 0, 255).astype(np.uint8)
