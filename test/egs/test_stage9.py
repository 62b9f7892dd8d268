"""Stage 9 of the shared stage script: the experiment's model packed into one zip that
``Video2Speech.from_pretrained`` runs, with the experiment's settings and results, packed
again when they change."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import numpy as np
import torch
import yaml
from espnet2.layers.global_mvn import GlobalMVN

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.inference import Video2Speech
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2_testing.recipe_dir import write_data_settings

RESULTS = "### Speech reconstruction\n\n| Model | test_sd ESTOI |\n|---|---|\n| LipSound2 | 0.321 |\n"


def _stage9(recipe: Path) -> subprocess.CompletedProcess:
    cmd = ["./lipsound2.sh", "--stage", "9", "--stop_stage", "9", "--protocol", "sd"]
    res = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return res


def test_stage9_packs_the_model_with_the_recipes_settings(recipe, root):
    template = root / "egs" / "TEMPLATE" / "conf"
    (recipe / "conf").mkdir()
    for name, source in [
        ("frontend", "frontend"),
        ("inference", "inference"),
        ("vocoder", "vocoder_hifigan_cpu"),
    ]:
        (recipe / "conf" / f"{name}.yaml").symlink_to(template / f"{source}.yaml")
    # an untrained model of the CPU config, normalising its mel as stage 4 does by default,
    # with the front-end settings of its training data, as training copies them
    exp = recipe / "exp" / "lipsound2_train"
    exp.mkdir(parents=True)
    write_data_settings(exp, template / "frontend.yaml")
    np.savez(
        exp / "feats_stats.npz", count=np.array(100), sum=np.full(80, -500.0), sum_square=np.full(80, 2600.0)
    )
    model_conf = load_yaml(template / "train_cpu.yaml")["model_conf"]
    model = LipSound2(**model_conf, normalize=GlobalMVN(exp / "feats_stats.npz"))
    torch.save(model.state_dict(), exp / "valid.loss.best.pth")
    normalize = {"normalize": "global_mvn", "normalize_conf": {"stats_file": str(exp / "feats_stats.npz")}}
    (exp / "config.yaml").write_text(yaml.safe_dump({"model_conf": model_conf, **normalize}))
    (exp / "RESULTS.md").write_text(RESULTS)

    _stage9(recipe)
    pack = exp / "lipsound2_train_valid.loss.best.zip"
    v2s = Video2Speech.from_pretrained(pack)
    assert v2s.meta["corpus"] == "my recipe" and v2s.meta["protocol"] == "sd"
    assert {"feats_stats.npz", "inference.yaml", "RESULTS.md"} <= set(v2s.meta["sha256"])
    speech = v2s(np.full((10, 112, 112), 128, np.uint8))
    assert speech.rate == 16000 and len(speech.wav) == (len(speech.mel) - 1) * 256 > 0
    # done: a second run leaves the pack alone
    stamp = pack.stat().st_mtime_ns
    assert f"Stage 9: exp/lipsound2_train/{pack.name}: done" in _stage9(recipe).stderr
    assert pack.stat().st_mtime_ns == stamp
    # new results: packed again, and the model card has them
    (exp / "RESULTS.md").write_text(RESULTS.replace("0.321", "0.345"))
    res = _stage9(recipe)
    assert f"Stage 9: exp/lipsound2_train/{pack.name}: redo, since" in res.stderr
    assert "file exp/lipsound2_train/RESULTS.md: " in res.stderr
    assert pack.stat().st_mtime_ns != stamp
    with zipfile.ZipFile(pack) as zf:
        packed = next(n for n in zf.namelist() if n.endswith("RESULTS.md"))
        assert "0.345" in zf.read(packed).decode()
