#!/usr/bin/env bash
# Runs Kaldi-style parallel jobs on other machines through ssh (utils/ssh.pl links here).
# Job k goes to host number (k - A) mod H, round robin. The machines must share this directory
# (same path) and allow non-interactive ssh logins; each job runs "cd DIR && . ./path.sh" first
# when DIR has a path.sh. Logs are written here, from the ssh session's output.
set -euo pipefail
export LC_ALL=C

# shellcheck source=utils/job_runner_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/job_runner_lib.sh"

hosts="" # hosts separated by commas or spaces; default: conf/hosts, one per line

help_message="Usage: $(basename "$0") [options] [JOB=A:B] LOG command [args...]
Runs jobs A..B through 'ssh HOST', hosts taken round robin from --hosts or conf/hosts (one
per line, '#' comments). Waits for all jobs; exits 1 naming each failed job and its log.
Options:
  --hosts 'h1,h2'    hosts to use (default: conf/hosts)
  --max-jobs-run N   at most N jobs at once over all hosts (default 0: all at once)
  --mem M, --gpu N, --num-threads N, --num-nodes N   accepted; not enforced
Underscore spellings (--max_jobs_run, --num_threads, --num_nodes) work too."

# shellcheck source=utils/parse_options.sh
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

runner_check_options
runner_setup "$@"

if [ -z "${hosts}" ]; then
  [ -f conf/hosts ] || runner_die "no hosts: pass --hosts or write conf/hosts"
  hosts=$(sed -e 's/#.*//' conf/hosts | tr '\n' ' ')
fi
read -r -a host_list <<<"${hosts//,/ }"
[ "${#host_list[@]}" -gt 0 ] || runner_die "the host list is empty"
runner_clear_logs

for ((job = job_first; job <= job_last; job++)); do
  host=${host_list[$(((job - job_first) % ${#host_list[@]}))]}
  cmd=$(runner_job_cmd "${job}")
  remote=$(printf 'cd %q && { [ ! -f ./path.sh ] || . ./path.sh; } && set -o pipefail && %s' "${PWD}" "${cmd}")
  runner_start runner_run_logged "$(runner_job_log "${job}")" "${cmd} (on ${host})" \
    ssh -n -o BatchMode=yes "${host}" "bash -c $(printf '%q' "${remote}")"
done
wait || true

runner_report
