"""Stages 1-2 through the stage script on real clips and a clip without audio: the reject
share stops the run, the rejects are listed with their reason, and a second run does nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lipsound2.fileio.table import read_table, write_table


def test_stage_script_runs_stages_1_and_2_and_skips_when_done(root, grid_clips, tmp_path):
    video_only = tmp_path / "media" / "video_only.mkv"
    video_only.parent.mkdir()
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(grid_clips[0]), "-an", "-c:v", "copy"]
    subprocess.run([*cmd, str(video_only)], check=True, timeout=60)  # the media kept, no audio stream
    recipe = tmp_path / "my recipe"
    (recipe / "conf").mkdir(parents=True)
    for name in ("lipsound2.sh", "lipreading.sh", "stage_options.sh", "stage_steps.sh", "cmd.sh"):
        (recipe / name).symlink_to(root / "egs" / "TEMPLATE" / name)
    (recipe / "conf" / "frontend.yaml").symlink_to(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml")
    (recipe / "utils").symlink_to(root / "utils")
    bindir = Path(sys.executable).parent
    (recipe / "path.sh").write_text(f'export PATH="{bindir}:$PWD/utils:$PATH" LC_ALL=C OMP_NUM_THREADS=1\n')
    data = recipe / "data" / "mini"
    utts = {clip.stem: str(clip) for clip in grid_clips[:3]}
    utts["zz_video_only"] = str(video_only)
    write_table(data / "video.scp", utts)
    write_table(data / "utt2spk", {u: u[:2] for u in utts})
    write_table(data / "text", {u: "some words" for u in utts})
    cmd = ["./lipsound2.sh", "--stage", "1", "--stop_stage", "2", "--nj", "2", "--test_sets", "mini"]
    cmd += ["--python", sys.executable]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cmd, *extra], cwd=recipe, capture_output=True, text=True, timeout=300)

    res = run("--max_reject_share", "0.2")
    assert res.returncode != 0 and "above --max_reject_share 0.2" in res.stdout + res.stderr
    res = run("--max_reject_share", "0.3")
    assert res.returncode == 0, res.stderr[-3000:]
    dump = recipe / "dump" / "mini"
    assert set(read_table(dump / "feats.scp")) == set(utts) - {"zz_video_only"}
    assert "no audio stream" in read_table(dump / "rejects")["zz_video_only"]
    assert read_table(dump / "text.rejected") == {"zz_video_only": "some words"}  # stage 8 expects it
    for log in ("prepare_av.1.log", "prepare_av.2.log"):
        assert "done" in (dump / "logs" / "stage1" / log).read_text()
    logs = sorted((dump / "logs").rglob("*.log"))
    stamps = [p.stat().st_mtime_ns for p in logs]
    res = run()
    assert res.returncode == 0, res.stderr[-3000:]
    assert (
        "Stage 1: dump/mini (tracks, audio): done" in res.stderr
        and "Stage 2: dump/mini (mel): done" in res.stderr
    )
    assert [p.stat().st_mtime_ns for p in logs] == stamps  # no job ran again
