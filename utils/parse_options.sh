#!/usr/bin/env bash
# Parse --long-options for the script that sources this file.
#
#   --foo-bar VALUE   sets the existing variable foo_bar (dashes become underscores);
#                     an option whose variable is not already set is an error.
#   --foo-bar=VALUE   same.
#   --config FILE     sources FILE (shell assignments) before the remaining options.
#   --help, -h        prints the caller's $help_message and exits 0.
#
# A script that sets declared_options (names, one a line) before sourcing this accepts those
# options only: its other variables (and the environment's) are not options.
# A variable whose current value is "true" or "false" only accepts "true" or "false".
# Parsing stops at the first argument that does not start with "--"; the rest stay in "$@".
# Source it, do not run it:  . utils/parse_options.sh || exit 1

_po_script=$(basename "$0")

while [ $# -gt 0 ]; do
  case "$1" in
    --help | -h)
      if [ -z "${help_message:-}" ]; then
        echo "${_po_script}: no help message set" >&2
      else
        printf '%s\n' "${help_message}" >&2
      fi
      exit 0
      ;;
    --config)
      [ $# -ge 2 ] || { echo "${_po_script}: --config needs a file" >&2; exit 1; }
      [ -f "$2" ] || { echo "${_po_script}: config file '$2' not found" >&2; exit 1; }
      # shellcheck disable=SC1090
      . "$2" || { echo "${_po_script}: failed to source config '$2'" >&2; exit 1; }
      shift 2
      ;;
    --*=*)
      _po_opt=${1%%=*}
      _po_val=${1#*=}
      shift
      set -- "${_po_opt}" "${_po_val}" "$@"
      ;;
    --*)
      _po_name=${1#--}
      _po_name=${_po_name//-/_}
      if ! [[ ${_po_name} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "${_po_script}: invalid option '$1'" >&2
        exit 1
      fi
      if [ -z "${!_po_name+set}" ] || { [ -n "${declared_options+set}" ] &&
        [[ $'\n'${declared_options}$'\n' != *$'\n'${_po_name}$'\n'* ]]; }; then
        echo "${_po_script}: unknown option '$1' (see --help)" >&2
        exit 1
      fi
      [ $# -ge 2 ] || { echo "${_po_script}: option '$1' needs a value" >&2; exit 1; }
      _po_old=${!_po_name}
      if [ "${_po_old}" = true ] || [ "${_po_old}" = false ]; then
        if [ "$2" != true ] && [ "$2" != false ]; then
          echo "${_po_script}: option '$1' takes true or false, not '$2'" >&2
          exit 1
        fi
      fi
      printf -v "${_po_name}" '%s' "$2"
      shift 2
      ;;
    *)
      break
      ;;
  esac
done

unset _po_script _po_opt _po_val _po_name _po_old
true
