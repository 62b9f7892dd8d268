#!/usr/bin/env bash
# Keeps (or with --exclude drops) the lines of a table whose key is listed in an id list.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [--exclude] [-f FIELD] IDLIST IN.scp
Prints the lines of IN.scp whose FIELD-th field (default 1, the key) is the first field of a
line of IDLIST; with --exclude, the lines whose field is not. Order is kept; '-' reads stdin."

exclude=0
field=1
while [ $# -gt 0 ]; do
  case "$1" in
    --exclude) exclude=1 && shift ;;
    -f) [ $# -ge 2 ] || dd_die "-f needs a field number"; field=$2 && shift 2 ;;
    -h | --help) echo "${usage}" && exit 0 ;;
    -?*) echo "${usage}" >&2 && dd_die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "${usage}" >&2; exit 1; }
[[ ${field} =~ ^[1-9][0-9]*$ ]] || dd_die "-f takes a field number, not '${field}'"
[ "$1" = - ] || [ -f "$1" ] || dd_die "id list '$1' not found"
[ "$2" = - ] || [ -f "$2" ] || dd_die "input '$2' not found"
[ "$1" != - ] || [ "$2" != - ] || dd_die "only one of IDLIST and IN.scp can be stdin"
dd_filter "$1" "$2" "${field}" "${exclude}"
