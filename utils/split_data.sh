#!/usr/bin/env bash
# Splits a data dir into N sub data dirs DATA/splitN/1..N for parallel jobs.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [--per-utt] DATA N
Writes DATA/splitN/1..N, each a data dir with every per-utterance table of DATA (utt2spk, text,
*.scp, utt2*, rejects) restricted to its share of utterances, spk2utt rebuilt and per-speaker
tables restricted to its speakers. Shares are whole speakers balanced by utterance count, or,
with --per-utt, contiguous blocks of utterances. Does nothing when DATA/splitN is newer than
DATA's tables and was made the same way."

mode=spk
while [ $# -gt 0 ]; do
  case "$1" in
    --per-utt) mode=utt && shift ;;
    -h | --help) echo "${usage}" && exit 0 ;;
    -?*) echo "${usage}" >&2 && dd_die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "${usage}" >&2; exit 1; }
data=$1
n=$2
[[ ${n} =~ ^[1-9][0-9]*$ ]] || dd_die "N must be a positive integer, not '${n}'"
[ -f "${data}/utt2spk" ] || dd_die "${data}/utt2spk not found"

mapfile -t utt_files < <(dd_utt_files "${data}")
mapfile -t spk_files < <(dd_spk_files "${data}")
tables=("${utt_files[@]}" "${spk_files[@]}")
[ ! -f "${data}/rejects" ] || tables+=(rejects)
dest=${data}/split${n}
stamp=${dest}/.split_done
expected="mode=${mode} tables=${tables[*]}"

up_to_date() {
  local name
  [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${expected}" ] || return 1
  for name in "${tables[@]}"; do
    [ "${stamp}" -nt "${data}/${name}" ] || return 1
  done
}
up_to_date && exit 0

tmp=$(mktemp -d "${data}/.split${n}.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT
dd_assign_parts "${n}" "${mode}" "${data}/utt2spk" "${data}/utt2spk" >"${tmp}/assign"
for name in "${utt_files[@]}" rejects; do
  [ -f "${data}/${name}" ] || continue
  for ((part = 1; part <= n; part++)); do
    mkdir -p "${tmp}/${part}"
    echo "${tmp}/${part}/${name}"
  done >"${tmp}/outputs"
  dd_write_parts "${tmp}/assign" "${data}/${name}" "${tmp}/outputs"
done
for ((part = 1; part <= n; part++)); do
  dd_utt2spk_to_spk2utt "${tmp}/${part}/utt2spk" >"${tmp}/${part}/spk2utt"
  for name in "${spk_files[@]}"; do
    dd_filter "${tmp}/${part}/spk2utt" "${data}/${name}" >"${tmp}/${part}/${name}"
  done
done
rm -f "${tmp}/assign" "${tmp}/outputs"
echo "${expected}" >"${tmp}/.split_done"
rm -rf -- "${dest}"
mv -- "${tmp}" "${dest}"
trap - EXIT
