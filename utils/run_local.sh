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
  --max-jobs-run N   at most N jobs at once (default 0: all at once)
  --mem M, --gpu N, --num-threads N, --num-nodes N
                     accepted for compatibility with the cluster runners; not enforced here
Underscore spellings (--max_jobs_run, --num_threads, --num_nodes) work too.
Example: $(basename "$0") --max-jobs-run 4 JOB=1:8 exp/log/feats.JOB.log prog data/split8/JOB"

# shellcheck source=utils/parse_options.sh
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

runner_check_options
runner_setup "$@"
runner_clear_logs

for ((job = job_first; job <= job_last; job++)); do
  cmd=$(runner_job_cmd "${job}")
  runner_start runner_run_logged "$(runner_job_log "${job}")" "${cmd}" bash -c "set -o pipefail; ${cmd}"
done
wait || true

runner_report
