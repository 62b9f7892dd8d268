"""The test tiers, decided by folder, and shared fixtures: the real sample clips, the
repository root, small generated corpora."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DIR = Path(__file__).resolve().parent

# Each folder of test/ belongs to one tier; the folder decides, not a mark on each test. Unit
# tests live in the folders named after lipsound2's packages (and test/speak, the command),
# and the top-level test files. A test that runs the stage script, the ESPnet launcher or a
# recipe belongs in a stage folder instead. Each tier's time limit per test (setup included)
# makes a test that grew too slow for its tier fail loudly instead of slowing every run down.
PACKAGES = tuple(sorted(p.parent.name for p in (ROOT / "lipsound2").glob("*/__init__.py")))
TIERS = {
    "unit": (*PACKAGES, "speak"),
    "stages": ("bench", "egs", "utils", "recipes"),
    "integration": ("integration",),
}
TIME_LIMIT_S = {"unit": 60, "stages": 600, "integration": 1800}
HELPERS = "lipsound2_testing"  # the shared helper package, no tests
# The modules that take several minutes each (a full recipe run, many times over), started
# before everything else so that the rest of the suite fills in beside them.
LONGEST_FIRST = ("integration/test_rerun_after_edit.py", "integration/test_mini_grid.py")


def tier_of(path: Path) -> str | None:
    """The tier of a path under test/ (top-level test files are unit tests); None for the
    helper package and paths outside test/."""
    try:
        parts = path.resolve().relative_to(TEST_DIR).parts
    except ValueError:
        return None
    if not parts or parts[0] == HELPERS or parts[0].startswith((".", "__")):
        return None
    if len(parts) == 1 and not (TEST_DIR / parts[0]).is_dir():
        return "unit"
    for tier, folders in TIERS.items():
        if parts[0] in folders:
            return tier
    if not any((TEST_DIR / parts[0]).rglob("test_*.py")):
        return None  # a folder of data or caches, no tests
    where = f"TIERS in {__file__}"
    raise pytest.UsageError(f"test/{parts[0]}/ is no lipsound2 package and no tier's folder ({where})")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        action="append",
        choices=list(TIERS),
        help="collect only the folders of this tier (repeatable); -m selects the same after collecting all",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With --tier, the other tiers' folders are not even imported."""
    tiers = config.getoption("tier")
    if not tiers:
        return None
    tier = tier_of(collection_path)
    return True if tier is not None and tier not in tiers else None


def pytest_configure(config: pytest.Config) -> None:
    """The layout checks, made here because this runs in the xdist controller as well: a
    UsageError raised on the workers while they collect reaches the user as an INTERNALERROR
    that hides its message."""
    if missing := [name for name in LONGEST_FIRST if not (TEST_DIR / name).is_file()]:
        raise pytest.UsageError(f"LONGEST_FIRST in {__file__} names no module: {missing}")
    for folder in sorted(TEST_DIR.iterdir()):
        if folder.is_dir():
            tier_of(folder)  # raises for a folder of tests that belongs to no tier


def _limits_set_elsewhere(config: pytest.Config) -> bool:
    """Whether a time limit was given to pytest-timeout itself (--timeout, $PYTEST_TIMEOUT or
    the ini file; 0: none), which then wins over the tiers' limits."""
    if config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT"):
        return True
    return config.getini("timeout") not in (None, "", [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks each test with its folder's tier and gives it the tier's time limit (a test's own
    ``timeout`` mark and a limit given to pytest-timeout win). The modules of LONGEST_FIRST run
    first, then the slowest tier, and in a tier the folders in the order of TIERS (the slowest
    first): with several workers, the short tests then fill in beside the long ones instead of
    leaving one worker alone at the end. pytest-xdist keeps this order only with --no-loadscope-reorder
    (the Makefile passes it); by default it sends the modules with the most tests first."""
    limits = config.pluginmanager.hasplugin("timeout") and not _limits_set_elsewhere(config)
    tiers = {}
    for item in items:
        tier = tiers[item] = tier_of(item.path)
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: a test outside test/'s tier folders")
        item.add_marker(tier)
        if limits and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIME_LIMIT_S[tier]))
    order = list(reversed(TIERS))

    def rank(item: pytest.Item) -> tuple[int, int, int]:
        tier = tiers[item]
        rel = item.path.resolve().relative_to(TEST_DIR)
        name = rel.as_posix()
        longest = LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        folders = TIERS[tier]
        return longest, order.index(tier), folders.index(rel.parts[0]) if rel.parts[0] in folders else -1

    items.sort(key=rank)


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


# Small generated corpora (lipsound2.synthetic), made once per run (also across xdist workers)
# for the generator's tests and the readers' tests, which read them and change nothing. The
# generator is imported only when a test asks for one.
GRID_SPEAKERS, GRID_UTTS = 3, 3


def _need_generator_tools() -> None:
    from lipsound2.synthetic.speech import FESTIVAL_VOICES, festival_available

    if shutil.which("ffmpeg") is None or not all(festival_available(v) for v in FESTIVAL_VOICES):
        pytest.skip("ffmpeg, festival or its voices are not installed (tools/install.sh)")


def _generated(tmp_path_factory: pytest.TempPathFactory, name: str, generate) -> Path:
    """``generate(root)`` once per run; the corpus is ``<shared>/<name>/<name>``, a folder whose
    name has a space where ``name`` has one."""
    _need_generator_tools()
    from lipsound2_testing.cache import built_once

    return built_once(tmp_path_factory, name, lambda out: generate(out / name)) / name


@pytest.fixture(scope="session")
def grid_a(tmp_path_factory) -> Path:
    """Generated GRID, layout (a), seed 0, under a folder whose name has a space."""
    from lipsound2.synthetic.generate import generate_grid

    def generate(root: Path) -> None:
        assert generate_grid(root, GRID_SPEAKERS, GRID_UTTS, seed=0, layout="a") == GRID_SPEAKERS * GRID_UTTS

    return _generated(tmp_path_factory, "grid a", generate)


@pytest.fixture(scope="session")
def grid_b(tmp_path_factory) -> Path:
    """Layout (b), same seed as ``grid_a``: the same utterances in the other release layout."""
    from lipsound2.synthetic.generate import generate_grid

    def generate(root: Path) -> None:
        generate_grid(root, GRID_SPEAKERS, GRID_UTTS, seed=0, layout="b")

    return _generated(tmp_path_factory, "grid b", generate)


@pytest.fixture(scope="session")
def vox(tmp_path_factory) -> Path:
    """Generated VoxCeleb2 layout: 2 dev speakers with 2 videos of 1 clip, 1 test speaker."""
    from lipsound2.synthetic.generate import generate_voxceleb

    return _generated(
        tmp_path_factory,
        "vox",
        lambda root: generate_voxceleb(root, dev_speakers=2, test_speakers=1, videos=2, clips=1, seed=0),
    )


@pytest.fixture(scope="session")
def espeak_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<dir>/{train,test}/{wav.scp,text}``: GRID-grammar sentences spoken by espeak-ng in two
    voices (``lipsound2_testing.espeak``), made once per run; read it, do not change it."""
    from lipsound2_testing.cache import built_once
    from lipsound2_testing.espeak import write_espeak_corpus

    return built_once(tmp_path_factory, "espeak corpus", write_espeak_corpus)


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
