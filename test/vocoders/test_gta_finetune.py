"""Two-phase HiFi-GAN fine-tuning: ground-truth mel for ``train.steps``, then the acoustic
model's teacher-forced (GTA) mel for ``train.gta_steps``, cut at the same frames as the real
audio; the checkpoint records its phase and resumes in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.ndimage import gaussian_filter1d

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import write_table
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.mel import LogMel, MelConfig
from lipsound2.vocoders import hifigan_train
from lipsound2.vocoders.hifigan_train import SegmentSampler, TrainOptions, train_hifigan
from lipsound2_testing.tiny_hifigan import TINY_D, TINY_G, KilledError, kill_training_after


def _blurred_mel(wav_path: Path, config: MelConfig) -> np.ndarray:
    """A stand-in for a predicted mel: the audio's own mel, blurred along time and bands."""
    wav = torch.from_numpy(read_wav(wav_path, config.sample_rate))
    with torch.no_grad():
        mel = LogMel(config)(wav / wav.abs().max()).numpy()
    return gaussian_filter1d(gaussian_filter1d(mel, 1.5, axis=0), 1.5, axis=1).astype(np.float32)


def _gta_scp(
    wavs: dict[str, str], out: Path, config: MelConfig, frames: dict[str, int] | None = None
) -> Path:
    """A GTA feats.scp of ``wavs`` in ``out``; ``frames`` cuts an utterance's mel short."""
    with ArkWriter(out / "feats.ark", out / "feats.scp") as writer:
        for key, path in wavs.items():
            mel = _blurred_mel(Path(path), config)
            writer[key] = mel[: (frames or {}).get(key, len(mel))]
    return out / "feats.scp"


def _gta_table(scp: Path) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in scp.read_text().splitlines())


def _options(**overrides) -> TrainOptions:
    base = dict(steps=2, gta_steps=3, batch_size=2, segment_frames=16, lr=1e-3, log_interval=1)
    return TrainOptions(**{**base, "discriminator_start_step": 1, "checkpoint_interval": 2, **overrides})


@pytest.fixture
def wavs(grid_wavs) -> dict[str, str]:
    return {p.stem: str(p) for p in grid_wavs[:2]}


def test_the_gta_phase_cuts_the_given_mel_at_the_audio_frames(wavs, tmp_path):
    config = MelConfig()
    table = _gta_table(_gta_scp(wavs, tmp_path, config))
    sampler = SegmentSampler(wavs, config, 16, seed=0)
    sampler.use_inputs(table)
    mel, wav, _, keys = sampler.batch(4)
    hop = config.hop_length
    for i, key in enumerate(keys):
        given = torch.from_numpy(_blurred_mel(Path(wavs[key]), config))
        # the window is the given mel's (not the audio's own) at one start, the audio's is cut there
        starts = [s for s in range(len(given) - 15) if torch.equal(given[s : s + 16].T, mel[i])]
        assert len(starts) == 1, key
        audio = torch.from_numpy(read_wav(wavs[key], config.sample_rate))
        audio = audio / audio.abs().max()
        torch.testing.assert_close(wav[i, 0], audio[starts[0] * hop : (starts[0] + 16) * hop])


def test_a_gta_mel_of_other_frames_is_refused_naming_the_utterance(wavs, tmp_path):
    key = next(iter(wavs))
    table = _gta_table(_gta_scp(wavs, tmp_path, MelConfig(), frames={key: 40}))
    sampler = SegmentSampler({key: wavs[key]}, MelConfig(), 16, seed=0)
    sampler.use_inputs(table)
    with pytest.raises(ValueError, match=f"{key}: the input mel .* is \\(40, 80\\)"):
        sampler.batch(1)


def test_a_two_phase_training_killed_in_the_gta_phase_resumes_to_the_same_generator(
    wavs, tmp_path, monkeypatch
):
    config = MelConfig()
    gta = _gta_table(_gta_scp(wavs, tmp_path, config))
    train_hifigan(wavs, tmp_path / "whole", TINY_G, TINY_D, _options(), config, gta_inputs=gta)

    class KilledError(Exception):
        pass

    save = hifigan_train._save_training
    phases = {}

    def killed_at_step_4(path, step, nets, stateful, sampler, rng, phase):
        phases[step] = phase
        save(path, step, nets, stateful, sampler, rng, phase)
        if step == 4:
            raise KilledError

    monkeypatch.setattr(hifigan_train, "_save_training", killed_at_step_4)
    resumed = tmp_path / "resumed"
    with pytest.raises(KilledError):
        train_hifigan(wavs, resumed, TINY_G, TINY_D, _options(), config, gta_inputs=gta)
    assert phases == {2: "ground_truth", 4: "gta"}  # step 2 closes the ground-truth phase
    state = torch.load(resumed / "checkpoint.pth", map_location="cpu", weights_only=True)
    assert (state["step"], state["phase"]) == (4, "gta")
    monkeypatch.undo()
    train_hifigan(wavs, resumed, TINY_G, TINY_D, _options(), config, gta_inputs=gta)
    whole = torch.load(tmp_path / "whole" / "vocoder.pth", map_location="cpu", weights_only=True)
    again = torch.load(resumed / "vocoder.pth", map_location="cpu", weights_only=True)
    assert whole["steps"] == again["steps"] == 5
    for name, value in whole["generator"].items():
        torch.testing.assert_close(again["generator"][name], value, rtol=0, atol=0, msg=name)
    rows = [line.split("\t") for line in (resumed / "train_log.tsv").read_text().splitlines()]
    assert [(r[0], r[-1]) for r in rows] == [
        ("step", "phase"),
        ("1", "ground_truth"),
        ("2", "ground_truth"),
        ("3", "gta"),
        ("4", "gta"),
        ("5", "gta"),
    ]


def test_a_checkpoint_of_another_phase_than_the_config_says_is_refused(wavs, tmp_path, monkeypatch):
    config = MelConfig()
    gta = _gta_table(_gta_scp(wavs, tmp_path, config))

    kill_training_after(monkeypatch, 4)
    with pytest.raises(KilledError):
        train_hifigan(wavs, tmp_path, TINY_G, TINY_D, _options(), config, gta_inputs=gta)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="step 4 of the gta phase, but train.steps 6"):
        train_hifigan(wavs, tmp_path, TINY_G, TINY_D, _options(steps=6), config, gta_inputs=gta)


@pytest.mark.parametrize(
    ("steps", "given", "message"),
    [(3, False, "needs the GTA mel"), (0, True, "train.gta_steps is 0")],
)
def test_a_gta_phase_and_its_mel_come_together(wavs, tmp_path, steps, given, message):
    gta = {key: "unused" for key in wavs} if given else None
    with pytest.raises(ValueError, match=message):
        train_hifigan(wavs, tmp_path, TINY_G, TINY_D, _options(gta_steps=steps), MelConfig(), gta_inputs=gta)


def test_fine_tuning_from_the_pretrained_generator_resumes_in_the_gta_phase(wavs, tmp_path, monkeypatch):
    """``lipsound2.bin.train_vocoder`` with ``init_pretrained`` and ``--gta_feats_scp``: one
    ground-truth step, then two GTA steps of the published V1 generator, killed after the first
    and resumed."""
    from lipsound2.bin.train_vocoder import main
    from lipsound2.vocoders.hifigan_pretrained import V1_PARAMS

    config = MelConfig()
    gta_dir = tmp_path / "gta mel"
    gta_dir.mkdir()
    _gta_scp(wavs, gta_dir, config)
    write_table(tmp_path / "wav.scp", wavs)
    params = {k: v for k, v in V1_PARAMS.items() if k not in ("in_channels", "out_channels")}
    train = dict(steps=1, gta_steps=2, batch_size=1, segment_frames=8, log_interval=1, checkpoint_interval=1)
    (tmp_path / "vocoder.yaml").write_text(
        yaml.safe_dump(
            {
                "generator_params": params,
                "discriminator_params": TINY_D,
                "train": {**train, "init_pretrained": True, "discriminator_start_step": 100},
            }
        )
    )
    argv = ["--wav_scp", str(tmp_path / "wav.scp"), "--config", str(tmp_path / "vocoder.yaml")]
    argv += ["--gta_feats_scp", str(gta_dir / "feats.scp"), "--outdir", str(tmp_path / "exp")]

    kill_training_after(monkeypatch, 2)
    with pytest.raises(KilledError):
        main(argv)
    state = torch.load(tmp_path / "exp" / "checkpoint.pth", map_location="cpu", weights_only=True)
    assert (state["step"], state["phase"]) == (2, "gta")
    monkeypatch.undo()
    assert main(argv) == 0
    rows = [line.split("\t") for line in (tmp_path / "exp" / "train_log.tsv").read_text().splitlines()]
    assert [(r[0], r[-1]) for r in rows[1:]] == [("1", "ground_truth"), ("2", "gta"), ("3", "gta")]
    losses = [float(r[1]) for r in rows[1:]]
    assert max(losses) < 0.6, losses  # a generator that already speaks (from scratch: about 0.67 at once)
    assert not (tmp_path / "exp" / "checkpoint.pth").exists()
    assert torch.load(tmp_path / "exp" / "vocoder.pth", map_location="cpu", weights_only=True)["steps"] == 3


def test_the_fine_tuning_config_is_the_published_schedule_on_the_v1_generator():
    from lipsound2.vocoders.factory import load_config
    from lipsound2.vocoders.hifigan import build_generator
    from lipsound2.vocoders.hifigan_train import init_from_pretrained

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "egs" / "TEMPLATE" / "conf" / "vocoder_hifigan_pretrained_finetune.yaml")
    options = TrainOptions(**config["train"])
    assert options.init_pretrained and options.steps > 0 and options.gta_steps > 0
    published = (options.lr, tuple(options.betas), options.lr_decay, options.batch_size)
    assert published == (2e-4, (0.8, 0.99), 0.999, 16)
    assert options.segment_frames * MelConfig().hop_length == 8192
    init_from_pretrained(build_generator(config["generator_params"], MelConfig()))  # strict load
