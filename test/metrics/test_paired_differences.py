"""Paired row-minus-baseline differences with known answers, on tiny generated eval dirs."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from lipsound2.bin import paired_differences
from lipsound2.fileio.table import write_table
from lipsound2.metrics.scoring import SpeechRow, write_speech_tsv

REFS = {"u1": "a b c", "u2": "d e f", "u3": "g h i", "u4": "j k l", "u5": "m n o"}


def _eval_dir(root, name, estoi, judges):
    """``root/name`` with speech scores (``None``: failed) and ``hyp/<judge>.txt`` tables."""
    d = root / name
    (d / "scores").mkdir(parents=True)
    rows = {
        k: SpeechRow(error="no generated audio")
        if v is None
        else SpeechRow(scores={"pesq_nb": 2.0 + v, "pesq_wb": 2.0, "stoi": 0.5, "estoi": v})
        for k, v in estoi.items()
    }
    write_speech_tsv(d / "scores" / "speech.tsv", rows)
    (d / "hyp").mkdir()
    for judge, hyps in judges.items():
        write_table(d / "hyp" / f"{judge}.txt", hyps)
    return d


@pytest.fixture
def rows(tmp_path):
    write_table(tmp_path / "text", REFS)
    base = _eval_dir(
        tmp_path,
        "base",
        {"u1": 0.5, "u2": 0.6, "u3": 0.7, "u4": 0.4},
        {
            # 0 + 1 substitution + 1 deletion over u1-u3's 9 words: 22.2 %
            "judge_whisper": {"u1": "a b c", "u2": "d x f", "u3": "g h", "u4": "j k l"},
            "judge_pocketsphinx": {"u1": "a b c", "u2": "d e f", "u3": "g h i"},
            "asr": {"u1": "a b c"},  # no judge: not compared
        },
    )
    row = _eval_dir(
        tmp_path,
        "row",
        {"u1": 0.6, "u2": 0.8, "u3": 0.7, "u4": None},  # u4 failed, u5 in neither
        {
            # u3 missing: 3 deletions, 3 errors over 9 words: 33.3 %
            "judge_whisper": {"u1": "a b c", "u2": "d e f", "u4": "j k l"},
            # one substitution in every utterance: +33.3 % in every resample
            "judge_pocketsphinx": {"u1": "a b x", "u2": "d e x", "u3": "g h x"},
        },
    )
    return tmp_path / "text", base, row


def test_differences_of_shared_utterances_with_their_intervals(rows):
    ref_text, base_dir, row_dir = rows
    base = paired_differences.load_eval_dir("GL", base_dir)
    row = paired_differences.load_eval_dir("HiFi", row_dir)
    assert set(base.judges) == {"whisper", "pocketsphinx"}
    c = paired_differences.compare(base, row, dict(REFS), "wer", resamples=2000, seed=0)

    assert c.shared == ["u1", "u2", "u3"]
    assert c.left_out == {"u4": "HiFi: no generated audio", "u5": "GL: no row; HiFi: no row"}
    # ESTOI differences 0.1, 0.2, 0.0: mean 0.1, sd 0.1, t(0.975, 2 df) = 4.3027: 4.3027 * 0.1 / sqrt(3)
    assert c.speech["estoi"] == pytest.approx((0.1, 0.24842), abs=1e-4)
    assert c.speech["pesq_nb"] == pytest.approx((0.1, 0.24842), abs=1e-4)  # the NB column

    whisper = c.text["whisper"]
    assert (whisper.base, whisper.row, whisper.diff) == pytest.approx((200 / 9, 300 / 9, 100 / 9))
    # per utterance 0, -1, +2 errors of 3 words: resamples lie between all-u2 and all-u3
    assert -100 / 3 <= whisper.low < whisper.diff < whisper.high <= 200 / 3
    sphinx = c.text["pocketsphinx"]
    assert (sphinx.base, sphinx.row) == pytest.approx((0.0, 100 / 3))
    assert (sphinx.low, sphinx.high) == pytest.approx((100 / 3, 100 / 3))  # the same difference everywhere
    again = paired_differences.compare(base, row, dict(REFS), "wer", resamples=2000, seed=0)
    assert again.text == c.text  # a fixed seed: the same intervals


def test_table_printed_and_written(rows, tmp_path, capsys):
    ref_text, base_dir, row_dir = rows
    out = tmp_path / "paired.md"
    argv = ["--ref_text", str(ref_text), "--row", f"GL={base_dir}", "--row", f"HiFi={row_dir}"]
    assert paired_differences.main([*argv, "--baseline", "GL", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == table
    lines = table.splitlines()
    assert lines[2].startswith("| Row | n shared | ΔESTOI | ΔPESQ-NB | whisper WER (%) base -> row |")
    whisper_diff = lines[4].split(" | ")[5]  # the bootstrap interval, bounded in the test above
    assert whisper_diff.startswith("+11.1 [")
    assert lines[4] == (
        "| HiFi | 3 | +0.100 ± 0.248 | +0.100 ± 0.248 "
        f"| 22.2 -> 33.3 | {whisper_diff} | 0.0 -> 33.3 | +33.3 [+33.3, +33.3] |"
    )
    assert "HiFi vs GL, left out (2): u4 (HiFi: no generated audio), u5 (GL: no row; HiFi: no row)" in table


def test_bad_arguments_are_refused_by_name(rows, tmp_path):
    ref_text, base_dir, row_dir = rows
    argv = ["--ref_text", str(ref_text), "--row", f"GL={base_dir}", "--row", f"HiFi={row_dir}"]
    with pytest.raises(SystemExit, match="unknown baseline 'WaveNet'; the rows are GL, HiFi"):
        paired_differences.main([*argv, "--baseline", "WaveNet"])
    with pytest.raises(SystemExit, match=f"row Gone: no eval dir {tmp_path / 'gone'}"):
        paired_differences.main([*argv, "--row", f"Gone={tmp_path / 'gone'}", "--baseline", "GL"])
    (row_dir / "scores" / "speech.tsv").unlink()
    run = subprocess.run(
        [sys.executable, "-m", "lipsound2.bin.paired_differences", *argv, "--baseline", "GL"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert str(row_dir / "scores" / "speech.tsv") in run.stderr


def test_one_shared_utterance_has_no_interval(rows):
    ref_text, base_dir, row_dir = rows
    base = paired_differences.load_eval_dir("GL", base_dir)
    row = paired_differences.load_eval_dir("HiFi", row_dir)
    c = paired_differences.compare(base, row, {"u1": REFS["u1"]}, "wer", resamples=100, seed=0)
    assert c.shared == ["u1"]
    assert "u2" in c.left_out and c.left_out["u2"] == "not in the reference text"
    assert math.isnan(c.speech["estoi"][1]) and math.isnan(c.text["whisper"].low)


def test_a_row_with_no_utterance_in_common_gets_no_rates(tmp_path, capsys):
    """All of a row's utterances failed: nothing is paired, so no judge rate stands in the table
    (not a 0 % that was never measured)."""
    write_table(tmp_path / "text", REFS)
    hyps = {"judge_whisper": {"u1": "a b c", "u2": "d e f"}}
    _eval_dir(tmp_path, "base", {"u1": 0.5, "u2": 0.6}, hyps)
    _eval_dir(tmp_path, "failed", {"u1": None, "u2": None}, hyps)
    argv = ["--ref_text", str(tmp_path / "text"), "--baseline", "B",
            "--row", f"B={tmp_path / 'base'}", "--row", f"F={tmp_path / 'failed'}"]  # fmt: skip
    assert paired_differences.main(argv) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("| F |"))
    assert line == "| F | 0 | - ± - | - ± - |"
    with pytest.raises(SystemExit, match="--resamples must be at least 1"):
        paired_differences.main([*argv, "--resamples", "0"])
