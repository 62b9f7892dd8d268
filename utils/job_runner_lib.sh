# shellcheck shell=bash
# Shared by run_local.sh, run_slurm.sh and run_ssh.sh (sourced, not run).
#
# The Kaldi job interface:  RUNNER [options] [JOB=A:B] LOG command args...
#  - JOB=A:B (any variable name, or JOB=A for one job) runs jobs A..B; the name is replaced by
#    the job number in LOG and in every argument.
#  - The arguments are joined into one bash command line as Kaldi's run.pl does: an argument
#    without whitespace or quote characters goes in as written, so shell operators given as
#    separate escaped words (\| \> 2\>\&1) take effect in the job; any other argument is quoted
#    and reaches the program as one word (paths with spaces work).
#  - Each job's stdout and stderr go to its log, between a header and a footer line
#    "# finished: DATE; elapsed N s; exit code RC". The footer is the job's status record.

# The options every runner takes, with their defaults; a runner sources this file before it
# declares its own options and sources parse_options.sh, then calls runner_check_options.
# Read through runner_check_ints (indirect expansion).
# shellcheck disable=SC2034
{
  mem=""
  gpu=0
  num_threads=1
  num_nodes=1
  max_jobs_run=0
}

# Parsed from the positional arguments by runner_setup.
job_var=""        # name replaced by the job number ("" for the single-job form)
job_first=1
job_last=1
log_template=""
cmd_template=""

runner_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# Join words into a bash command line (see the header for the quoting rule).
runner_join_words() {
  local out="" word
  local plain="^[^[:space:]'\"\\\\\$\`]+\$"
  for word in "$@"; do
    if [[ ${word} =~ ${plain} ]]; then
      out+="${word} "
    else
      out+="$(printf '%q' "${word}") "
    fi
  done
  printf '%s' "${out% }"
}

# runner_setup ARGS...: reads [JOB=A:B] LOG command... into the globals above.
runner_setup() {
  if [ $# -ge 1 ] && [[ $1 =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+)(:([0-9]+))?$ ]]; then
    job_var=${BASH_REMATCH[1]}
    job_first=${BASH_REMATCH[2]}
    job_last=${BASH_REMATCH[4]:-${job_first}}
    shift
    ((10#${job_first} <= 10#${job_last})) || runner_die "empty job range '${job_var}=${job_first}:${job_last}'"
    job_first=$((10#${job_first}))
    job_last=$((10#${job_last}))
  fi
  if [ $# -lt 2 ]; then
    printf '%s\n' "${help_message:-usage: $(basename "$0") [options] [JOB=A:B] LOG command [args...]}" >&2
    exit 1
  fi
  log_template=$1
  shift
  if [ -n "${job_var}" ] && [ "${job_first}" -ne "${job_last}" ] && [[ ${log_template} != *"${job_var}"* ]]; then
    runner_die "${job_last} jobs would share one log '${log_template}': put ${job_var} in the log name"
  fi
  cmd_template=$(runner_join_words "$@")
}

# Checks that each named variable holds a non-negative integer.
runner_check_ints() {
  local name
  for name in "$@"; do
    [[ ${!name} =~ ^[0-9]+$ ]] || runner_die "--${name//_/-} needs a non-negative integer, not '${!name}'"
  done
}

# runner_check_mem SIZE [OPTION]: checks that SIZE is empty or a size like 4G (OPTION: the
# option named in the message, --mem by default).
runner_check_mem() {
  [ -z "$1" ] || [[ $1 =~ ^[0-9]+[KkMmGgTt]?$ ]] || runner_die "${2:---mem} takes a size like 4G, not '$1'"
}

# runner_mem_times SIZE N: SIZE (a size like 4G) times N, in SIZE's unit.
runner_mem_times() {
  [[ $1 =~ ^([0-9]+)([KkMmGgTt]?)$ ]] || runner_die "not a size: '$1'"
  printf '%d%s' $((10#${BASH_REMATCH[1]} * $2)) "${BASH_REMATCH[2]}"
}

# Checks the values of the options every runner takes.
runner_check_options() {
  runner_check_ints gpu num_threads num_nodes max_jobs_run
  runner_check_mem "${mem}"
}

# The log path and command line of job J.
runner_job_log() {
  if [ -n "${job_var}" ]; then printf '%s' "${log_template//"${job_var}"/$1}"; else printf '%s' "${log_template}"; fi
}
runner_job_cmd() {
  if [ -n "${job_var}" ]; then printf '%s' "${cmd_template//"${job_var}"/$1}"; else printf '%s' "${cmd_template}"; fi
}

# runner_run_logged LOG SHOWN_CMD ARGV...: runs ARGV with stdout+stderr into LOG, framed by
# the header (SHOWN_CMD, start time, host) and the footer; returns ARGV's exit code.
runner_run_logged() {
  local log=$1 shown=$2 start rc=0
  shift 2
  mkdir -p -- "$(dirname -- "${log}")"
  start=$(date +%s)
  {
    printf '# command: %s\n' "${shown}"
    printf '# started: %s on %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "${HOSTNAME:-unknown}"
  } >"${log}"
  "$@" </dev/null >>"${log}" 2>&1 || rc=$?
  [ -z "$(tail -c 1 -- "${log}")" ] || echo >>"${log}"
  printf '# finished: %s; elapsed %d s; exit code %d\n' "$(date '+%Y-%m-%d %H:%M:%S')" \
    $(($(date +%s) - start)) "${rc}" >>"${log}"
  return "${rc}"
}

# The GPUs of this machine, one a line (nothing when none is known): the entries of
# CUDA_VISIBLE_DEVICES when it is set (empty or -1: none), else the devices 'nvidia-smi -L'
# lists: GPUs by index (nvidia-smi's PCI bus order), a GPU split into MIG instances by their
# UUIDs.
runner_visible_gpus() {
  local listing
  if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
    [[ ${CUDA_VISIBLE_DEVICES} == -* ]] || tr ',' '\n' <<<"${CUDA_VISIBLE_DEVICES}" | tr -d '[:blank:]' | sed '/^$/d'
    return 0
  fi
  command -v nvidia-smi >/dev/null || return 0
  if command -v timeout >/dev/null; then
    listing=$(timeout 60 nvidia-smi -L 2>/dev/null) || return 0
  else
    listing=$(nvidia-smi -L 2>/dev/null) || return 0
  fi
  awk '
    function flush() { if (gpu != "" && !migs) print gpu; gpu = ""; migs = 0 }
    /^GPU [0-9]+:/ { flush(); gpu = $2; sub(/:$/, "", gpu); next }
    /^[[:space:]]+MIG .*UUID: MIG-/ && gpu != "" {
      match($0, /MIG-[^) ]+/); print substr($0, RSTART, RLENGTH); migs++
    }
    END { flush() }' <<<"${listing}"
}

# runner_job_gpus I N GPU...: the N GPUs (comma-separated) of the I-th job (from 0), taken
# round robin from the list GPU...; all of them when the list has N or fewer.
runner_job_gpus() {
  local index=$1 n=$2 out="" j
  shift 2
  if [ "${n}" -ge $# ]; then
    out=$(printf '%s,' "$@")
  else
    local -a gpus=("$@")
    for ((j = 0; j < n; j++)); do
      out+="${gpus[$(((index * n + j) % $#))]},"
    done
  fi
  printf '%s' "${out%,}"
}

# runner_start ARGV...: runs ARGV in the background; while --max-jobs-run jobs started this way
# are running (0: no limit), first waits for one of them to end.
runner_running=0
runner_start() {
  if [ "${max_jobs_run}" -gt 0 ] && [ "${runner_running}" -ge "${max_jobs_run}" ]; then
    wait -n || true
    runner_running=$((runner_running - 1))
  fi
  "$@" &
  runner_running=$((runner_running + 1))
}

# Prints the exit code recorded in LOG's footer, or nothing when the job did not finish.
runner_log_status() {
  local last
  [ -f "$1" ] || return 0
  last=$(tail -n 1 -- "$1")
  if [[ ${last} =~ ^#\ finished:\ .*\;\ exit\ code\ ([0-9]+)$ ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# Removes the logs of an earlier run so a job that never starts cannot look finished.
runner_clear_logs() {
  local job
  for ((job = job_first; job <= job_last; job++)); do
    rm -f -- "$(runner_job_log "${job}")"
  done
}

# Reads every job's footer; prints the failed jobs and their logs and returns 1 if any failed.
runner_report() {
  local job log status failed=0 total=$((job_last - job_first + 1))
  local -a lines=()
  for ((job = job_first; job <= job_last; job++)); do
    log=$(runner_job_log "${job}")
    status=$(runner_log_status "${log}")
    if [ -z "${status}" ]; then
      failed=$((failed + 1))
      lines+=("  job ${job}: did not finish (no exit status); log: ${log}")
    elif [ "${status}" -ne 0 ]; then
      failed=$((failed + 1))
      lines+=("  job ${job}: exit code ${status}; log: ${log}")
    fi
  done
  [ "${failed}" -eq 0 ] && return 0
  echo "$(basename "$0"): ${failed} of ${total} job(s) failed:" >&2
  printf '%s\n' "${lines[@]}" >&2
  return 1
}
