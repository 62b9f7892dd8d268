"""The generated corpora: determinism, GRID/VoxCeleb2 layouts, .align format and timing, media
formats, and the real front-end face detector on the rendered faces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from lipsound2.corpus.grid import grid_words
from lipsound2.corpus.readers import read_align_words
from lipsound2.synthetic.generate import MARKER, generate_grid
from lipsound2.synthetic.quality import detection_stats


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rel_files(root: Path, suffix: str) -> dict[str, str]:
    return {p.name: _digest(p) for p in root.rglob(f"*{suffix}")}


def _rms(audio: np.ndarray, start: int, end: int) -> float:
    """RMS between two .align times (1/25000 s) of 25 kHz audio."""
    return float(np.sqrt(np.mean(audio[start:end] ** 2)))


def test_grid_layout_a(grid_a):
    speakers = sorted(p.name for p in grid_a.iterdir() if p.name.startswith("s"))
    assert speakers == ["s1", "s2", "s3"]
    for spk in speakers:
        videos = sorted((grid_a / spk).glob("*.mpg"))
        assert len(videos) == 3
        for video in videos:
            assert (grid_a / "alignments" / spk / f"{video.stem}.align").is_file()
            assert (grid_a / "audio_25k" / spk / f"{video.stem}.wav").is_file()
    assert (grid_a / MARKER).is_file()


def test_same_seed_same_bytes_in_both_layouts(grid_a, grid_b):
    """Layout (b) of the same seed holds byte-identical media and alignments."""
    for spk in ("s1", "s2", "s3"):
        a = {p.name: _digest(p) for p in (grid_a / spk).glob("*.mpg")}
        b = {p.name: _digest(p) for p in (grid_b / spk / "video" / "mpg_6000").glob("*.mpg")}
        assert a and a == b
        align_a = {p.name: _digest(p) for p in (grid_a / "alignments" / spk).glob("*.align")}
        assert align_a == {p.name: _digest(p) for p in (grid_b / spk / "align").glob("*.align")}
    assert not (grid_b / "audio_25k").exists()


def test_other_seed_other_corpus(grid_a, tmp_path):
    generate_grid(tmp_path / "g", speakers=1, utts=3, seed=1)
    other = _rel_files(tmp_path / "g" / "s1", ".mpg")
    mine = _rel_files(grid_a / "s1", ".mpg")
    assert set(other) != set(mine)
    assert not set(other.values()) & set(mine.values())


def test_regenerating_a_finished_corpus_does_nothing(grid_a):
    assert generate_grid(grid_a, 3, 3, seed=0, layout="a") == 0


def test_align_format_follows_grid(grid_a):
    for align in sorted(grid_a.glob("alignments/*/*.align")):
        rows = [line.split() for line in align.read_text().splitlines()]
        starts, ends = [int(r[0]) for r in rows], [int(r[1]) for r in rows]
        words = [r[2] for r in rows]
        assert words[0] == "sil" and words[-1] == "sil"
        assert starts[0] == 0 and ends[-1] == 75000  # 75 frames, 1000 units per frame
        assert all(s < e for s, e in zip(starts, ends))
        assert starts[1:] == ends[:-1], "segments must tile the clip"
        assert all(v % 250 == 0 for v in starts + ends)
        assert read_align_words(align) == grid_words(align.stem)


def test_alignment_matches_the_speech(grid_a):
    """Energy of the audio inside the words is far above that of the leading silence."""
    for align in sorted(grid_a.glob("alignments/*/*.align"))[:4]:
        audio, rate = sf.read(grid_a / "audio_25k" / align.parent.name / f"{align.stem}.wav")
        assert rate == 25000 and audio.ndim == 1
        assert len(audio) == 3 * rate
        rows = [line.split() for line in align.read_text().splitlines()]

        lead = _rms(audio, int(rows[0][0]), int(rows[0][1]))
        for start, end, word in rows[1:-1]:
            if word != "sp":
                assert _rms(audio, int(start), int(end)) > 8 * lead, (align, word)


def test_grid_media_format(grid_a):
    video = sorted((grid_a / "s1").glob("*.mpg"))[0]
    with av.open(str(video)) as container:
        vstream = container.streams.video[0]
        astream = container.streams.audio[0]
        assert vstream.codec_context.name == "mpeg1video"
        assert (vstream.codec_context.width, vstream.codec_context.height) == (360, 288)
        assert float(vstream.average_rate) == 25.0
        assert astream.codec_context.name == "mp2" and astream.codec_context.sample_rate == 44100
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 75


def test_faces_are_detected_by_the_front_end_detector(grid_a, vox):
    videos = sorted(grid_a.glob("s*/*.mpg"))[::3] + sorted(vox.glob("*/mp4/*/*/*.mp4"))[:2]
    stats = detection_stats(videos)
    assert stats.frames > 250
    assert stats.rate >= 0.99, stats


def test_voxceleb2_layout(vox, grid_a):
    dev = sorted(vox.glob("dev/mp4/*/*/*.mp4"))
    test = sorted(vox.glob("test/mp4/*/*/*.mp4"))
    assert len(dev) == 4 and len(test) == 2
    dev_spk = {p.parent.parent.name for p in dev}
    test_spk = {p.parent.parent.name for p in test}
    assert len(dev_spk) == 2 and not dev_spk & test_spk
    assert all(len(p.parent.name) == 11 for p in dev + test)  # YouTube-like video ids
    for clip in dev:
        text = clip.with_suffix(".txt").read_text()
        assert text.startswith("Text:  ") and len(text.split()) > 3
    with av.open(str(dev[0])) as container:
        v, a = container.streams.video[0].codec_context, container.streams.audio[0].codec_context
        assert (v.name, v.width, v.height) == ("h264", 224, 224)
        assert (a.name, a.sample_rate, a.channels) == ("aac", 16000, 1)
