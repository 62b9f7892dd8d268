"""A throw-away recipe directory for the stage-script tests (importable by their modules), and
what earlier stages leave in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipsound2.fileio.table import write_table
from lipsound2.fileio.wav import write_wav
from lipsound2.frontend.config import load_config, write_settings
from lipsound2.recipe.marker import mark

# what every egs/<corpus>/ links from egs/TEMPLATE
SCRIPTS = (
    "lipsound2.sh",
    "lipreading.sh",
    "stage_options.sh",
    "stage_steps.sh",
    "path.sh",
    "cmd.sh",
    "db.sh",
)
# the default decode dir name: <inference config>_<model file> of conf/inference.yaml and
# valid.loss.best.pth (exp/<tag>/decode_<set>_<INFERENCE_TAG>)
INFERENCE_TAG = "inference_valid.loss.best"


def make_recipe(tmp_path: Path, root: Path) -> Path:
    """A recipe dir wired like egs/<corpus>/, at egs/<name>/ of a tree whose tools/venv is the
    installed environment (path.sh finds it two levels up), under paths with a space. Its
    utils/ (the repository's) holds what the stage scripts source (utils/stage_lib.sh)."""
    top = tmp_path / "lip root"
    (top / "tools").mkdir(parents=True)
    (top / "tools" / "venv").symlink_to((root / "tools" / "venv").resolve())
    (top / "utils").symlink_to(root / "utils")
    recipe = top / "egs" / "my recipe"
    recipe.mkdir(parents=True)
    for name in SCRIPTS:
        (recipe / name).symlink_to(root / "egs" / "TEMPLATE" / name)
    (recipe / "utils").symlink_to(top / "utils")
    assert (recipe / "utils" / "stage_lib.sh").is_file()
    return recipe


def write_data_settings(directory: Path, frontend_config: Path | None = None) -> Path:
    """``directory/frontend.yaml``, the resolved front-end settings, as stages 1-2 leave it
    beside the data (and training copies it into the experiment)."""
    write_settings(load_config(frontend_config), directory / "frontend.yaml")
    return directory / "frontend.yaml"


def audio_set(
    dump: Path, wavs: dict[str, np.ndarray], utt2spk: dict[str, str] | None = None, text: str = "SOME WORDS"
) -> Path:
    """``dump`` as stage 1 leaves an audio-only set: the 16 kHz ``wavs`` (key -> float array),
    wav.scp, text (``text`` for each), utt2spk (one speaker per utterance unless given), spk2utt
    and stage 1's done marker; stage 2 of the stage script makes the mel from it."""
    table = {}
    for key, wav in wavs.items():
        table[key] = str(dump / "wav" / f"{key}.wav")
        write_wav(table[key], wav, 16000)
    write_table(dump / "wav.scp", table)
    write_table(dump / "text", {key: text for key in wavs})
    utt2spk = utt2spk or {key: key for key in wavs}
    write_table(dump / "utt2spk", utt2spk)
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in sorted(utt2spk.items()):
        spk2utt.setdefault(spk, []).append(utt)
    write_table(dump / "spk2utt", {spk: " ".join(utts) for spk, utts in spk2utt.items()})
    mark(dump, "stage1", {"made by": "the test"})
    return dump


def tone_set(dump: Path, num_utts: int, seed: int) -> Path:
    """``dump`` as stage 1 leaves an audio-only set (``audio_set``) of ``num_utts`` utterances
    ``<dump name><i>``: 1 s of tones each, starting at random times."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    wavs = {}
    for i in range(num_utts):
        wav = sum(
            np.sin(2 * np.pi * rng.uniform(100, 3000) * t) * (t > rng.uniform(0, 0.8)) for _ in range(4)
        )
        wavs[f"{dump.name}{i}"] = (0.2 * wav + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    return audio_set(dump, wavs)
