#!/usr/bin/env bash
# The Python environment of the fixture scripts: Debian's python3-torch and
# python3-torchaudio (CPU, PyTorch 1.13) plus librosa from PyPI in a venv that sees
# the system packages. numpy stays below 2, which Debian's PyTorch was built against.
# Prints the venv's python.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${MMP_REFERENCE_VENV:-$root/build/reference-venv}"
if [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-torch python3-torchaudio \
    python3-torchvision python3-pil >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
  "$venv/bin/pip" install -q "numpy<2" librosa >&2
fi
echo "$venv/bin/python"
