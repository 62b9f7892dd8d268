"""Set-level scores with known answers: nothing the test set holds is silently left out."""

from __future__ import annotations

import math
import os

import pytest

from lipsound2.bin import score
from lipsound2.corpus.datadir import REJECTED_TEXT
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav, write_wav
from lipsound2.metrics.scoring import (
    SpeechRow,
    read_speech_tsv,
    score_text,
    summarize_speech,
    write_speech_tsv,
)
from lipsound2.recipe.marker import StepKey, mark
from lipsound2.report.results import speech_scores_of

CLIPS = ("00002", "00008", "00022")  # real LRS2 speech, 1.5 to 3.3 s


def test_missing_hypothesis_counts_as_all_deletions(tmp_path):
    refs = {"a": "BIN BLUE AT F TWO NOW", "b": "LAY BLUE AT X FOUR NOW", "c": "SET RED"}
    write_table(tmp_path / "text", refs)
    write_table(tmp_path / "hyp.txt", {"a": "BIN BLUE AT F TWO NOW", "b": "LAY BLUE AT X FIVE NOW"})
    res = score_text(tmp_path / "text", tmp_path / "hyp.txt", "wer", tmp_path / "wer.tsv")
    # 1 substitution in b, 2 deletions for the missing c, over 6 + 6 + 2 reference words
    assert res["rate"] == pytest.approx(100 * 3 / 14)
    assert (res["n"], res["expected"], res["missing"]) == (2, 3, 1)
    lines = (tmp_path / "wer.tsv").read_text().splitlines()
    assert len(lines) == 4
    assert lines[3].split("\t")[:7] == ["c", "0", "2", "0", "2", "100.00", "missing"]


@pytest.fixture
def eval_dir(realdata, tmp_path):
    """A test set of three real clips, and generated audio for it: one exact, one cut to 60 %
    of its length (an early stop), one missing from wav.scp."""
    refs, gens = {}, {}
    for utt in CLIPS:
        refs[utt] = str(realdata / "LRS2_smeetrs_deep_avsr" / f"{utt}.wav")
    wav = read_wav(refs["00002"], 16000)
    write_wav(tmp_path / "gen dir" / "wav" / "00002.wav", wav, 16000)
    wav = read_wav(refs["00008"], 16000)
    write_wav(tmp_path / "gen dir" / "wav" / "00008.wav", wav[: int(0.6 * len(wav))], 16000)
    gens = {utt: str(tmp_path / "gen dir" / "wav" / f"{utt}.wav") for utt in ("00002", "00008")}
    write_table(tmp_path / "ref" / "wav.scp", refs)
    write_table(tmp_path / "gen dir" / "wav.scp", gens)
    return tmp_path / "ref" / "wav.scp", tmp_path / "gen dir"


def test_missing_wav_fails_and_short_wav_is_flagged(eval_dir, caplog):
    ref_scp, gen = eval_dir
    gen_scp = gen / "wav.scp"
    for job in (1, 2):
        args = [
            "--ref_wav_scp",
            str(ref_scp),
            "--hyp_wav_scp",
            str(gen_scp),
            "--out",
            str(gen / f"s.{job}.tsv"),
        ]
        assert score.main([*args, "--job_id", str(job), "--num_jobs", "2"]) == 0
    rows = {**read_speech_tsv(gen / "s.1.tsv"), **read_speech_tsv(gen / "s.2.tsv")}
    assert sorted(rows) == sorted(CLIPS)
    assert "no generated audio" in rows["00022"].error and not rows["00022"].scores
    assert "00022" in caplog.text
    assert rows["00008"].duration_ratio == pytest.approx(0.6, abs=1e-3)
    assert rows["00002"].duration_ratio == pytest.approx(1.0)
    summary = summarize_speech(rows, read_table(ref_scp))
    assert (summary["n"], summary["expected"], summary["failed"]) == (2, 3, 1)
    assert summary["duration_off"] == 1  # 00008 at 60 %
    assert summary["duration_ratio"] == pytest.approx(0.8, abs=1e-3)  # median of 1.0 and 0.6
    assert summary["estoi"] > 0.9  # the metrics alone, cut to the common length, see nothing wrong

    # a test-set utterance with no row at all (a job's output lost) is failed too
    del rows["00002"]
    write_speech_tsv(gen / "scores" / "speech.tsv", rows)
    assert summarize_speech(read_speech_tsv(gen / "scores" / "speech.tsv"), read_table(ref_scp))["n"] == 1


def test_scores_of_other_audio_are_refused(tmp_path):
    """Stage 8's marker of the scores records the audio they came from: re-vocoded audio
    under the same paths (or another wav.scp) is not reported with the old scores."""
    ref = tmp_path / "ref"
    write_table(ref / "wav.scp", {"u": str(tmp_path / "r.wav")})
    d = tmp_path / "decode"
    (tmp_path / "g.wav").write_bytes(b"one")
    write_table(d / "wav.scp", {"u": str(tmp_path / "g.wav")})
    (d / "scores").mkdir()
    (d / "scores" / "speech.tsv").write_text("utt\tpesq_nb\tpesq_wb\tstoi\testoi\nu\t2\t2\t0.5\t0.5\n")
    mark(d / "scores", "speech", StepKey(tables=[str(ref / "wav.scp"), str(d / "wav.scp")]).build())
    assert speech_scores_of(d, ref)["n"] == 1
    (tmp_path / "g.wav").write_bytes(b"two")  # vocoded again, same path and size
    st = (tmp_path / "g.wav").stat()
    os.utime(tmp_path / "g.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with pytest.raises(ValueError, match="score it again"):
        speech_scores_of(d, ref)


def test_speech_means_carry_their_95_percent_confidence_interval():
    scores = {"pesq_nb": 2.0, "pesq_wb": 2.0, "stoi": 0.5}
    rows = {f"u{i}": SpeechRow(scores={**scores, "estoi": v}) for i, v in enumerate([0.1, 0.2, 0.3, 0.4])}
    rows["u4"] = SpeechRow(error="no generated audio")  # failed: not in the mean, nor in the interval
    summary = summarize_speech(rows)
    # mean 0.25, sample standard deviation 0.1291, t(0.975, 3 df) = 3.1824: 3.1824 * 0.1291 / 2
    assert summary["estoi"] == pytest.approx(0.25)
    assert summary["estoi_ci"] == pytest.approx(0.2054, abs=1e-4)
    assert summary["stoi_ci"] == 0.0  # every utterance alike
    assert math.isnan(summarize_speech({"u0": rows["u0"]})["estoi_ci"])  # one utterance: no interval


def test_utterances_the_front_end_rejected_count_as_failed(tmp_path):
    """An utterance stage 1 or 2 rejected (``rejects``, its transcript in ``text.rejected``) is
    still expected: failed in the speech scores, all deletions in a WER."""
    ref = tmp_path / "dump"
    write_table(ref / "wav.scp", {"u": str(tmp_path / "r.wav")})
    write_table(ref / "text", {"u": "place blue"})
    write_table(ref / "rejects", {"bad": "unreadable media (bad.mpg)"})
    write_table(ref / REJECTED_TEXT, {"bad": "set red now"})
    d = tmp_path / "decode"
    write_table(d / "wav.scp", {"u": str(tmp_path / "g.wav")})
    (d / "scores").mkdir()
    (d / "scores" / "speech.tsv").write_text("utt\tpesq_nb\tpesq_wb\tstoi\testoi\nu\t2\t2\t0.5\t0.5\n")
    summary = speech_scores_of(d, ref)
    assert (summary["n"], summary["expected"], summary["failed"]) == (1, 2, 1)
    write_table(d / "hyp.txt", {"u": "place blue"})
    text = score_text(ref / "text", d / "hyp.txt", "wer", rejected={"bad": "set red now"})
    assert (text["n"], text["expected"], text["missing"]) == (1, 2, 1)
    assert text["rate"] == pytest.approx(100 * 3 / 5)  # the 3 words of the rejected one deleted
