#!/usr/bin/env bash
# Runs Kaldi-style parallel jobs as local processes (utils/run.pl links here).
set -euo pipefail
export LC_ALL=C

# shellcheck source=utils/job_runner_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/job_runner_lib.sh"

help_message="Usage: $(basename "$0") [options] [JOB=A:B] LOG command [args...]
Runs jobs A..B on this machine; JOB in LOG and in every argument becomes the job number.
Each job's output goes to its own log (header: command and start; footer: exit code, elapsed).
Waits for all jobs; exits 1 naming each failed job and its log.
Options:
  --gpu N            each job gets N GPUs of its own through CUDA_VISIBLE_DEVICES, round robin
                     over the visible GPUs: those of CUDA_VISIBLE_DEVICES when it is set, else
                     those 'nvidia-smi -L' lists (then CUDA_DEVICE_ORDER=PCI_BUS_ID, its order).
                     More jobs than GPUs share them; with no GPU known, the jobs' environment
                     stays as it is.
  --max-jobs-run N   at most N jobs at once (default 0: all at once)
  --mem M, --num-threads N, --num-nodes N
                     accepted for compatibility with the cluster runners; not enforced here
Underscore spellings (--max_jobs_run, --num_threads, --num_nodes) work too.
Example: $(basename "$0") --max-jobs-run 4 JOB=1:8 exp/log/feats.JOB.log prog data/split8/JOB"

# shellcheck source=utils/parse_options.sh
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

runner_check_options
runner_setup "$@"
runner_clear_logs

# The GPUs the jobs take theirs from (none for jobs without --gpu).
gpus=()
gpu_env=()
if [ "${gpu}" -gt 0 ]; then
  mapfile -t gpus < <(runner_visible_gpus)
  # nvidia-smi numbers the GPUs in PCI bus order; CUDA's default order can differ
  [ -n "${CUDA_VISIBLE_DEVICES+set}" ] || [ "${#gpus[@]}" -eq 0 ] || gpu_env+=(CUDA_DEVICE_ORDER=PCI_BUS_ID)
  if [ "${#gpus[@]}" -gt 0 ] && [ "${gpu}" -gt "${#gpus[@]}" ]; then
    echo "$(basename "$0"): each job asks for ${gpu} GPUs, but only ${#gpus[@]} GPU(s) are visible ($(
      IFS=,
      echo "${gpus[*]}"
    )): each job gets all of them" >&2
  fi
fi

for ((job = job_first; job <= job_last; job++)); do
  cmd=$(runner_job_cmd "${job}")
  if [ "${#gpus[@]}" -gt 0 ]; then
    devices=$(runner_job_gpus $((job - job_first)) "${gpu}" "${gpus[@]}")
    runner_start runner_run_logged "$(runner_job_log "${job}")" "${cmd} (CUDA_VISIBLE_DEVICES=${devices})" \
      env "${gpu_env[@]}" CUDA_VISIBLE_DEVICES="${devices}" bash -c "set -o pipefail; ${cmd}"
  else
    runner_start runner_run_logged "$(runner_job_log "${job}")" "${cmd}" bash -c "set -o pipefail; ${cmd}"
  fi
done
wait || true

runner_report
