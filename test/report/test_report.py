"""Scoring several experiments on real GRID audio into RESULTS.md and an HTML page that
headless Chromium renders with its tables, players and no broken links."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from lipsound2.bin import make_report, score
from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import write_table
from lipsound2.fileio.wav import write_wav
from lipsound2.frontend.decode import decode_audio
from lipsound2.frontend.mel import log_mel
from lipsound2.metrics.scoring import read_speech_tsv, write_speech_tsv
from lipsound2.vocoders.griffin_lim import GriffinLimVocoder

SENTENCES = {
    "bbaf2n": "BIN BLUE AT F TWO NOW",
    "lbax4n": "LAY BLUE AT X FOUR NOW",
    "pwij3p": "PLACE WHITE IN J THREE PLEASE",
}
CHROMIUM = "/usr/bin/chromium"
# decode dirs as the stage script names them: decode_<set>_<inference config>_<model file>
DECODE = "decode_test_inference_valid.loss.best"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


@pytest.fixture(scope="module")
def recipe(realdata, tmp_path_factory):
    """A recipe-shaped tree: dump/test, an oracle dir, two experiments, a real-audio ASR dir."""
    work = tmp_path_factory.mktemp("recipe dir")
    ref = work / "dump" / "test"
    wavs, texts, mels = {}, {}, {}
    for utt, sent in SENTENCES.items():
        wav = decode_audio(str(realdata / "GRID_rizkiarm_LipNet" / f"{utt}.mpg"))
        write_wav(ref / "wav" / f"{utt}.wav", wav, 16000)
        wavs[utt], texts[utt], mels[utt] = str(ref / "wav" / f"{utt}.wav"), sent, log_mel(wav)
    write_table(ref / "wav.scp", wavs)
    write_table(ref / "text", texts)
    gl = GriffinLimVocoder(n_iter=16)
    rng = np.random.default_rng(0)
    exps = {
        "oracle_test": 0.0,  # vocoded ground truth
        f"exp_a/{DECODE}": 0.8,  # a fairly good "generated" mel
        f"exp_b/{DECODE}": 3.0,  # a poor one
    }
    for name, noise in exps.items():
        d = work / name
        out = {}
        with ArkWriter(d / "feats.ark", d / "feats.scp") as writer:
            for utt, mel in mels.items():
                gen = (mel + rng.normal(0, noise, mel.shape)).astype(np.float32)
                writer[utt] = gen
                write_wav(d / "wav" / f"{utt}.wav", gl(gen), 16000)
                out[utt] = str(d / "wav" / f"{utt}.wav")
        write_table(d / "wav.scp", out)
    (work / "exp_a" / DECODE / "plots").mkdir()
    one_deletion = {**SENTENCES, "lbax4n": "LAY BLUE AT X FOUR"}
    one_substitution = {**SENTENCES, "pwij3p": "PLACE WHITE IN G THREE PLEASE"}
    hyp = {
        f"exp_a/{DECODE}/hyp/asr.txt": one_deletion,
        f"exp_a/{DECODE}/hyp/asr_lm.txt": SENTENCES,
        "real_test/hyp/asr.txt": one_substitution,
        "real_test/hyp/judge_whisper.txt": {**SENTENCES, "bbaf2n": "Bin blue at F2 now."},
        # pwij3p without a hypothesis: its 6 words count as deletions
        "real_test/hyp/judge_pocketsphinx.txt": {u: SENTENCES[u].lower() for u in ("bbaf2n", "lbax4n")},
    }
    for rel, table in hyp.items():
        write_table(work / rel, table)
    # what the stage scripts leave beside the hypotheses and scores: done markers, the model
    # a hypothesis came from; none of them is a hypothesis
    hyp_dir = work / "exp_a" / DECODE / "hyp"
    for name in (".done.asr", ".done.asr_lm", ".done.judge_whisper", ".started.judge_pocketsphinx"):
        (hyp_dir / name).write_text('{"key": {}}\n')
    (hyp_dir / "asr.txt.model").write_text("exp_a/asr_finetune 1764000000\n")
    return work


def test_scores_results_and_html_report(recipe, root, tmp_path, monkeypatch):
    monkeypatch.chdir(recipe)
    for d in ("oracle_test", f"exp_a/{DECODE}", f"exp_b/{DECODE}"):
        for job in (1, 2):
            out = f"{d}/scores/speech.{job}.tsv"
            args = ["--ref_wav_scp", "dump/test/wav.scp", "--hyp_wav_scp", f"{d}/wav.scp", "--out", out]
            assert score.main([*args, "--job_id", str(job), "--num_jobs", "2"]) == 0
        rows = {**read_speech_tsv(f"{d}/scores/speech.1.tsv"), **read_speech_tsv(f"{d}/scores/speech.2.tsv")}
        assert sorted(rows) == sorted(SENTENCES) and not any(r.error for r in rows.values())
        write_speech_tsv(f"{d}/scores/speech.tsv", rows)
        Path(f"{d}/scores/.done.speech").write_text('{"key": {}}\n')
    assert make_report.main(
        ["--test_set", "test=dump/test", "--exp", "Audio gold standard=real_{set}",
         "--exp", "Oracle (vocoded ground truth)=oracle_{set}",
         "--exp", "LipSound2 (pre-trained + fine-tuned)=exp_a/decode_{set}_inference_valid.loss.best",
         "--exp", "LipSound2 (blank video)=exp_b/decode_{set}_inference_valid.loss.best",
         "--results", "RESULTS.md",
         "--html", "exp_a/report/index.html", "--title", "exp_a",
         "--vocoder_type", "griffin_lim",
         "--inference_config", str(root / "egs" / "TEMPLATE" / "conf" / "inference.yaml")]
    ) == 0  # fmt: skip
    md = (recipe / "RESULTS.md").read_text()
    assert "## Environment" in md and "git hash" in md and "espnet version" in md
    table = re.search(r"## Speech reconstruction[^\n]*\n\n((?:\|[^\n]*\n)+)", md).group(1)
    estoi = {line.split("|")[1].strip(): float(line.split("|")[2]) for line in table.splitlines()[2:]}
    assert (
        estoi["Oracle (vocoded ground truth)"]
        > estoi["LipSound2 (pre-trained + fine-tuned)"]
        > estoi["LipSound2 (blank video)"]
    )
    assert "Audio gold standard" not in estoi  # no speech of its own
    assert "| Audio gold standard | 5.56 |" in md  # 1 error in 18 words
    assert (
        "| LipSound2 (pre-trained + fine-tuned) | 5.56 |" in md
        and "| LipSound2 (pre-trained + fine-tuned) + LM | 0.00 |" in md
    )
    assert (recipe / f"exp_a/{DECODE}/scores/asr_wer.tsv").read_text().count("\n") == 4
    # the hypotheses only: no table of a done marker or of the model a hypothesis came from
    assert sorted(p.name for p in (recipe / f"exp_a/{DECODE}/scores").glob("*_wer.tsv")) == [
        "asr_lm_wer.tsv",
        "asr_wer.tsv",
    ]
    assert "| Inference precision | int8 Linear weights | fp32 |" in md
    # a table per judge, named by its judge, with hypotheses / expected in every cell
    judges = re.findall(r"## Independent judge: ([^\n]*)\n\n(?:\|[^\n]*\n){2}(\|[^\n]*)\n", md)
    assert [(title.split(" (")[0], row) for title, row in judges] == [
        ("Whisper tiny.en", "| Audio gold standard | 0.00 | 3/3 |"),  # 'F2' normalised to 'F TWO'
        ("PocketSphinx en-us, generic trigram LM", "| Audio gold standard | 33.33 | 2/3 |"),
    ]

    page = recipe / "exp_a" / "report" / "index.html"
    parser = Links()
    parser.feed(page.read_text())
    assert parser.links, "no links at all"
    for link in parser.links:
        assert not re.match(r"^[a-z]+:", link) and not link.startswith("/"), f"not relative: {link}"
        assert (page.parent / unquote(link)).is_file(), f"broken link {link}"
    assert parser.tags["audio"] == 3 * 4  # original, oracle and two experiments for 3 utterances

    profile = tmp_path / "chromium profile"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert dom.count("<table") >= 5
    assert "Speech reconstruction" in dom and "Cascaded lip reading" in dom and "Independent judge" in dom
    assert "Differences from the paper" in dom and "Inference precision" in dom
    assert dom.count("<audio") == 12 and dom.count("<img") == 3
