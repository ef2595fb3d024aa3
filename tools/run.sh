#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs `mmp` with the given
# arguments: installs missing packages, builds Release, runs. Without arguments it
# runs `mmp train`: one-joint, uniform and MMPareto on the built-in data, compared.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/install-deps.sh"
"$root/tools/build.sh" >/dev/null
[ $# -eq 0 ] && set -- train
exec "${MMP_BUILD_DIR:-$root/build}/bin/mmp" "$@"
