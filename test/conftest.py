"""Shared fixtures: the real sample clips, the repository root, small generated corpora."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_realdata() -> Path | None:
    """``../shared/realdata`` beside the checkout, or $LIPSOUND2_REALDATA."""
    env = os.environ.get("LIPSOUND2_REALDATA")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "realdata", ROOT.parent.parent / "shared" / "realdata"]
    for cand in candidates:
        if (cand / "GRID_rizkiarm_LipNet").is_dir():
            return cand
    return None


REALDATA = _find_realdata()


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Folder of real GRID, LRS2, LRS3 and VoxCeleb2-format clips; skips when absent."""
    if REALDATA is None:
        pytest.skip("real sample clips not found (set LIPSOUND2_REALDATA)")
    return REALDATA


@pytest.fixture(scope="session")
def grid_clips(realdata: Path) -> list[Path]:
    """The real GRID .mpg clips (360x288, 25 fps, 44.1 kHz stereo MPEG audio)."""
    return sorted((realdata / "GRID_rizkiarm_LipNet").glob("*.mpg"))


# Small generated corpora (lipsound2.synthetic), made once per session for the generator's tests
# and the readers' tests. The generator is imported only when a test asks for one.
GRID_SPEAKERS, GRID_UTTS = 3, 3


def _need_generator_tools() -> None:
    from lipsound2.synthetic.speech import FESTIVAL_VOICES, festival_available

    if shutil.which("ffmpeg") is None or not all(festival_available(v) for v in FESTIVAL_VOICES):
        pytest.skip("ffmpeg, festival or its voices are not installed (tools/install.sh)")


@pytest.fixture(scope="session")
def grid_a(tmp_path_factory) -> Path:
    """Generated GRID, layout (a), seed 0, under a folder whose name has a space."""
    _need_generator_tools()
    from lipsound2.synthetic.generate import generate_grid

    root = tmp_path_factory.mktemp("corpus") / "grid a"
    assert generate_grid(root, GRID_SPEAKERS, GRID_UTTS, seed=0, layout="a") == GRID_SPEAKERS * GRID_UTTS
    return root


@pytest.fixture(scope="session")
def grid_b(tmp_path_factory) -> Path:
    """Layout (b), same seed as ``grid_a``: the same utterances in the other release layout."""
    _need_generator_tools()
    from lipsound2.synthetic.generate import generate_grid

    root = tmp_path_factory.mktemp("corpus") / "grid b"
    generate_grid(root, GRID_SPEAKERS, GRID_UTTS, seed=0, layout="b")
    return root


@pytest.fixture(scope="session")
def vox(tmp_path_factory) -> Path:
    """Generated VoxCeleb2 layout: 2 dev speakers with 2 videos of 1 clip, 1 test speaker."""
    _need_generator_tools()
    from lipsound2.synthetic.generate import generate_voxceleb

    root = tmp_path_factory.mktemp("corpus") / "vox"
    generate_voxceleb(root, dev_speakers=2, test_speakers=1, videos=2, clips=1, seed=0)
    return root


@pytest.fixture(scope="session")
def mel_data_dir():
    """Makes a data dir as stage 2 leaves it: ``make(path, wavs)`` writes the 16 kHz waveforms
    ``wavs`` (key -> float array) and their wav.scp, then runs stage 2's mel job on them."""
    import numpy as np

    from lipsound2.bin import extract_mel
    from lipsound2.fileio.table import write_table
    from lipsound2.fileio.wav import write_wav

    def make(path: Path, wavs: dict[str, np.ndarray]) -> Path:
        table = {}
        for key, wav in wavs.items():
            table[key] = str(path / "wav" / f"{key}.wav")
            write_wav(table[key], wav, 16000)
        write_table(path / "wav.scp", table)
        args = ["--wav_scp", str(path / "wav.scp"), "--ark", str(path / "data" / "feats.ark")]
        extract_mel.main(args + ["--out_dir", str(path)])
        return path

    return make
