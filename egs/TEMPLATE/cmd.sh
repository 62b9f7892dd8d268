# shellcheck shell=bash
# How jobs are run. Every command takes the Kaldi interface:
#   ${cmd} [--mem 4G] [--gpu 1] [--num-threads 2] [--max-jobs-run 4] JOB=1:N LOG.JOB.log prog args...
# The .pl names are the ones ESPnet's launcher recognises (utils/ links them to our bash runners).
# Choose the backend here: local (this machine), slurm (sbatch/srun), ssh (hosts in conf/hosts).
cmd_backend=${cmd_backend:-local}

case "${cmd_backend}" in
  local)
    train_cmd="run.pl"
    cuda_cmd="run.pl"
    decode_cmd="run.pl"
    ;;
  slurm)
    # Partitions and defaults: edit conf/slurm.conf or pass --partition through the command.
    train_cmd="slurm.pl"
    cuda_cmd="slurm.pl"
    decode_cmd="slurm.pl"
    ;;
  ssh)
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
