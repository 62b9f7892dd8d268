"""Data-dir tools: validate, fix, split, subset, combine, filter, spk2utt conversions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PER_UTT = ["text", "utt2num_frames", "utt2num_vframes", "utt2spk", "video.scp", "wav.scp"]


def rows(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def keys(path: Path) -> list[str]:
    return [line.split()[0] for line in rows(path)]


def validate(tool, data: Path):
    return tool("validate_data_dir.sh", "--no-feats", data)


def test_valid_dir_passes_and_feats_is_required_by_default(tool, data_dir):
    out = validate(tool, data_dir)
    assert out.returncode == 0, out.stderr
    assert "9 utterances, 3 speakers" in out.stdout
    out = tool("validate_data_dir.sh", data_dir)
    assert out.returncode == 1
    assert f"{data_dir}/feats.scp is missing" in out.stderr


def _swap_lines(path: Path, i: int, j: int) -> None:
    lines = rows(path)
    lines[i], lines[j] = lines[j], lines[i]
    write(path, lines)


def unsorted(data: Path) -> str:
    _swap_lines(data / "wav.scp", 1, 2)
    return "wav.scp line 3: 's1_u2 /corpus/with space/s1_u2.wav' is out of order"


def duplicate(data: Path) -> str:
    lines = rows(data / "text")
    write(data / "text", lines[:4] + [lines[3]] + lines[4:])
    return "text line 5: 's2_u1 place blue at 3 now' repeats the key of line 4"


def text_lacks_utterance(data: Path) -> str:
    write(data / "text", [line for line in rows(data / "text") if not line.startswith("s2_u2 ")])
    return "text lacks utterance s2_u2 (utt2spk line 5: 's2_u2 s2')"


def extra_utterance(data: Path) -> str:
    write(data / "utt2num_vframes", rows(data / "utt2num_vframes") + ["s9_u1 12"])
    return "utt2num_vframes line 10: 's9_u1 12': utterance s9_u1 is not in utt2spk"


def empty_line(data: Path) -> str:
    lines = rows(data / "video.scp")
    write(data / "video.scp", lines[:2] + [""] + lines[2:])
    return "video.scp line 3: empty line"


def bad_spk2utt(data: Path) -> str:
    write(data / "spk2utt", ["s1 s1_u1 s1_u2", "s2 s2_u1 s2_u2", "s3 s3_u1 s3_u2 s3_u3 s3_u4"])
    return "spk2utt line 1: 's1 s1_u1 s1_u2' differs from what utt2spk gives: 's1 s1_u1 s1_u2 s1_u3'"


CORRUPTIONS = [unsorted, duplicate, text_lacks_utterance, extra_utterance, empty_line, bad_spk2utt]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_validate_names_file_and_first_offending_line(tool, data_dir, corrupt):
    message = corrupt(data_dir)
    out = validate(tool, data_dir)
    assert out.returncode == 1
    assert f"{data_dir}/{message}" in out.stderr, out.stderr


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_fix_repairs_into_a_valid_dir_and_keeps_backups(tool, data_dir, corrupt):
    corrupt(data_dir)
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    out = tool("fix_data_dir.sh", data_dir)
    assert out.returncode == 0, out.stderr
    assert validate(tool, data_dir).returncode == 0
    changed = [name for name, content in before.items() if (data_dir / name).read_bytes() != content]
    assert changed
    for name in changed:  # every changed file's old content is in .backup
        assert (data_dir / ".backup" / name).read_bytes() == before[name]
    utts = keys(data_dir / "utt2spk")
    for name in PER_UTT:
        assert keys(data_dir / name) == utts
    again = tool("fix_data_dir.sh", data_dir)
    assert "nothing to fix" in again.stdout
    assert sorted(p.name for p in (data_dir / ".backup").iterdir()) == sorted(
        set(changed)
        | ({"removed_utterances"} if corrupt in (text_lacks_utterance, extra_utterance) else set())
    )


def test_fix_drops_utterances_missing_anywhere_and_says_which(tool, data_dir):
    text_lacks_utterance(data_dir)
    write(
        data_dir / "video.scp",
        [line for line in rows(data_dir / "video.scp") if not line.startswith("s3_u4 ")],
    )
    out = tool("fix_data_dir.sh", data_dir)
    assert out.returncode == 0, out.stderr
    assert "removed 2 utterance(s)" in out.stdout
    assert "s2_u2 (missing from text)" in out.stdout and "s3_u4 (missing from video.scp)" in out.stdout
    assert "s2_u2" not in (data_dir / "utt2num_vframes").read_text()
    assert rows(data_dir / "spk2utt")[1] == "s2 s2_u1"
    assert rows(data_dir / ".backup" / "removed_utterances") == [
        "s2_u2 (missing from text)",
        "s3_u4 (missing from video.scp)",
    ]


def test_split_scp_by_utterance_is_balanced_and_ordered(tool, tmp_path):
    scp = tmp_path / "in.scp"
    write(scp, [f"u{i:02d} /a path/{i}.wav" for i in range(10)])
    outs = [tmp_path / "out dir" / f"{k}.scp" for k in (1, 2, 3)]
    out = tool("split_scp.sh", scp, *outs)
    assert out.returncode == 0, out.stderr
    assert [len(rows(o)) for o in outs] == [4, 3, 3]
    assert sum((rows(o) for o in outs), []) == rows(scp)


def test_split_scp_by_speaker_keeps_speakers_whole(tool, tmp_path):
    utt2spk = tmp_path / "utt2spk"
    speakers = ["big"] * 5 + ["a", "b", "c", "d", "e"]
    write(utt2spk, sorted(f"{spk}_{i} {spk}" for i, spk in enumerate(speakers)))
    outs = [tmp_path / "o1", tmp_path / "o2"]
    out = tool("split_scp.sh", "--utt2spk", utt2spk, utt2spk, *outs)
    assert out.returncode == 0, out.stderr
    parts = [{line.split()[1] for line in rows(o)} for o in outs]
    assert not parts[0] & parts[1]
    assert [len(rows(o)) for o in outs] == [5, 5]
    assert sorted(rows(outs[0]) + rows(outs[1])) == rows(utt2spk)
    out = tool("split_scp.sh", "--utt2spk", utt2spk, utt2spk, *[tmp_path / f"x{k}" for k in range(7)])
    assert out.returncode != 0 and "cannot split 6 speaker(s) into 7 parts" in out.stderr


def test_split_data_by_speaker_and_per_utt(tool, data_dir):
    out = tool("split_data.sh", data_dir, 3)
    assert out.returncode == 0, out.stderr
    split = data_dir / "split3"
    seen_utts, seen_spks = [], []
    for part in (1, 2, 3):
        sub = split / str(part)
        assert validate(tool, sub).returncode == 0
        assert sorted(p.name for p in sub.iterdir()) == sorted([*PER_UTT, "spk2utt", "spk2gender"])
        seen_utts += keys(sub / "utt2spk")
        seen_spks += keys(sub / "spk2utt")
    assert sorted(seen_utts) == keys(data_dir / "utt2spk")
    assert sorted(seen_spks) == ["s1", "s2", "s3"]  # each speaker in exactly one part

    stamp = (split / "1" / "text").stat().st_mtime_ns
    assert tool("split_data.sh", data_dir, 3).returncode == 0
    assert (split / "1" / "text").stat().st_mtime_ns == stamp  # up to date: not redone

    out = tool("split_data.sh", "--per-utt", data_dir, 3)
    assert out.returncode == 0, out.stderr
    assert [len(rows(split / str(p) / "utt2spk")) for p in (1, 2, 3)] == [3, 3, 3]
    assert sum((rows(split / str(p) / "wav.scp") for p in (1, 2, 3)), []) == rows(data_dir / "wav.scp")

    write(data_dir / "text", [line + " again" for line in rows(data_dir / "text")])
    assert tool("split_data.sh", "--per-utt", data_dir, 3).returncode == 0
    assert rows(split / "1" / "text")[0].endswith(" again")  # newer input: redone


def test_split_data_rejects_bad_arguments(tool, data_dir):
    assert "Usage:" in tool("split_data.sh", data_dir).stderr
    out = tool("split_data.sh", data_dir, 4)
    assert out.returncode != 0 and "3 speaker(s) into 4 parts" in out.stderr


@pytest.mark.parametrize(
    "how, expected",
    [
        (["--first", "2"], ["s1_u1", "s1_u2"]),
        (["--last", "3"], ["s3_u2", "s3_u3", "s3_u4"]),
        (["--spk-list", "SPK"], ["s2_u1", "s2_u2"]),
        (["--utt-list", "UTT"], ["s1_u3", "s3_u1"]),
    ],
)
def test_subset(tool, data_dir, tmp_path, how, expected):
    write(tmp_path / "SPK", ["s2"])
    write(tmp_path / "UTT", ["s3_u1 anything", "s1_u3", "nope"])
    how = [str(tmp_path / a) if a in ("SPK", "UTT") else a for a in how]
    dest = tmp_path / "sub set"
    out = tool("subset_data_dir.sh", *how, data_dir, dest)
    assert out.returncode == 0, out.stderr
    assert keys(dest / "utt2spk") == expected
    assert validate(tool, dest).returncode == 0
    for name in PER_UTT:
        assert rows(dest / name) == [r for r in rows(data_dir / name) if r.split()[0] in expected]


def test_subset_random_is_seeded(tool, data_dir, tmp_path):
    picks = []
    for seed, dest in ((1, "a"), (1, "b"), (2, "c")):
        out = tool("subset_data_dir.sh", "--random", "4", "--seed", seed, data_dir, tmp_path / dest)
        assert out.returncode == 0, out.stderr
        assert validate(tool, tmp_path / dest).returncode == 0
        picks.append(keys(tmp_path / dest / "utt2spk"))
    assert len(picks[0]) == 4 and picks[0] == picks[1]
    out = tool("subset_data_dir.sh", "--first", "10", data_dir, tmp_path / "d")
    assert out.returncode != 0 and "only 9 utterances" in out.stderr


def test_combine_restores_the_whole_and_rejects_duplicates(tool, data_dir, tmp_path):
    write(tmp_path / "spk", ["s1", "s3"])
    assert (
        tool("subset_data_dir.sh", "--spk-list", tmp_path / "spk", data_dir, tmp_path / "p1").returncode == 0
    )
    write(tmp_path / "spk", ["s2"])
    assert (
        tool("subset_data_dir.sh", "--spk-list", tmp_path / "spk", data_dir, tmp_path / "p2").returncode == 0
    )
    (tmp_path / "p2" / "utt2num_frames").unlink()
    dest = tmp_path / "all of it"
    out = tool("combine_data.sh", dest, tmp_path / "p2", tmp_path / "p1")
    assert out.returncode == 0, out.stderr
    assert "skipping utt2num_frames: not in every source" in out.stderr
    assert not (dest / "utt2num_frames").exists()
    for name in [*[n for n in PER_UTT if n != "utt2num_frames"], "spk2utt", "spk2gender"]:
        assert rows(dest / name) == rows(data_dir / name), name
    out = tool("combine_data.sh", tmp_path / "dup", tmp_path / "p1", data_dir)
    assert out.returncode != 0
    assert f"utterance s1_u1 is in both {tmp_path / 'p1'} and {data_dir}" in out.stderr


def test_filter_scp(tool, data_dir, tmp_path):
    write(tmp_path / "ids", ["s2_u1", "s1_u1 extra fields"])
    out = tool("filter_scp.sh", tmp_path / "ids", data_dir / "wav.scp")
    assert out.stdout.splitlines() == [
        "s1_u1 /corpus/with space/s1_u1.wav",
        "s2_u1 /corpus/with space/s2_u1.wav",
    ]
    out = tool("filter_scp.sh", "--exclude", tmp_path / "ids", data_dir / "utt2spk")
    assert [line.split()[0] for line in out.stdout.splitlines()] == [
        k for k in keys(data_dir / "utt2spk") if k not in ("s1_u1", "s2_u1")
    ]
    out = tool("filter_scp.sh", "-f", "2", "-", data_dir / "utt2spk", stdin="s2\n")
    assert out.stdout.splitlines() == ["s2_u1 s2", "s2_u2 s2"]
    assert "Usage:" in tool("filter_scp.sh", tmp_path / "ids").stderr


def test_spk2utt_conversions_round_trip(tool, data_dir, tmp_path):
    utt2spk = tmp_path / "utt2spk"
    write(utt2spk, ["a1 zed", "b1 amy", "b2 zed", "c1 amy"])  # speakers not in utterance order
    out = tool("utt2spk_to_spk2utt.sh", utt2spk)
    assert out.stdout.splitlines() == ["amy b1 c1", "zed a1 b2"]
    back = tool("spk2utt_to_utt2spk.sh", stdin=out.stdout)
    assert back.stdout.splitlines() == rows(utt2spk)
    assert tool("utt2spk_to_spk2utt.sh", data_dir / "utt2spk", tmp_path / "s2u").returncode == 0
    assert rows(tmp_path / "s2u") == rows(data_dir / "spk2utt")


def test_copy_data_dir(tool, data_dir, tmp_path):
    tool("split_data.sh", data_dir, 2)
    dest = tmp_path / "dump dir" / "train"
    out = tool("copy_data_dir.sh", data_dir, dest)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in data_dir.iterdir() if p.is_file())
    assert (dest / "wav.scp").read_text() == (data_dir / "wav.scp").read_text()


@pytest.mark.parametrize(
    "name",
    [
        "split_scp.sh",
        "split_data.sh",
        "filter_scp.sh",
        "validate_data_dir.sh",
        "fix_data_dir.sh",
        "subset_data_dir.sh",
        "combine_data.sh",
        "copy_data_dir.sh",
        "run.pl",
        "slurm.pl",
        "ssh.pl",
    ],
)
def test_usage_on_bad_arguments(tool, name):
    out = tool(name, "--no-such-option")
    assert out.returncode != 0
    assert "Usage:" in out.stderr or "unknown option" in out.stderr


def test_shellcheck_clean(utils_dir):
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if not shellcheck.exists() and shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed")
    exe = str(shellcheck) if shellcheck.exists() else "shellcheck"
    scripts = sorted(str(p) for p in utils_dir.glob("*.sh"))
    # the tests' stand-in commands, and the Slurm settings every recipe links (shell assignments)
    scripts += sorted(str(p) for p in (Path(__file__).parent / "standins").iterdir())
    scripts.append(str(utils_dir.parent / "egs" / "TEMPLATE" / "conf" / "slurm.conf"))
    out = subprocess.run([exe, "-x", *scripts], capture_output=True, text=True, cwd=utils_dir.parent)
    assert out.returncode == 0, out.stdout


def test_large_inputs_do_not_die_on_early_closed_pipes(tool, tmp_path):
    """Regression: with pipefail, a reader that stops early (head, awk exit) killed the tools
    silently once the data outgrew a pipe buffer."""
    data = tmp_path / "big"
    data.mkdir()
    write(data / "utt2spk", [f"spk{i // 20:04d}_{i:06d} spk{i // 20:04d}" for i in range(30000)])
    out = tool("subset_data_dir.sh", "--random", "5", data, tmp_path / "few")
    assert out.returncode == 0, out.stderr
    assert len(rows(tmp_path / "few" / "utt2spk")) == 5
    out = tool("combine_data.sh", tmp_path / "both", data, data)
    assert out.returncode == 1
    assert "utterance spk0000_000000 is in both" in out.stderr
