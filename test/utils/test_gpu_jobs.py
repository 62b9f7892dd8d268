"""What a GPU job gets from the job runners.

slurm.pl: CPUs and memory in proportion to the GPUs asked for (conf/slurm.conf: cpus_per_gpu,
mem_per_gpu; cpu_mem for jobs without GPUs), checked on what the stand-in ``sbatch`` receives
for each GPU job of the recipe: stage 4's training through ESPnet's launcher, stage 5's
``--gpu_inference``, stage 6's vocoder training, stage 7's ASR training and decoding.
run.pl: each of N parallel GPU jobs gets its own GPUs through CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_SLURM_CONF = ROOT / "egs" / "TEMPLATE" / "conf" / "slurm.conf"
# the paper configs' DataLoader workers per rank (conf/train_paper.yaml num_workers: 4)
PAPER_NUM_WORKERS = 4


def sbatch_calls(env: dict) -> list[list[str]]:
    """The argument lists the stand-in sbatch received, in order."""
    calls, current = [], []
    for line in Path(env["STANDIN_RECORD"]).read_text().splitlines():
        if line == "---":
            calls.append(current)
            current = []
        elif not line.startswith("srun "):
            current.append(line)
    return calls


def option(call: list[str], name: str) -> str | None:
    """The value of sbatch option ``--name=VALUE`` in ``call`` (None when absent)."""
    values = [a.split("=", 1)[1] for a in call if a.startswith(f"{name}=")]
    assert len(values) <= 1, call
    return values[0] if values else None


def gib(size: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([KMGT]?)", size.upper()).groups()
    return int(number) * {"K": 2**-20, "M": 2**-10, "": 2**-10, "G": 1, "T": 2**10}[unit]


def assert_gpu_request(call: list[str], gpus: int) -> None:
    """A job of ``gpus`` GPUs asks for them, for a core for each rank and each of its loader
    workers, and for memory."""
    assert option(call, "--gres") == f"gpu:{gpus}", call
    assert int(option(call, "--cpus-per-task")) >= gpus * (1 + PAPER_NUM_WORKERS), call
    assert option(call, "--mem") is not None and gib(option(call, "--mem")) >= 8 * gpus, call


@pytest.fixture
def recipe_dir(tmp_path: Path) -> Path:
    """A working dir with conf/slurm.conf linked to the template's, as every recipe has it."""
    work = tmp_path / "recipe dir"
    (work / "conf").mkdir(parents=True)
    (work / "conf" / "slurm.conf").symlink_to(TEMPLATE_SLURM_CONF)
    return work


@pytest.fixture
def dry_env(standin_env: dict) -> dict:
    """The stand-ins, with sbatch recording without running anything."""
    return {**standin_env, "STANDIN_SBATCH_DRY": "1"}


def test_every_recipe_links_the_template_slurm_conf():
    for recipe in sorted(p for p in (ROOT / "egs").iterdir() if p.name != "TEMPLATE" and p.is_dir()):
        conf = recipe / "conf" / "slurm.conf"
        assert conf.is_symlink() and conf.resolve() == TEMPLATE_SLURM_CONF, conf


def test_the_template_conf_states_the_runner_defaults(tool, tmp_path, recipe_dir, standin_env):
    """conf/slurm.conf holds the values slurm.pl falls back on without it."""
    bare = tmp_path / "no conf"
    bare.mkdir()
    for work in (recipe_dir, bare):
        for gpu in ("0", "4"):
            out = tool("slurm.pl", "--gpu", gpu, "log/x.log", "true", cwd=work, env=standin_env)
            assert out.returncode == 0, out.stderr
    with_conf_cpu, with_conf_gpu, bare_cpu, bare_gpu = sbatch_calls(standin_env)
    assert with_conf_cpu == bare_cpu and with_conf_gpu == bare_gpu
    assert_gpu_request(bare_gpu, 4)
    assert option(bare_cpu, "--cpus-per-task") == "1" and option(bare_cpu, "--mem") is not None
    assert option(bare_cpu, "--gres") is None


def test_slurm_resources_follow_the_conf_and_explicit_options(tool, tmp_path, standin_env):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "slurm.conf").write_text("cpus_per_gpu=3\nmem_per_gpu=10G\ncpu_mem=\n")
    runs = [
        ["--gpu", "3"],
        ["--gpu", "2", "--num-threads", "32"],  # more threads than 2 x 3: the threads
        ["--gpu", "2", "--mem", "5G"],  # an explicit --mem wins
        ["--num-threads", "4"],  # no GPU, cpu_mem empty: no --mem
        ["--gpu", "2", "--cpus-per-gpu", "1", "--mem-per-gpu", "500M"],  # options override the conf
    ]
    for args in runs:
        out = tool("slurm.pl", *args, "log/y.log", "true", cwd=tmp_path, env=standin_env)
        assert out.returncode == 0, out.stderr
    calls = sbatch_calls(standin_env)
    got = [(option(c, "--gres"), option(c, "--cpus-per-task"), option(c, "--mem")) for c in calls]
    assert got == [
        ("gpu:3", "9", "30G"),
        ("gpu:2", "32", "20G"),
        ("gpu:2", "6", "5G"),
        (None, "4", None),
        ("gpu:2", "2", "1000M"),
    ]


@pytest.mark.parametrize(
    "conf, message",
    [
        ("cpus_per_gpu=many\n", "--cpus-per-gpu needs a non-negative integer"),
        ("mem_per_gpu=lots\n", "--mem-per-gpu"),
    ],
)
def test_slurm_rejects_bad_resource_settings(tool, tmp_path, standin_env, conf, message):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "slurm.conf").write_text(conf)
    out = tool("slurm.pl", "--gpu", "1", "log/z.log", "true", cwd=tmp_path, env=standin_env)
    assert out.returncode != 0 and message in out.stderr
    assert not Path(standin_env["STANDIN_RECORD"]).exists()


def launch(
    cmd: str, log: Path, ngpu: int, num_nodes: int, cwd: Path, env: dict
) -> subprocess.CompletedProcess:
    """ESPnet's launcher, as stage 4 calls it, running ``printenv`` as the trainer."""
    return subprocess.run(
        [sys.executable, "-m", "espnet2.bin.launch", "--cmd", cmd, "--log", str(log), "--ngpu", str(ngpu),
         "--num_nodes", str(num_nodes), "--init_file_prefix", str(cwd / "exp" / ".dist_init_"),
         "--multiprocessing_distributed", "true", "--", "bash", "-c", 'printenv | sort; echo "args:"'],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


@pytest.mark.parametrize("num_nodes", [1, 2])
def test_espnet_launcher_4_gpus_through_slurm_pl(recipe_dir, standin_env, utils_dir, num_nodes):
    """One node: the launcher passes only --gpu 4; several: --gpu 4 --num_threads 4 per node."""
    pytest.importorskip("espnet2.bin.launch")
    log = recipe_dir / "exp" / "train.log"
    out = launch(str(utils_dir / "slurm.pl"), log, 4, num_nodes, recipe_dir, standin_env)
    assert out.returncode == 0, out.stderr
    (call,) = sbatch_calls(standin_env)
    assert_gpu_request(call, 4)
    assert option(call, "--nodes") == str(num_nodes)
    if num_nodes > 1:
        # srun (Slurm 22.05 on) does not inherit --cpus-per-task: the batch script passes it on
        assert f"SRUN_CPUS_PER_TASK={option(call, '--cpus-per-task')}\n" in log.read_text()


@pytest.fixture
def slurm_recipe(tmp_path, root) -> Path:
    """A throw-away recipe (``lipsound2_testing.recipe_dir``) with conf/slurm.conf linked like every
    recipe's, and tiny dumped train and valid sets."""
    from lipsound2_testing.recipe_dir import make_recipe
    from lipsound2_testing.tiny_lipsound2 import write_corpus

    recipe = make_recipe(tmp_path, root)
    (recipe / "conf").mkdir()
    (recipe / "conf" / "slurm.conf").symlink_to(TEMPLATE_SLURM_CONF)
    (recipe / "conf" / "frontend.yaml").write_text("{}\n")
    for seed, dset in enumerate(("train", "valid")):
        write_corpus(recipe / "dump" / dset, 2, seed=seed)
        (recipe / "dump" / dset / "frontend.yaml").write_text(
            (root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml").read_text()
        )
    return recipe


def run_stages(recipe: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """The stage script with cmd_backend=slurm; sbatch (the dry stand-in) runs nothing, so
    the stage stops at its first job, which has no exit status."""
    cmd = ["./lipsound2.sh", "--train_set", "train", "--valid_set", "valid", "--test_sets", "valid",
           "--train_tag", "t", "--feats_normalize", "none", "--skip_pretrain", "true", *args]  # fmt: skip
    env = {**os.environ, **env, "cmd_backend": "slurm"}
    proc = subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "did not finish" in proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def batch_script(recipe: Path, call: list[str]) -> str:
    return (recipe / call[-1]).read_text()  # an absolute path stays as it is


def test_stage4_with_4_gpus_on_slurm_asks_for_cores_and_memory(slurm_recipe, dry_env):
    """The path users take: the stage script with cmd_backend=slurm, --ngpu 4."""
    import yaml

    from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF

    conf = {"model_conf": TINY_MODEL_CONF, "num_workers": PAPER_NUM_WORKERS, "max_epoch": 1}
    (slurm_recipe / "conf" / "train.yaml").write_text(yaml.safe_dump(conf))
    run_stages(slurm_recipe, dry_env, "--stage", "4", "--stop_stage", "4", "--ngpu", "4")
    (call,) = sbatch_calls(dry_env)
    assert_gpu_request(call, 4)
    assert option(call, "--array") is None and option(call, "--job-name") == "train"
    script = batch_script(slurm_recipe, call)
    assert "lipsound2.bin.train" in script and "--ngpu\\ 4" in script


def test_stage5_gpu_inference_on_slurm(slurm_recipe, dry_env):
    """Stage 5 with --gpu_inference true: ${cuda_cmd} --gpu 1 JOB=1:N, one GPU per array task."""
    exp = slurm_recipe / "exp" / "t"
    exp.mkdir(parents=True)
    (exp / "valid.loss.best.pth").write_bytes(b"")
    (exp / "config.yaml").write_text("{}\n")
    (exp / "frontend.yaml").write_text((slurm_recipe / "dump" / "valid" / "frontend.yaml").read_text())
    (slurm_recipe / "conf" / "inference.yaml").write_text("precision: fp32\n")
    run_stages(slurm_recipe, dry_env, "--stage", "5", "--stop_stage", "5", "--gpu_inference", "true",
               "--infer_train", "false", "--inference_nj", "2", "--num_plots", "0")  # fmt: skip
    (call,) = sbatch_calls(dry_env)
    assert_gpu_request(call, 1)
    assert option(call, "--array") == "1-2"
    assert "lipsound2.bin.infer" in batch_script(slurm_recipe, call)


def test_stage6_vocoder_training_on_a_gpu(tool, recipe_dir, dry_env):
    """Stage 6's HiFi-GAN training with --ngpu > 0: ${cuda_cmd} --gpu 1 LOG python -m ..."""
    out = tool("slurm.pl", "--gpu", "1", "exp/vocoder_hifigan/train.log", "python3", "-m",
               "lipsound2.bin.train_vocoder", "--config", "conf/vocoder.yaml",
               "--outdir", "exp/vocoder_hifigan", cwd=recipe_dir, env=dry_env)  # fmt: skip
    assert out.returncode == 1
    (call,) = sbatch_calls(dry_env)
    assert_gpu_request(call, 1)
    assert option(call, "--array") is None


def test_stage6_through_the_stage_script_trains_the_vocoder_on_a_gpu(slurm_recipe, dry_env):
    """The stage script itself with --ngpu 1: the HiFi-GAN training goes to ${cuda_cmd} --gpu 1
    and is told --device cuda (it trained on one CPU core before)."""
    (slurm_recipe / "conf" / "vocoder.yaml").write_text(
        (ROOT / "egs" / "TEMPLATE" / "conf" / "vocoder_hifigan_cpu.yaml").read_text()
    )
    run_stages(slurm_recipe, dry_env, "--stage", "6", "--stop_stage", "6", "--ngpu", "1",
               "--vocoder_type", "hifigan", "--vocode_oracle", "false")  # fmt: skip
    (call,) = sbatch_calls(dry_env)
    assert_gpu_request(call, 1)
    script = batch_script(slurm_recipe, call)
    assert "lipsound2.bin.train_vocoder" in script and "--device\\ cuda" in script


def test_stage7_asr_training_and_decoding(recipe_dir, dry_env, utils_dir, monkeypatch):
    """lipsound2/bin/asr_cascade.py (stage 7): train --ngpu 4 asks slurm.pl for --gpu 4, and
    each decoding job for --gpu 1."""
    from lipsound2.bin.asr_cascade import main
    from lipsound2.fileio.table import write_table

    monkeypatch.chdir(recipe_dir)
    for name, value in {**dry_env, "PATH": f"{utils_dir}{os.pathsep}{dry_env['PATH']}"}.items():
        monkeypatch.setenv(name, value)
    data = recipe_dir / "data"
    write_table(data / "wav.scp", {"u1": "/a/u1.wav", "u2": "/a/u2.wav"})
    write_table(data / "speech_shape", {"u1": "16000", "u2": "16000"})
    write_table(data / "text", {"u1": "ab", "u2": "ba"})
    (recipe_dir / "tokens.txt").write_text("<blank>\n<unk>\na\nb\n<sos/eos>\n")
    with pytest.raises(RuntimeError, match="failed"):
        main(["train", "--config", "c.yaml", "--train_dir", str(data), "--valid_dir", str(data),
              "--outdir", str(recipe_dir / "exp" / "asr"), "--token_list", str(recipe_dir / "tokens.txt"),
              "--cmd", "slurm.pl", "--ngpu", "4"])  # fmt: skip
    (recipe_dir / "model").mkdir()
    (recipe_dir / "model" / "valid.acc.ave.pth").write_bytes(b"")
    (recipe_dir / "model" / "config.yaml").write_text("{}\n")
    with pytest.raises(RuntimeError, match="failed"):
        main(["decode", "--asr_model", str(recipe_dir / "model"), "--wav_scp", str(data / "wav.scp"),
              "--outdir", str(recipe_dir / "exp" / "dec"), "--cmd", "slurm.pl",
              "--nj", "2", "--ngpu", "1"])  # fmt: skip
    train, decode = sbatch_calls(dry_env)
    assert_gpu_request(train, 4)
    assert_gpu_request(decode, 1)
    assert option(decode, "--array") == "1-2"


# ---------------------------------------------------------------- run.pl


def local_env(standin_env: dict, **extra: str) -> dict:
    """os.environ without CUDA_VISIBLE_DEVICES / CUDA_DEVICE_ORDER, the stand-ins (nvidia-smi
    among them) first on PATH, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")}
    return {**env, "LC_ALL": "C", **standin_env, **extra}


def run_local(utils_dir: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(utils_dir / "run.pl"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def job_devices(log_dir: Path, jobs: int) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES each job saw (None: unset), from the logs of ``show_gpus``."""
    seen = []
    for job in range(1, jobs + 1):
        text = (log_dir / f"g.{job}.log").read_text()
        value = re.search(r"^visible=(\S*) ", text, re.M).group(1)
        seen.append(None if value == "<unset>" else value)
    return seen


SHOW_GPUS = ["bash", "-c", 'echo "visible=${CUDA_VISIBLE_DEVICES-<unset>} order=${CUDA_DEVICE_ORDER-}"']


@pytest.mark.parametrize(
    "ngpu, gpu, jobs, expected",
    [
        (4, 1, 4, ["0", "1", "2", "3"]),
        (2, 1, 3, ["0", "1", "0"]),  # more jobs than GPUs: round robin
        (8, 4, 2, ["0,1,2,3", "4,5,6,7"]),
        (3, 4, 1, ["0,1,2"]),  # fewer GPUs than asked: all of them
    ],
)
def test_local_gpu_jobs_get_their_own_gpus_from_nvidia_smi(
    utils_dir, tmp_path, standin_env, ngpu, gpu, jobs, expected
):
    env = local_env(standin_env, STANDIN_NGPU=str(ngpu))
    out = run_local(
        utils_dir, env, "--gpu", str(gpu), f"JOB=1:{jobs}", str(tmp_path / "g.JOB.log"), *SHOW_GPUS
    )
    assert out.returncode == 0, out.stderr
    assert job_devices(tmp_path, jobs) == expected
    # nvidia-smi numbers GPUs in PCI bus order; CUDA must count the same way
    assert "order=PCI_BUS_ID" in (tmp_path / "g.1.log").read_text()
    assert f"(CUDA_VISIBLE_DEVICES={expected[0]})" in (tmp_path / "g.1.log").read_text().splitlines()[0]
    if gpu > ngpu:
        assert "only 3 GPU(s)" in out.stderr


def test_local_gpu_jobs_share_out_an_inherited_cuda_visible_devices(utils_dir, tmp_path, standin_env):
    env = local_env(standin_env, STANDIN_NGPU="8", CUDA_VISIBLE_DEVICES="5,GPU-abc,7")
    out = run_local(utils_dir, env, "--gpu", "1", "JOB=1:4", str(tmp_path / "g.JOB.log"), *SHOW_GPUS)
    assert out.returncode == 0, out.stderr
    assert job_devices(tmp_path, 4) == ["5", "GPU-abc", "7", "5"]
    assert "order=\n" in (tmp_path / "g.1.log").read_text()  # the caller's numbering: left alone


@pytest.mark.parametrize("inherited", [None, ""])
def test_local_without_a_known_gpu_leaves_cuda_visible_devices_alone(
    utils_dir, tmp_path, standin_env, inherited
):
    extra = {} if inherited is None else {"CUDA_VISIBLE_DEVICES": inherited}
    env = local_env(standin_env, **extra)  # the stand-in nvidia-smi finds no device
    out = run_local(utils_dir, env, "--gpu", "1", "JOB=1:2", str(tmp_path / "g.JOB.log"), *SHOW_GPUS)
    assert out.returncode == 0, out.stderr
    assert job_devices(tmp_path, 2) == [inherited, inherited]


def test_local_cpu_jobs_are_not_given_gpus(utils_dir, tmp_path, standin_env):
    env = local_env(standin_env, STANDIN_NGPU="2")
    out = run_local(utils_dir, env, "JOB=1:2", str(tmp_path / "g.JOB.log"), *SHOW_GPUS)
    assert out.returncode == 0, out.stderr
    assert job_devices(tmp_path, 2) == [None, None]


def test_local_mig_instances_by_uuid(utils_dir, tmp_path, standin_env):
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(
        "#!/bin/sh\ncat <<'EOF'\n"
        "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-aaaa)\n"
        "  MIG 3g.20gb     Device  0: (UUID: MIG-1111)\n"
        "  MIG 3g.20gb     Device  1: (UUID: MIG-2222)\n"
        "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-bbbb)\n"
        "EOF\n"
    )
    smi.chmod(0o755)
    env = local_env(standin_env)
    env["PATH"] = f"{smi.parent}{os.pathsep}{env['PATH']}"
    out = run_local(utils_dir, env, "--gpu", "1", "JOB=1:3", str(tmp_path / "g.JOB.log"), *SHOW_GPUS)
    assert out.returncode == 0, out.stderr
    assert job_devices(tmp_path, 3) == ["MIG-1111", "MIG-2222", "1"]


def test_espnet_launcher_single_node_run_pl_gets_n_gpus(tmp_path, standin_env, utils_dir):
    """Stage 4 on this machine: the launcher's one job of --ngpu 2 sees two of the four GPUs."""
    pytest.importorskip("espnet2.bin.launch")
    log = tmp_path / "exp" / "train.log"
    out = launch(str(utils_dir / "run.pl"), log, 2, 1, tmp_path, local_env(standin_env, STANDIN_NGPU="4"))
    assert out.returncode == 0, out.stderr
    assert "\nCUDA_VISIBLE_DEVICES=0,1\n" in log.read_text()
