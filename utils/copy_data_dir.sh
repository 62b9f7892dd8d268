#!/usr/bin/env bash
# Copies the files of a data dir (not its subdirectories) to another directory.
set -euo pipefail
export LC_ALL=C

usage="Usage: $(basename "$0") SRC DEST
Copies every plain file directly in SRC (utt2spk, text, *.scp, ...; not split*/ or .backup/)
into DEST, creating it. Paths inside scp values are copied as written."

case "${1:-}" in -h | --help) echo "${usage}" && exit 0 ;; -?*) echo "${usage}" >&2 && exit 1 ;; esac
[ $# -eq 2 ] || { echo "${usage}" >&2; exit 1; }
src=${1%/}
dest=${2%/}
[ -d "${src}" ] || { echo "$(basename "$0"): '${src}' is not a directory" >&2; exit 1; }
mkdir -p -- "${dest}"
[ "$(cd "${src}" && pwd -P)" != "$(cd "${dest}" && pwd -P)" ] ||
  { echo "$(basename "$0"): SRC and DEST are the same directory" >&2; exit 1; }
copied=0
for path in "${src}"/*; do
  [ -f "${path}" ] || continue
  cp -p -- "${path}" "${dest}/.${path##*/}.tmp.$$"
  mv -f -- "${dest}/.${path##*/}.tmp.$$" "${dest}/${path##*/}"
  copied=$((copied + 1))
done
[ "${copied}" -gt 0 ] || { echo "$(basename "$0"): no files in '${src}'" >&2; exit 1; }
