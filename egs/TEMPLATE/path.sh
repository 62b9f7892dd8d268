# shellcheck shell=bash
# Sourced by every recipe: activates the environment that tools/install.sh made.
MAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MAIN_ROOT
if [ ! -f "${MAIN_ROOT}/tools/venv/bin/activate" ]; then
  echo "path.sh: no environment at ${MAIN_ROOT}/tools/venv; run 'make -C \"${MAIN_ROOT}\" install'" >&2
  return 1
fi
# shellcheck disable=SC1091
. "${MAIN_ROOT}/tools/venv/bin/activate"
export PATH="${MAIN_ROOT}/utils:${PATH}"
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
export PYTHONDONTWRITEBYTECODE=1
# One thread per job: parallelism comes from --nj.
export OMP_NUM_THREADS=1
export MKL_NUM_THREADS=1
