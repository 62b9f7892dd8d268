"""Stage 6 with --vocoder_type hifigan_units through the stage script: it trains the mel + units
HiFi-GAN on the training set's audio and units, and vocodes a decode dir and the oracle with the
units beside their feats.scp; without units it stops and says where they come from. With a
speaker section it embeds the training audio once and vocodes with the speakers' means. Its
done markers follow the vocoder's checkpoint and its training audio's speakers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
import yaml

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.decode import decode_audio
from lipsound2.vocoders.hifigan_units import HiFiGANUnitsVocoder
from lipsound2.vocoders.speaker import load_embeddings
from lipsound2_testing.recipe_dir import INFERENCE_TAG, audio_set, tone_set

TINY = {
    "generator_params": {
        "channels": 16,
        "upsample_scales": [8, 8, 2, 2],
        "upsample_kernel_sizes": [16, 16, 4, 4],
        "resblock_kernel_sizes": [3],
        "resblock_dilations": [[1]],
    },
    "discriminator_params": {"scales": 1, "periods": [2]},
    "units": {"dim": 8},
    "augment": {"blur_time": 1.0, "blur_freq": 1.0, "noise_std": 0.2},
    "train": {
        "steps": 2,
        "batch_size": 2,
        "segment_frames": 16,
        "log_interval": 1,
        "discriminator_start_step": 2,
    },
}


def _run(recipe: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["./lipsound2.sh", "--train_set", "train", "--valid_set", "train", "--test_sets", "test"]
    cmd += [
        "--frontend_config",
        str(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"),
        "--inference_nj",
        "2",
    ]
    return subprocess.run([*cmd, *args], cwd=recipe, capture_output=True, text=True, timeout=300)


def _decode_dir(recipe: Path, dset: str) -> Path:
    """A decode dir as stage 5 leaves it for a model with a unit head: feats.scp and units.scp
    side by side (here the set's own), and the front-end settings of the mel."""
    decode = recipe / "exp" / "lipsound2_train" / f"decode_{dset}_{INFERENCE_TAG}"
    for name in ("feats.scp", "units.scp"):
        write_table(decode / name, read_table(recipe / "dump" / dset / name))
    shutil.copy(recipe / "dump" / dset / "frontend.yaml", decode / "frontend.yaml")
    return decode


def test_stage6_trains_and_vocodes_with_units(recipe, root):
    dump = recipe / "dump"
    tone_set(dump / "train", 3, 0)
    tone_set(dump / "test", 2, 1)
    (recipe / "conf").mkdir()
    (recipe / "conf" / "tiny units.yaml").write_text(yaml.safe_dump(TINY))
    stage6 = ["--stage", "6", "--stop_stage", "6", "--vocoder_type", "hifigan_units"]
    stage6 += ["--vocoder_config", "conf/tiny units.yaml"]

    res = _run(recipe, root, *stage6)  # no units yet
    assert res.returncode != 0
    assert (
        "dump/train/units.scp" in res.stderr.splitlines()[-1] and "--unit_type" in res.stderr.splitlines()[-1]
    )
    assert not (recipe / "exp" / "vocoder_units_tiny units" / "vocoder.pth").exists()

    res = _run(recipe, root, "--stage", "2", "--stop_stage", "2", "--unit_type", "logmel", "--unit_k", "4")
    assert res.returncode == 0, res.stderr[-3000:]
    decode = _decode_dir(recipe, "test")

    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    state = torch.load(recipe / "exp" / "vocoder_units_tiny units" / "vocoder.pth", weights_only=True)
    assert state["units"] == {"k": 4, "dim": 8} and state["steps"] == 2
    frames = {k: int(v) for k, v in read_table(dump / "test" / "utt2num_frames").items()}
    for out in (decode, recipe / "exp" / "lipsound2_train" / "oracle_test"):
        wavs = read_table(out / "wav.scp")
        assert set(wavs) == set(frames)
        assert all(len(read_wav(recipe / wavs[k], 16000)) == (frames[k] - 1) * 256 for k in frames)

    res = _run(recipe, root, *stage6)  # done: neither trained nor vocoded again
    assert res.returncode == 0 and "Training the vocoder" not in res.stderr and "Vocoding" not in res.stderr
    assert "(vocoder training): done" in res.stderr and res.stderr.count("(speech): done") == 2

    # one generated wav lost: its dir is vocoded again (the vocoder is not trained again)
    lost = recipe / read_table(decode / "wav.scp")[sorted(frames)[0]]
    lost.unlink()
    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"{decode.name}/wav.scp: 2 entries, 0 missing files" in res.stderr
    assert "-> 2 entries, 1 missing files" in res.stderr
    assert "(vocoder training): done" in res.stderr and res.stderr.count("(speech): done") == 1
    assert lost.is_file()

    # units gone from beside the mel: a stop that names them, whatever the done marker says
    (decode / "units.scp").unlink()
    res = _run(recipe, root, *stage6)
    assert res.returncode != 0 and f"{decode.name}/units.scp" in res.stderr.splitlines()[-1]


# real GRID clips of the speaker-input test: (utterance, clip, speaker); s3 is a test-only speaker
SPEAKER_TRAIN = (("train_a", "bbaf2n", "s1"), ("train_b", "pwij3p", "s2"), ("train_c", "lbax4n", "s5"))
SPEAKER_TEST = (("test_known", "id2_vcd_swwp2s", "s2"), ("test_unseen", "sbia1a", "s3"))


def test_stage6_speaker_section_embeds_the_training_audio_once_and_vocodes_with_speaker_means(
    recipe, root, realdata
):
    clips = realdata / "GRID_rizkiarm_LipNet"
    dump = recipe / "dump"
    for name, entries in (("train", SPEAKER_TRAIN), ("test", SPEAKER_TEST)):
        wavs = {utt: decode_audio(str(clips / f"{clip}.mpg"), 16000) for utt, clip, _ in entries}
        utt2spk = {utt: spk for utt, _, spk in entries}
        if name == "train":  # silence gives no speaker embedding: named, and the rest goes on
            wavs["train_silent"], utt2spk["train_silent"] = np.zeros(16000, np.float32), "s1"
        audio_set(dump / name, wavs, utt2spk)
    res = _run(recipe, root, "--stage", "2", "--stop_stage", "2", "--unit_type", "logmel", "--unit_k", "4")
    assert res.returncode == 0, res.stderr[-3000:]
    decode = _decode_dir(recipe, "test")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "speaker.yaml").write_text(yaml.safe_dump({**TINY, "speaker": {"dim": 8}}))
    stage6 = ["--stage", "6", "--stop_stage", "6", "--vocoder_type", "hifigan_units"]
    stage6 += ["--vocoder_config", "conf/speaker.yaml"]

    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    spk_dir = dump / "train" / "speaker"
    assert (spk_dir / ".done.embed").is_file() and "1 utterances gave no speaker embedding" in res.stderr
    assert (spk_dir / "failed").read_text() == "train_silent\n"
    assert "train_silent" in (spk_dir / "embed.log").read_text()
    embeddings = load_embeddings(spk_dir / "embeddings.npz")
    assert sorted(embeddings) == ["train_a", "train_b", "train_c"]

    ckpt = recipe / "exp" / "vocoder_units_speaker" / "vocoder.pth"
    state = torch.load(ckpt, weights_only=True)
    assert state["speaker"]["dim"] == 8 and sorted(state["speaker"]["speakers"]) == ["s1", "s2", "s5"]
    # s2's mean is of its training audio only (one clip), not of the test set's s2 clip
    np.testing.assert_allclose(state["speaker"]["speakers"]["s2"].numpy(), embeddings["train_b"], atol=1e-6)
    assert state["generator"]["speaker.weight"].shape == (8, 256)

    # a 2-step vocoder hardly hears the speaker: amplify its speaker input so that the wavs
    # tell which embedding each utterance got, and vocode again (training is done)
    state["generator"]["speaker.weight"] *= 300
    torch.save(state, ckpt)
    outs = (decode, recipe / "exp" / "lipsound2_train" / "oracle_test")
    res = _run(recipe, root, *stage6)  # another checkpoint: the wavs of the old one are stale
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Speaker embeddings of" not in res.stderr and "Training the vocoder" not in res.stderr
    assert res.stderr.count("(speech): redo, since") == 2
    assert f"file {ckpt.relative_to(recipe)}: " in res.stderr

    vocoder = HiFiGANUnitsVocoder(ckpt)
    feats, units = read_table(dump / "test" / "feats.scp"), read_table(dump / "test" / "units.scp")
    for out in outs:
        wavs = read_table(out / "wav.scp")
        assert sorted(wavs) == ["test_known", "test_unseen"]
        # s2 is vocoded with its training mean, the unseen s3 with the global mean
        for utt, speaker, other in (("test_known", "s2", None), ("test_unseen", None, "s2")):
            mel, unit = load_array(feats[utt]), load_array(units[utt])
            written, expected = read_wav(recipe / wavs[utt], 16000), vocoder(mel, unit, speaker)
            np.testing.assert_allclose(written, np.clip(expected, -1, 1), atol=1.01 / 32768, err_msg=utt)
            assert np.abs(written - np.clip(vocoder(mel, unit, other), -1, 1)).max() > 100 / 32768
        logs = "".join(p.read_text() for p in (out / "log").glob("vocode.*.log"))
        assert "speaker s3 is not in the vocoder's training set" in logs and "speaker s2 is not" not in logs

    # other speakers (utt2spk) train the vocoder again, on the same embeddings
    write_table(dump / "train" / "utt2spk", {**read_table(dump / "train" / "utt2spk"), "train_c": "s6"})
    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Speaker embeddings of" not in res.stderr and "Training the vocoder" in res.stderr
    assert "(speaker embeddings): done" in res.stderr and "(vocoder training): redo, since" in res.stderr
    assert sorted(torch.load(ckpt, weights_only=True)["speaker"]["speakers"]) == ["s1", "s2", "s6"]
