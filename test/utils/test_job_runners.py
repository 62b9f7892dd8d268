"""Job runners run.pl (local), slurm.pl (stand-in sbatch/srun) and ssh.pl (stand-in ssh)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture
def timed_job(tmp_path: Path) -> Path:
    """A job that records its start and end time in TIMES/N and prints its number."""
    script = tmp_path / "timed job.sh"
    script.write_text(
        "#!/usr/bin/env bash\nset -eu\n"
        'echo "start $(date +%s.%N)" >"$2/$1"\nsleep "$3"\n'
        'echo "end $(date +%s.%N)" >>"$2/$1"\necho "this is job $1"\n'
    )
    script.chmod(0o755)
    (tmp_path / "times").mkdir()
    return script


def max_overlap(times_dir: Path) -> int:
    """Most jobs running at one instant, from the recorded start/end times."""
    events = []
    for path in times_dir.iterdir():
        (_, start), (_, end) = (line.split() for line in path.read_text().splitlines())
        events += [(float(start), 1), (float(end), -1)]
    running = peak = 0
    for _, step in sorted(events):  # at equal times an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


def footer_code(log: Path) -> int:
    last = log.read_text().splitlines()[-1]
    assert last.startswith("# finished: "), last
    return int(last.rsplit(" ", 1)[1])


def test_local_runs_every_job_at_most_max_jobs_run_at_once(tool, timed_job, tmp_path):
    logs = tmp_path / "log dir"
    out = tool(
        "run.pl",
        "--max-jobs-run",
        2,
        "JOB=1:8",
        logs / "t.JOB.log",
        timed_job,
        "JOB",
        tmp_path / "times",
        "0.3",
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "times").iterdir()) == [str(i) for i in range(1, 9)]
    assert max_overlap(tmp_path / "times") == 2
    for job in range(1, 9):
        text = (logs / f"t.{job}.log").read_text()
        assert text.startswith("# command: ") and f"timed\\ job.sh {job} " in text.splitlines()[0]
        assert f"this is job {job}\n" in text
        assert "# started: " in text
        assert footer_code(logs / f"t.{job}.log") == 0


def test_local_default_runs_jobs_in_parallel(tool, timed_job, tmp_path):
    out = tool("run.pl", "JOB=1:4", tmp_path / "l.JOB.log", timed_job, "JOB", tmp_path / "times", "0.5")
    assert out.returncode == 0, out.stderr
    assert max_overlap(tmp_path / "times") >= 2


def test_local_failure_names_the_failing_logs(tool, tmp_path):
    out = tool(
        "run.pl",
        "JOB=1:3",
        tmp_path / "log" / "f.JOB.log",
        "bash",
        "-c",
        "echo job JOB; exit $((JOB == 2 ? 3 : 0))",
    )
    assert out.returncode == 1
    assert "1 of 3 job(s) failed" in out.stderr
    assert f"job 2: exit code 3; log: {tmp_path / 'log' / 'f.2.log'}" in out.stderr
    assert "f.1.log" not in out.stderr and "f.3.log" not in out.stderr
    assert [footer_code(tmp_path / "log" / f"f.{j}.log") for j in (1, 2, 3)] == [0, 3, 0]


def test_local_quoting_single_job_form_and_shell_operators(tool, tmp_path):
    log = tmp_path / "a b" / "one.log"
    out = tool("run.pl", log, "printf", "%s\\n", "two  spaces", "$HOME", "|", "tr", "a-z", "A-Z")
    assert out.returncode == 0, out.stderr
    body = log.read_text().splitlines()
    assert body[2:4] == ["TWO  SPACES", "$HOME"]  # words kept whole, the separate '|' is a pipe


def test_local_substitutes_job_in_arguments_with_spaces(tool, tmp_path):
    out = tool("run.pl", "TASK=3:4", tmp_path / "x.TASK.log", "echo", "part TASK of 4")
    assert out.returncode == 0, out.stderr
    assert "part 3 of 4" in (tmp_path / "x.3.log").read_text()
    assert "part 4 of 4" in (tmp_path / "x.4.log").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-jobs-run", "x", "JOB=1:2", "l.JOB", "true"], "--max-jobs-run needs a non-negative integer"),
        (["--bogus", "1", "l", "true"], "unknown option '--bogus'"),
        (["JOB=1:2", "same.log", "true"], "put JOB in the log name"),
        (["JOB=1:2"], "Usage:"),
        (["--mem", "lots", "l", "true"], "--mem takes a size"),
    ],
)
def test_local_rejects_bad_arguments(tool, tmp_path, args, message):
    out = tool("run.pl", *args, cwd=tmp_path)
    assert out.returncode != 0
    assert message in out.stderr


def recorded_sbatch_calls(env: dict) -> list[list[str]]:
    lines = Path(env["STANDIN_RECORD"]).read_text().splitlines()
    calls, current = [], []
    for line in lines:
        if line == "---":
            calls.append(current)
            current = []
        elif not line.startswith("srun "):
            current.append(line)
    return calls


def test_slurm_submits_one_array_with_resources_and_reports_failures(tool, tmp_path, standin_env):
    work = tmp_path / "recipe dir"
    (work / "conf").mkdir(parents=True)
    (work / "conf" / "slurm.conf").write_text("partition=cpuq\ngpu_partition=gpuq\ntime=1:00:00\n")
    out = tool(
        "slurm.pl",
        "--mem",
        "3G",
        "--gpu",
        "1",
        "--num-threads",
        "2",
        "--max-jobs-run",
        "2",
        "JOB=1:4",
        "exp/log/a.JOB.log",
        "bash",
        "-c",
        "echo task JOB; exit $((JOB == 3))",
        cwd=work,
        env=standin_env,
    )
    assert out.returncode == 1
    assert "job 3: exit code 1; log: exp/log/a.3.log" in out.stderr
    (call,) = recorded_sbatch_calls(standin_env)
    for expected in [
        "--wait",
        "--array=1-4%2",
        "--mem=3G",
        "--gres=gpu:1",
        "--cpus-per-task=6",  # 1 GPU x cpus_per_gpu (6), more than --num-threads 2
        "--nodes=1",
        "--partition=gpuq",
        "--time=1:00:00",
        "--job-name=a",
    ]:
        assert expected in call
    assert call[-1] == "exp/log/q/a.sh"
    for job in (1, 2, 4):
        log = work / "exp" / "log" / f"a.{job}.log"
        assert f"task {job}\n" in log.read_text()
        assert footer_code(log) == 0


def test_slurm_cpu_job_uses_cpu_partition_and_option_overrides(tool, tmp_path, standin_env):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "slurm.conf").write_text("partition=cpuq\n")
    out = tool("slurm.pl", "JOB=2:3", "log/b.JOB.log", "echo", "hi", cwd=tmp_path, env=standin_env)
    assert out.returncode == 0, out.stderr
    out = tool("slurm.pl", "--partition", "other", "log/c.log", "echo", "hi", cwd=tmp_path, env=standin_env)
    assert out.returncode == 0, out.stderr
    first, second = recorded_sbatch_calls(standin_env)
    assert "--array=2-3" in first and "--partition=cpuq" in first
    assert "--cpus-per-task=1" in first and "--mem=4G" in first  # cpu_mem's default
    assert not any(a.startswith("--gres") for a in first)
    assert "--partition=other" in second and not any(a.startswith("--array") for a in second)
    assert "hi\n" in (tmp_path / "log" / "c.log").read_text()


def test_slurm_launcher_form_log_srun(tool, tmp_path, standin_env):
    """The call ESPnet's launcher makes: slurm.pl --gpu N --num_threads N --num_nodes N LOG srun ..."""
    out = tool(
        "slurm.pl",
        "--gpu",
        "2",
        "--num_threads",
        "2",
        "--num_nodes",
        "2",
        "exp/train.log",
        "srun",
        "--export=ALL",
        "echo",
        "trained",
        "--ngpu",
        "2",
        cwd=tmp_path,
        env=standin_env,
    )
    assert out.returncode == 0, out.stderr
    (call,) = recorded_sbatch_calls(standin_env)
    # 2 GPUs x cpus_per_gpu (6) and x mem_per_gpu (16G), the defaults
    expected = {"--gres=gpu:2", "--cpus-per-task=12", "--mem=32G", "--nodes=2", "--ntasks-per-node=1"}
    assert expected <= set(call)
    assert "srun --export=ALL echo trained --ngpu 2" in Path(standin_env["STANDIN_RECORD"]).read_text()
    assert "trained --ngpu 2\n" in (tmp_path / "exp" / "train.log").read_text()


def test_espnet_launcher_drives_slurm_pl(tmp_path, standin_env, utils_dir):
    """ESPnet's own launcher recognises slurm.pl by name and runs a 2-node job through it."""
    pytest.importorskip("espnet2.bin.launch")
    env = {**os.environ, **standin_env}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet2.bin.launch",
            "--cmd",
            str(utils_dir / "slurm.pl"),
            "--log",
            str(tmp_path / "exp" / "train.log"),
            "--ngpu",
            "0",
            "--num_nodes",
            "2",
            "--init_file_prefix",
            str(tmp_path / "init_"),
            "echo",
            "launched",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "--nodes=2" in recorded_sbatch_calls(standin_env)[0]
    log = (tmp_path / "exp" / "train.log").read_text()
    assert "launched --ngpu 0 --multiprocessing_distributed true --dist_launcher slurm" in log


def test_slurm_job_that_never_ran_counts_as_failed(tool, tmp_path, standin_env):
    """A stale log from an earlier run must not make a task that never started look done."""
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "d.1.log").write_text("# finished: earlier; elapsed 0 s; exit code 0\n")
    bad_sbatch = tmp_path / "bin" / "sbatch"
    bad_sbatch.parent.mkdir()
    bad_sbatch.write_text("#!/usr/bin/env bash\necho 'sbatch: error: invalid partition' >&2\nexit 1\n")
    bad_sbatch.chmod(0o755)
    env = {**standin_env, "PATH": f"{bad_sbatch.parent}{os.pathsep}{standin_env['PATH']}"}
    out = tool("slurm.pl", "JOB=1:2", "log/d.JOB.log", "true", cwd=tmp_path, env=env)
    assert out.returncode == 1
    assert "job 1: did not finish" in out.stderr and "job 2: did not finish" in out.stderr


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_slurm_driver_stopped_cancels_its_jobs(tmp_path, standin_env, utils_dir, sig, code):
    """A driver stopped while its array runs (Ctrl-C, kill, a lost login session) cancels the
    array, so that no job goes on writing beside the ones a rerun submits."""
    env = {**os.environ, "LC_ALL": "C", **standin_env}
    log = tmp_path / "log" / "t.1.log"
    proc = subprocess.Popen(
        [str(utils_dir / "slurm.pl"), "JOB=1:1", "log/t.JOB.log", "sleep", "30"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not log.is_file() and time.monotonic() < deadline:  # the task has started
            time.sleep(0.1)
        assert log.is_file(), "the stand-in's task never started"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the stand-in runs the task here: stop it too
    job_id = (tmp_path / "log" / "q" / "t.jobid").read_text().strip()
    assert proc.returncode == code
    assert f"cancelled Slurm job {job_id} (log/t.JOB.log)" in err
    assert f"scancel {job_id}\n" in Path(standin_env["STANDIN_RECORD"]).read_text()


def test_ssh_runs_round_robin_on_hosts_in_the_working_dir(tool, tmp_path, standin_env):
    work = tmp_path / "recipe dir"
    (work / "conf").mkdir(parents=True)
    (work / "conf" / "hosts").write_text("node-a  # first\n\nnode-b\n")
    out = tool(
        "ssh.pl", "JOB=1:3", "log/s.JOB.log", "bash", "-c", "echo job JOB in $PWD", cwd=work, env=standin_env
    )
    assert out.returncode == 0, out.stderr
    assert sorted(Path(standin_env["STANDIN_RECORD"]).read_text().split()) == ["node-a", "node-a", "node-b"]
    for job, host in ((1, "node-a"), (2, "node-b"), (3, "node-a")):
        text = (work / "log" / f"s.{job}.log").read_text()
        assert f"(on {host})" in text.splitlines()[0]
        assert f"job {job} in {work}\n" in text


def test_ssh_failure_and_hosts_option(tool, tmp_path, standin_env):
    out = tool(
        "ssh.pl",
        "--hosts",
        "h1,h2",
        "JOB=1:2",
        "log/t.JOB.log",
        "bash",
        "-c",
        "exit JOB",
        cwd=tmp_path,
        env=standin_env,
    )
    assert out.returncode == 1
    assert "job 1: exit code 1; log: log/t.1.log" in out.stderr
    assert "job 2: exit code 2; log: log/t.2.log" in out.stderr
    out = tool("ssh.pl", "JOB=1:2", "log/u.JOB.log", "true", cwd=tmp_path, env=standin_env)
    assert out.returncode != 0 and "no hosts" in out.stderr
