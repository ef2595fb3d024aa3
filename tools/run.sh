#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs `mmp` with the given
# arguments: installs missing packages, builds Release, runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/install-deps.sh"
"$root/tools/build.sh" >/dev/null
exec "${MMP_BUILD_DIR:-$root/build}/tools/mmp" "$@"
