# shellcheck shell=bash
# How jobs are run. Every command takes the Kaldi interface:
#   ${cmd} [--mem 4G] [--gpu 1] [--num-threads 2] [--max-jobs-run 4] JOB=1:N LOG.JOB.log prog args...
# The .pl names are the ones ESPnet's launcher recognises (utils/ links them to our bash runners).
# The stage scripts ask cuda_cmd for GPUs with --gpu N: stages 3-4's training (ESPnet's
# launcher passes --gpu ngpu), stage 5 with --gpu_inference true (--gpu 1 per job), and with
# --ngpu > 0 stage 6's vocoder training (--gpu 1) and stage 7's ASR training (--gpu ngpu) and
# decoding (--gpu 1 per job).
# Choose the backend here: local (this machine), slurm (sbatch/srun), ssh (hosts in conf/hosts).
cmd_backend=${cmd_backend:-local}

case "${cmd_backend}" in
  local)
    # Jobs with --gpu N get N GPUs each through CUDA_VISIBLE_DEVICES, round robin over the
    # visible ones (CUDA_VISIBLE_DEVICES if set, else nvidia-smi -L); --mem and
    # --num-threads are not enforced.
    train_cmd="run.pl"
    cuda_cmd="run.pl"
    decode_cmd="run.pl"
    ;;
  slurm)
    # conf/slurm.conf sets the partitions (gpu_partition for --gpu jobs), time limit, account
    # and the resources: a job of N GPUs gets --gres=gpu:N, N x cpus_per_gpu cores and
    # N x mem_per_gpu memory (defaults 6 and 16G: a training rank and its 4 loader workers);
    # a job without GPUs gets --num-threads cores and cpu_mem (4G). Options given with the
    # command win, e.g. cuda_cmd="slurm.pl --mem 100G" or --partition.
    train_cmd="slurm.pl"
    cuda_cmd="slurm.pl"
    decode_cmd="slurm.pl"
    ;;
  ssh)
    # --gpu, --mem and --num-threads are not enforced: each host runs its jobs as they come.
    train_cmd="ssh.pl"
    cuda_cmd="ssh.pl"
    decode_cmd="ssh.pl"
    ;;
  *)
    echo "cmd.sh: unknown cmd_backend '${cmd_backend}'" >&2
    return 1
    ;;
esac
export train_cmd cuda_cmd decode_cmd
