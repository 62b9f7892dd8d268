#!/usr/bin/env bash
# Runs Kaldi-style parallel jobs on a Slurm cluster (utils/slurm.pl links here): one sbatch job
# array, waited for with sbatch --wait; each task writes its own log like run_local.sh.
set -euo pipefail
export LC_ALL=C

# shellcheck source=utils/job_runner_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/job_runner_lib.sh"

# Options besides the common ones. conf/slurm.conf (shell assignments of these names), when
# present, sets them before the command's own options; egs/TEMPLATE/conf/slurm.conf, which
# every recipe links, documents them and holds the defaults below.
# Read through parse_options (indirect expansion).
# shellcheck disable=SC2034
{
  partition=""     # partition for CPU jobs
  gpu_partition="" # partition for jobs with --gpu > 0 (default: partition)
  time=""          # --time limit, e.g. 2-00:00:00
  account=""
  qos=""
  sbatch_opts="" # further sbatch options, split on whitespace
  # Resources (see "Resources" below and conf/slurm.conf)
  cpus_per_gpu=6  # cores per GPU
  mem_per_gpu=16G # memory per GPU when the job gives no --mem ("": none asked for)
  cpu_mem=4G      # memory of a job without GPUs when it gives no --mem ("": none asked for)
}

if [ -f conf/slurm.conf ]; then
  # shellcheck disable=SC1091
  . conf/slurm.conf
fi

help_message="Usage: $(basename "$0") [options] [JOB=A:B] LOG command [args...]
Submits jobs A..B as one Slurm job array through sbatch, waits for it, and exits 1 naming each
failed job and its log. JOB in LOG and in every argument becomes the job (array task) number.
Options:
  --gpu G            --gres=gpu:G (and --partition=\$gpu_partition when set)
  --num-threads T    --cpus-per-task=T, or G x cpus_per_gpu when that is more
  --mem M            --mem=M per job (e.g. 8G); without it, G x mem_per_gpu, or cpu_mem
                     for a job without GPUs ('': no --mem)
  --cpus-per-gpu C   [${cpus_per_gpu}]
  --mem-per-gpu M    [${mem_per_gpu}]
  --cpu-mem M        [${cpu_mem}]
  --num-nodes N      --nodes=N (one task per node: for 'LOG srun prog ...' multi-node jobs);
                     the GPUs, cores and memory above are per node
  --max-jobs-run N   at most N array tasks at once (--array=A-B%N)
  --partition P, --gpu-partition P, --time T, --account A, --qos Q, --sbatch-opts 'OPTS'
  --config FILE      shell assignments of the options above (conf/slurm.conf is read first
                     when present: the values in [] are from there or built in)
Underscore spellings (--num_threads, --num_nodes, --max_jobs_run, --cpus_per_gpu, ...) work too.
Batch scripts and Slurm's own output go to LOGDIR/q/."

# shellcheck source=utils/parse_options.sh
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

runner_check_options
runner_check_ints cpus_per_gpu
runner_check_mem "${mem_per_gpu}" --mem-per-gpu
runner_check_mem "${cpu_mem}" --cpu-mem
[ "${num_threads}" -ge 1 ] || runner_die "--num-threads must be at least 1"
[ "${num_nodes}" -ge 1 ] || runner_die "--num-nodes must be at least 1"
runner_setup "$@"
command -v sbatch >/dev/null || runner_die "sbatch not found on PATH"

# Resources, per node: a job of G GPUs gets G x cpus_per_gpu cores (its --num-threads when
# that is more) and, without --mem, G x mem_per_gpu; a job without GPUs gets --num-threads
# cores and, without --mem, cpu_mem.
cpus=${num_threads}
if [ "${gpu}" -gt 0 ]; then
  [ "$((gpu * cpus_per_gpu))" -le "${cpus}" ] || cpus=$((gpu * cpus_per_gpu))
  [ -n "${mem}" ] || [ -z "${mem_per_gpu}" ] || mem=$(runner_mem_times "${mem_per_gpu}" "${gpu}")
else
  [ -n "${mem}" ] || mem=${cpu_mem}
fi

lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/job_runner_lib.sh
log_dir=$(dirname -- "${log_template}")
name=$(basename -- "${log_template}" .log)
if [ -n "${job_var}" ]; then
  name=${name//".${job_var}"/}
  name=${name//"${job_var}"/}
fi
name=${name//[^A-Za-z0-9_.-]/_}
qdir=${log_dir}/q
mkdir -p -- "${qdir}"
runner_clear_logs

# The batch script: each task substitutes its number and runs the job like run_local.sh.
# srun does not take --cpus-per-task from the allocation (Slurm 22.05 on): SRUN_CPUS_PER_TASK
# gives the job's cores to the steps of a 'LOG srun prog ...' job.
script=${qdir}/${name}.sh
# shellcheck disable=SC2016 # the $ expressions are for the batch script, not for here
{
  echo '#!/usr/bin/env bash'
  echo "# Written by $(basename "$0"): one task of the job array for ${log_template}"
  echo 'set -uo pipefail'
  printf 'cd %q || exit 1\n' "${PWD}"
  printf 'export SRUN_CPUS_PER_TASK=%d\n' "${cpus}"
  printf '. %q\n' "${lib}"
  printf 'job_var=%q\n' "${job_var}"
  printf 'log_template=%q\n' "${log_template}"
  printf 'cmd_template=%q\n' "${cmd_template}"
  printf 'task=${SLURM_ARRAY_TASK_ID:-%d}\n' "${job_first}"
  echo 'cmd=$(runner_job_cmd "${task}")'
  echo 'runner_run_logged "$(runner_job_log "${task}")" "${cmd}" bash -c "set -o pipefail; ${cmd}"'
} >"${script}.tmp"
mv -- "${script}.tmp" "${script}"

sb=(--wait --export=ALL "--job-name=${name}" "--cpus-per-task=${cpus}" "--nodes=${num_nodes}")
[ "${num_nodes}" -le 1 ] || sb+=(--ntasks-per-node=1)
[ -z "${mem}" ] || sb+=("--mem=${mem}")
if [ "${gpu}" -gt 0 ]; then
  sb+=("--gres=gpu:${gpu}")
  [ -z "${gpu_partition}" ] || partition=${gpu_partition}
fi
[ -z "${partition}" ] || sb+=("--partition=${partition}")
[ -z "${time}" ] || sb+=("--time=${time}")
[ -z "${account}" ] || sb+=("--account=${account}")
[ -z "${qos}" ] || sb+=("--qos=${qos}")
if [ -n "${job_var}" ]; then
  array="${job_first}-${job_last}"
  [ "${max_jobs_run}" -eq 0 ] || array+="%${max_jobs_run}"
  sb+=("--array=${array}" "--output=${qdir}/${name}.%a.out")
else
  sb+=("--output=${qdir}/${name}.out")
fi
read -r -a extra <<<"${sbatch_opts}"
sb+=("${extra[@]}" "${script}")

# sbatch waits in the background so that a signal reaches the traps below at once: a driver
# stopped by Ctrl-C, kill or a lost login session cancels its jobs instead of leaving them to
# run on, and to write the same outputs as the jobs a rerun would submit.
jobid_file=${qdir}/${name}.jobid
rm -f -- "${jobid_file}"
sbatch --parsable "${sb[@]}" >"${jobid_file}" &
sbatch_pid=$!
cancel_jobs() {
  local id=""
  [ ! -s "${jobid_file}" ] || id=$(cut -d';' -f1 <"${jobid_file}")
  kill "${sbatch_pid}" 2>/dev/null || true
  if [ -n "${id}" ]; then
    scancel "${id}" || true
    echo "$(basename "$0"): interrupted: cancelled Slurm job ${id} (${log_template})" >&2
  else
    echo "$(basename "$0"): interrupted before Slurm gave a job id: check squeue for job ${name}" >&2
  fi
  exit "$1"
}
trap 'cancel_jobs 130' INT
trap 'cancel_jobs 143' TERM
trap 'cancel_jobs 129' HUP
for _ in $(seq 100); do  # the job id, for the log, once sbatch has it (it prints nothing more)
  if [ -s "${jobid_file}" ] || ! kill -0 "${sbatch_pid}" 2>/dev/null; then break; fi
  sleep 0.1
done
[ ! -s "${jobid_file}" ] || echo "Submitted Slurm job $(cut -d';' -f1 <"${jobid_file}") (${log_template})" >&2
sbatch_rc=0
wait "${sbatch_pid}" || sbatch_rc=$?
trap - INT TERM HUP
if ! runner_report; then
  echo "$(basename "$0"): Slurm's own output is in ${qdir}/" >&2
  exit 1
fi
[ "${sbatch_rc}" -eq 0 ] || runner_die "sbatch exited with code ${sbatch_rc} although every job log reports success"
