#!/usr/bin/env bash
# Reproduces the "one real step" of docs/gradient-integration.md: the small model and
# first batch of tests/fixtures/step_methods.safetensors, one MMPareto step.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
/usr/bin/python3 - "$root" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/tools/reference")
import safetensors_io as st
f = st.load(sys.argv[1] + "/tests/fixtures/step_methods.safetensors")
st.save(sys.argv[2] + "/weights.safetensors", {k[8:]: v for k, v in f.items() if k.startswith("weights/")})
st.save(sys.argv[2] + "/batch.safetensors", {k: f[k] for k in ("audio", "visual", "label")})
PY
cd "$work"
echo "\$ mmp step --weights weights.safetensors --batch batch.safetensors --out step.safetensors --method mmpareto --lr 0.05"
"$root/build/bin/mmp" step --weights weights.safetensors --batch batch.safetensors --out step.safetensors \
  --method mmpareto --lr 0.05
