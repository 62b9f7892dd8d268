"""Face-track storage: cropped H.264 mp4 files vs uint8 arrays in ark files.

For each setting: bytes per frame, frames read back per second on one core, PSNR and SSIM of
the mouth region against the raw crop, and the projected size for VoxCeleb2 (~220 million
frames). Times are CPU seconds of this process.
Run: ``OMP_NUM_THREADS=1 python bench/facetrack_storage.py [clip ...]``
(default: the GRID clips in ``$LIPSOUND2_REALDATA``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lipsound2.fileio.facetrack import FaceTrackWriter, read_face_track
from lipsound2.frontend.config import FrontendConfig
from lipsound2.frontend.crop import CropConfig, apply_transform, crop_frames, crop_transforms
from lipsound2.frontend.decode import decode_video
from lipsound2.frontend.pipeline import make_detector
from lipsound2.frontend.track import track_face

VOXCELEB2_FRAMES = 220e6


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two gray images (Gaussian window 11, sigma 1.5, as Wang et al. 2004)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))


def mouth_boxes(landmarks: np.ndarray, config: CropConfig) -> list[tuple[int, int, int, int]]:
    """Per frame, a box around the mouth in crop coordinates (mouth corners widened by half)."""
    boxes = []
    for mat, marks in zip(crop_transforms(landmarks, config), landmarks):
        left, right = apply_transform(marks[3:5], mat)
        width = abs(right[0] - left[0])
        cx, cy = (left + right) / 2
        x1, x2 = int(max(0, cx - width)), int(min(config.size, cx + width))
        y1, y2 = int(max(0, cy - 0.6 * width)), int(min(config.size, cy + 0.6 * width))
        boxes.append((x1, y1, x2, y2))
    return boxes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--crf", type=int, nargs="+", default=[18, 20, 23, 26])
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--gray", action="store_true")
    args = parser.parse_args()
    clips = args.clips or sorted(
        (Path(os.environ["LIPSOUND2_REALDATA"]) / "GRID_rizkiarm_LipNet").glob("*.mpg")
    )
    config = CropConfig(gray=args.gray)
    detector = make_detector(FrontendConfig())
    tracks = []
    for clip in clips:
        video = decode_video(str(clip))
        track = track_face(video.frames, detector, every=1)
        tracks.append(
            (crop_frames(video.frames, track.landmarks, config), mouth_boxes(track.landmarks, config))
        )
    total = sum(len(c) for c, _ in tracks)
    print(
        f"{len(tracks)} clips, {total} frames of {config.size}x{config.size} {'gray' if args.gray else 'RGB'}"
    )
    head = ["storage", "bytes/frame", "VoxCeleb2 (TB)", "read fps/core", "write fps/core", "mouth PSNR (dB)"]
    print("| " + " | ".join(head + ["mouth SSIM"]) + " |")
    print("|" + " --- |" * (len(head) + 1))
    settings = [("ark", None)] + [("mp4", crf) for crf in args.crf]
    for fmt, crf in settings:
        with tempfile.TemporaryDirectory() as tmp:
            writer = FaceTrackWriter(tmp, fmt=fmt, crf=crf or 0, preset=args.preset)
            start = time.process_time()
            for i, (crops, _) in enumerate(tracks):
                writer.write(f"utt{i}", crops)
            specs = writer.close()
            write_s = time.process_time() - start
            size = sum(f.stat().st_size for f in Path(tmp).iterdir())
            start = time.process_time()
            decoded = [read_face_track(specs[f"utt{i}"], gray=args.gray or None) for i in range(len(tracks))]
            read_s = time.process_time() - start
        psnrs, ssims = [], []
        for (crops, boxes), back in zip(tracks, decoded):
            assert back.shape == crops.shape, (back.shape, crops.shape)
            for raw, dec, (x1, y1, x2, y2) in zip(crops, back, boxes):
                ra, de = raw[y1:y2, x1:x2], dec[y1:y2, x1:x2]
                psnrs.append(psnr(ra, de))
                if not args.gray:
                    ra, de = cv2.cvtColor(ra, cv2.COLOR_RGB2GRAY), cv2.cvtColor(de, cv2.COLOR_RGB2GRAY)
                ssims.append(ssim(ra, de))
        name = "ark uint8" if fmt == "ark" else f"mp4 H.264 crf {crf}"
        per_frame = size / total
        print(
            f"| {name} | {per_frame:.0f} | {per_frame * VOXCELEB2_FRAMES / 1e12:.2f} | {total / read_s:.0f} "
            f"| {total / write_s:.0f} | {np.mean(psnrs):.1f} | {np.mean(ssims):.4f} |"
        )


if __name__ == "__main__":
    main()
