"""Stage 8 of the shared stage script on real speech: counts in every cell, and results that
follow new hypotheses and new audio instead of a stale done marker."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from lipsound2 import paper
from lipsound2.fileio.table import write_table
from lipsound2.fileio.wav import read_wav, write_wav
from lipsound2_testing.recipe_dir import INFERENCE_TAG

CLIPS = ("00002", "00008", "00022")  # real LRS2 speech, 1.5 to 3.3 s


def _stage8(recipe: Path, *args: str, lang: str = "zh", check: bool = True) -> subprocess.CompletedProcess:
    # zh (the default here): CER, and no judge (both are English only), which keeps the run short
    cmd = ["./lipsound2.sh", "--stage", "8", "--stop_stage", "8", "--test_sets", "test", "--lang", lang]
    res = subprocess.run([*cmd, "--nj", "2", *args], cwd=recipe, capture_output=True, text=True, timeout=600)
    assert not check or res.returncode == 0, res.stderr[-4000:]
    return res


def _decode_dir(recipe: Path) -> Path:
    """The test set's decode dir of the experiment stage 8 reports (default inference tag)."""
    return recipe / "exp" / "lipsound2_train" / f"decode_test_{INFERENCE_TAG}"


def _row(md: str, title: str, label: str) -> list[str]:
    section = md.split(f"## {title}")[1].split("\n## ")[0]
    line = next(x for x in section.splitlines() if x.startswith(f"| {label} |"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def real_test_set(recipe: Path, realdata: Path) -> tuple[Path, dict[str, str]]:
    """The recipe's test set made of real LRS2 clips: their audio and transcripts."""
    src = realdata / "LRS2_smeetrs_deep_avsr"
    texts = {u: re.search(r"Text:\s*(.*)", (src / f"{u}.txt").read_text()).group(1).strip() for u in CLIPS}
    write_table(recipe / "dump" / "test" / "wav.scp", {u: str(src / f"{u}.wav") for u in CLIPS})
    write_table(recipe / "dump" / "test" / "text", texts)
    return src, texts


def test_stage8_counts_every_utterance_and_is_never_stale(recipe, realdata):
    src, texts = real_test_set(recipe, realdata)
    decode = _decode_dir(recipe)
    wavs = {u: read_wav(src / f"{u}.wav", 16000) for u in CLIPS}
    # stages 5-7 as a first run left them: 00022 failed to vocode, 00008 stopped at 60 %
    write_wav(decode / "wav" / "00002.wav", wavs["00002"], 16000)
    write_wav(decode / "wav" / "00008.wav", wavs["00008"][: int(0.6 * len(wavs["00008"]))], 16000)
    write_table(decode / "wav.scp", {u: str(decode / "wav" / f"{u}.wav") for u in ("00002", "00008")})
    write_table(decode / "hyp" / "asr.txt", {u: texts[u] for u in ("00002", "00008")})

    _stage8(recipe)
    results = recipe / "exp" / "lipsound2_train" / "RESULTS.md"
    md = results.read_text()
    speech = _row(md, "Speech reconstruction", "LipSound2")
    assert speech[4:] == ["2/3", "1"]  # scored / expected, one length off by more than 20 %
    assert speech[1].startswith("±") and speech[3].startswith("±")  # 95 % CIs of ESTOI and PESQ
    chars = {u: len(t.replace(" ", "")) for u, t in texts.items()}
    cer = 100 * chars["00022"] / sum(chars.values())  # the missing hypothesis: all deletions
    assert _row(md, "Cascaded lip reading", "LipSound2") == [f"{cer:.2f}", "2/3"]
    assert "## Differences from the paper" in md
    assert _row(md, "Differences from the paper", "Vocoder")[0].startswith("Griffin-Lim")
    assert "Differences from the paper" in (results.parent / "report" / "index.html").read_text()

    # a second stage 7 and re-vocoding: new hypotheses, 00022 vocoded, 00008 whole under its old path
    write_wav(decode / "wav" / "00008.wav", wavs["00008"], 16000)
    write_wav(decode / "wav" / "00022.wav", wavs["00022"], 16000)
    write_table(decode / "wav.scp", {u: str(decode / "wav" / f"{u}.wav") for u in CLIPS})
    write_table(decode / "hyp" / "asr.txt", texts)
    _stage8(recipe)
    md = results.read_text()
    assert _row(md, "Speech reconstruction", "LipSound2")[4:] == ["3/3", "0"]
    assert _row(md, "Cascaded lip reading", "LipSound2") == ["0.00", "3/3"]

    # unchanged inputs: the speech scores and the tables are reused
    score_log = decode / "log" / "score.1.log"
    before, tables = score_log.stat().st_mtime_ns, results.stat().st_mtime_ns
    res = _stage8(recipe)
    assert score_log.stat().st_mtime_ns == before and results.stat().st_mtime_ns == tables
    assert "Stage 8: exp/lipsound2_train/RESULTS.md: done" in res.stderr
    assert f"Stage 8: exp/lipsound2_train/{decode.name}/scores: done" in res.stderr
    assert "Results:" in res.stderr and results.read_text().count("3/3") >= 2

    # another row ({decode}: the decode dir of the inference tag): the tables are made again,
    # with the scores of the dirs already scored
    res = _stage8(recipe, "--score_extra_exps", "The same dir=exp/lipsound2_train/{decode}")
    assert "Stage 8: exp/lipsound2_train/RESULTS.md: redo, since" in res.stderr
    assert score_log.stat().st_mtime_ns == before
    md = results.read_text()
    assert _row(md, "Speech reconstruction", "The same dir") == _row(md, "Speech reconstruction", "LipSound2")
    assert _row(md, "Cascaded lip reading", "The same dir") == ["0.00", "3/3"]


def test_stage8_refuses_real_audio_rows_of_another_experiments_asr(recipe, realdata):
    """exp/real_asr_trained_<set> is shared: rows of another cascade's base ASR never pass as this one's."""
    src, texts = real_test_set(recipe, realdata)
    exp = recipe / "exp" / "lipsound2_train"
    decode = _decode_dir(recipe)
    for u in CLIPS:
        write_wav(decode / "wav" / f"{u}.wav", read_wav(src / f"{u}.wav", 16000), 16000)
    write_table(decode / "wav.scp", {u: str(decode / "wav" / f"{u}.wav") for u in CLIPS})
    real = recipe / "exp" / "real_asr_trained_test" / "hyp" / "asr.txt"
    write_table(real, texts)
    base = exp / f"asr_finetune_{INFERENCE_TAG}" / "base_model"
    base.parent.mkdir(parents=True)
    base.write_text("exp/asr_scratch_asr_char 2026-11-27T04:26:20\n")
    Path(f"{real}.model").write_text("exp/asr_scratch_asr_word 2026-11-27T04:27:01\n")
    res = _stage8(recipe, check=False)
    assert res.returncode != 0
    last = res.stderr.splitlines()[-1]
    assert "exp/real_asr_trained_test/hyp/asr.txt" in last and "exp/asr_scratch_asr_word" in last
    assert "run its stage 7 again" in last
    assert not (exp / "RESULTS.md").exists()
    # stage 7 of this experiment again: the same base ASR, and the row is reported
    Path(f"{real}.model").write_text(base.read_text())
    _stage8(recipe)
    md = (exp / "RESULTS.md").read_text()
    label = "Real audio, ASR trained on this corpus (paper row: + fine-tuning)"
    assert _row(md, "Cascaded lip reading", label) == ["0.00", "3/3"]


JUDGE_TITLES = {
    "whisper": "Independent judge: Whisper tiny.en",
    "pocketsphinx": "Independent judge: PocketSphinx",
}


def test_stage8_both_judges_count_every_utterance_and_are_cached_by_name(recipe, realdata):
    src, texts = real_test_set(recipe, realdata)
    decode = _decode_dir(recipe)
    # the generated speech: the real audio of 00002 and 00008, none for 00022
    for u in ("00002", "00008"):
        write_wav(decode / "wav" / f"{u}.wav", read_wav(src / f"{u}.wav", 16000), 16000)
    write_table(decode / "wav.scp", {u: str(decode / "wav" / f"{u}.wav") for u in ("00002", "00008")})

    res = _stage8(recipe, "--judges", "whisper sphinx", lang="en", check=False)
    assert res.returncode != 0 and "--judges takes whisper, pocketsphinx or none; got 'sphinx'" in res.stderr

    _stage8(recipe, lang="en")
    md = (recipe / "exp" / "lipsound2_train" / "RESULTS.md").read_text()
    words = {u: len(t.split()) for u, t in texts.items()}
    for judge, title in JUDGE_TITLES.items():
        gold_tsv = recipe / "exp" / "real_test" / "scores" / f"judge_{judge}_wer.tsv"
        gold = gold_tsv.read_text().splitlines()[1:]
        errors = {c[0]: sum(map(int, c[1:4])) for c in (line.split("\t") for line in gold)}
        gold_wer = 100 * sum(errors.values()) / sum(words.values())
        assert _row(md, title, "Audio gold standard") == [f"{gold_wer:.2f}", "3/3"]
        # the same audio gives the same hypotheses; the missing one counts as all deletions
        wer = 100 * (errors["00002"] + errors["00008"] + words["00022"]) / sum(words.values())
        assert _row(md, title, "LipSound2") == [f"{wer:.2f}", "2/3"], judge
    hyp = {j: decode / "hyp" / f"judge_{j}.txt" for j in JUDGE_TITLES}
    assert "00022" not in hyp["pocketsphinx"].read_text()

    # unchanged audio: both judges' hypotheses reused; new audio under the same path: judged anew
    before = {j: p.stat().st_mtime_ns for j, p in hyp.items()}
    gold_before = (recipe / "exp" / "real_test" / "hyp" / "judge_pocketsphinx.txt").stat().st_mtime_ns
    write_wav(decode / "wav" / "00008.wav", read_wav(src / "00002.wav", 16000), 16000)
    res = _stage8(recipe, "--judges", "pocketsphinx", lang="en")
    assert f"{decode.name}/hyp/judge_pocketsphinx.txt: redo, since" in res.stderr
    assert (decode / "hyp" / ".done.judge_pocketsphinx").is_file()
    assert hyp["whisper"].stat().st_mtime_ns == before["whisper"]  # not asked for this time
    assert hyp["pocketsphinx"].stat().st_mtime_ns != before["pocketsphinx"]
    assert (recipe / "exp" / "real_test" / "hyp" / "judge_pocketsphinx.txt").stat().st_mtime_ns == gold_before
    hyps = dict(line.split(" ", 1) for line in hyp["pocketsphinx"].read_text().splitlines())
    assert hyps["00008"] == hyps["00002"]


def test_paper_settings_switch_selects_the_paper_configs(recipe, root):
    res = subprocess.run(
        ["./lipsound2.sh", "--paper_settings", "true", "--stage", "9", "--stop_stage", "8"],
        cwd=recipe,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    # the options it replaces, from the paper's constants (lipsound2.paper), logged as set
    line = next(x for x in res.stderr.splitlines() if "Paper settings: " in x and "=" in x)
    conf = root / "egs" / "TEMPLATE" / "conf"
    assert f"train_config={(conf / 'train_paper.yaml').resolve()} " in line
    assert f"inference_config={(conf / 'inference_paper.yaml').resolve()} " in line
    for option in (
        f"feats_normalize={paper.FEATS_NORMALIZE}",
        f"vocoder_type={paper.VOCODER_STAND_IN}",
        f"ngram_order={paper.NGRAM_ORDER}",
        f"asr_lr_factor={paper.ASR_LR_FACTOR}",
    ):
        assert option in line
    assert "give --asr_pretrained_model" in res.stderr
