"""How ``lipsound2-speak`` should decode a video longer than the model's training clips.

Test clips of a trained model's corpus are joined end to end (their face tracks and their
real audio, as stage 1 prepares them) and cut to ``--seconds``, starting at a random point in
the first clip, so window edges fall anywhere in the speech. Each such video is decoded:

* whole: the track in one piece, longer than anything the model saw;
* plain windows: consecutive windows of the training length, their mels put end to end;
* overlapping windows (``lipsound2.inference.video_speaker``): windows of the training length spread
  evenly, overlapping by at least ``overlap``, their mels cross-faded over each overlap;

and the wav (the same vocoder for all) is scored against the joined real audio (ESTOI,
STOI, PESQ). The clips decoded alone, within the training length, are the reference.

    python bench/speak_windows.py --model PACK --video_scp data/test_sd/video.scp --window 3
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from lipsound2.fileio.table import read_table
from lipsound2.frontend.pipeline import make_detector, prepare
from lipsound2.inference import Video2Speech, VideoSpeaker
from lipsound2.inference.video_speaker import fit_length, join_windows
from lipsound2.metrics.speech import speech_scores


def plain_windows(speaker: VideoSpeaker, track: np.ndarray, name: str) -> np.ndarray:
    """Consecutive windows of the speaker's length, put end to end, vocoded once."""
    v2s, window = speaker.v2s, speaker.window
    bounds = [(a, min(a + window, len(track))) for a in range(0, len(track), window)]
    mels = v2s.mel({f"{name}@{a}": track[a:b] for a, b in bounds})
    silence = float(np.log(v2s.frontend.mel.clip))
    mel = join_windows([r.mel for r in mels.values()], bounds, v2s.frontend.mel_per_video_frame, silence)
    return fit_length(v2s.vocode(mel), round(len(track) / v2s.fps * v2s.sample_rate), 0.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a pack of a trained model")
    p.add_argument("--video_scp", required=True, help="the test clips (<utt> <video file>)")
    p.add_argument("--window", type=float, default=3.0, help="the training clips' length, seconds")
    p.add_argument("--overlaps", type=float, nargs="+", default=[0.5, 1.0], help="seconds")
    p.add_argument("--seconds", type=float, default=6.4, help="length of each joined video")
    p.add_argument("--join", type=int, default=3, help="clips joined per video")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    v2s = Video2Speech.from_pretrained(args.model)
    detector = make_detector(v2s.frontend)
    clips = {}
    for key, path in read_table(args.video_scp).items():
        prepared = prepare(path, None, v2s.frontend, detector)
        clips[key] = (prepared.crops, prepared.wav / max(float(np.abs(prepared.wav).max()), 1e-8))
    keys = sorted(clips)
    samples_per_frame = round(v2s.sample_rate / v2s.fps)
    rng = np.random.default_rng(args.seed)
    frames = round(args.seconds * v2s.fps)
    modes = ["alone (reference)", "whole", "plain windows"] + [f"overlap {o:g} s" for o in args.overlaps]
    scores: dict[str, list] = {mode: [] for mode in modes}
    speakers = {o: VideoSpeaker(v2s, args.window, o) for o in args.overlaps}
    whole = VideoSpeaker(v2s, window_s=1e6)
    for key in keys:
        track, ref = clips[key]
        scores["alone (reference)"].append(speech_scores(ref, whole.speak_track(track, key).wav))
    for i in range(len(keys)):
        group = [keys[(i + j) % len(keys)] for j in range(args.join)]
        start = int(rng.integers(10, len(clips[group[0]][0]) - 10))
        track = np.concatenate([clips[k][0] for k in group])[start : start + frames]
        ref = np.concatenate([clips[k][1] for k in group])[start * samples_per_frame :][
            : frames * samples_per_frame
        ]
        name = f"joined{i}"
        scores["whole"].append(speech_scores(ref, whole.speak_track(track, name).wav))
        scores["plain windows"].append(
            speech_scores(ref, plain_windows(speakers[args.overlaps[0]], track, name))
        )
        for o, speaker in speakers.items():
            scores[f"overlap {o:g} s"].append(speech_scores(ref, speaker.speak_track(track, name).wav))
    print(
        f"{len(keys)} clips alone; {len(keys)} joined videos of {args.seconds:g} s; window {args.window:g} s"
    )
    print("| decoding | ESTOI | STOI | PESQ (NB) |")
    print("| --- | --- | --- | --- |")
    for mode, rows in scores.items():
        mean = {m: statistics.fmean(getattr(r, m) for r in rows) for m in ("estoi", "stoi", "pesq_nb")}
        print(f"| {mode} | {mean['estoi']:.3f} | {mean['stoi']:.3f} | {mean['pesq_nb']:.3f} |")


if __name__ == "__main__":
    main()
