#!/usr/bin/env bash
# Splits a table into parts: balanced by utterance, or by speaker with --utt2spk.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [--utt2spk UTT2SPK] IN.scp OUT1 [OUT2 ...]
Writes the lines of IN.scp into OUT1..OUTn, keeping their order. Without --utt2spk: contiguous
blocks whose sizes differ by at most one line. With --utt2spk: all lines of a speaker go to the
same output, the outputs balanced by line count (fails if there are fewer speakers than
outputs)."

utt2spk=""
while [ $# -gt 0 ]; do
  case "$1" in
    --utt2spk) [ $# -ge 2 ] || dd_die "--utt2spk needs a file"; utt2spk=$2 && shift 2 ;;
    --utt2spk=*) utt2spk=${1#*=} && shift ;;
    -h | --help) echo "${usage}" && exit 0 ;;
    -?*) echo "${usage}" >&2 && dd_die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "${usage}" >&2; exit 1; }
in=$1
shift
[ -f "${in}" ] || dd_die "input '${in}' not found"
[ -z "${utt2spk}" ] || [ -f "${utt2spk}" ] || dd_die "utt2spk '${utt2spk}' not found"

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
if [ -n "${utt2spk}" ]; then
  dd_assign_parts $# spk "${in}" "${utt2spk}" >"${work}/assign"
else
  dd_assign_parts $# utt "${in}" >"${work}/assign"
fi
for out in "$@"; do
  mkdir -p -- "$(dirname -- "${out}")"
  echo "${out}.tmp.$$"
done >"${work}/outputs"
dd_write_parts "${work}/assign" "${in}" "${work}/outputs"
for out in "$@"; do
  mv -f -- "${out}.tmp.$$" "${out}"
done
