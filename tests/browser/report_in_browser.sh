#!/usr/bin/env bash
# The report of `mmp train --compare` rendered by headless Chromium: every plot is laid
# out with a size and draws each run's curve with a non-empty extent. The report runs
# no script; a copy of it gets one that measures the rendered page and writes what it
# found into the DOM, which Chromium dumps. A screenshot is kept as the test's artefact.
#   report_in_browser.sh MMP CHROMIUM ARTEFACT_DIR
set -euo pipefail
mmp="$1" chromium="$2" artefacts="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$artefacts"

"$mmp" train --compare one-joint,uniform,mmpareto --epochs 2 --samples 64 --test-samples 32 --width 2 --batch 16 \
  --quiet --out "$work/runs" > "$work/train.log"
report="$work/runs/report.html"
[ -s "$report" ] || { echo "FAILED: no report written"; cat "$work/train.log"; exit 1; }

checked="$work/checked.html"
read -r -d '' checker <<'SCRIPT' || true
<script>
const figures = [...document.querySelectorAll("figure.plot")];
const problems = [];
for (const f of figures) {
  const svg = f.querySelector("svg");
  if (!svg) { problems.push(f.id + ": no svg"); continue; }
  const box = svg.getBoundingClientRect();
  if (box.width < 300 || box.height < 150) problems.push(f.id + ": laid out " + box.width + "x" + box.height);
  const curves = [...svg.querySelectorAll("g[id*=gnuplot_plot_] path")].filter(p => {
    const b = p.getBBox();
    return b.width > 0 || b.height > 0;
  });
  if (curves.length < 3) problems.push(f.id + ": " + curves.length + " curves drawn");
}
document.body.setAttribute("data-check", "figures=" + figures.length + " problems=" + problems.join("; "));
</script>
SCRIPT
html="$(cat "$report")"
printf '%s\n' "${html/<\/body>/$checker</body>}" > "$checked"
grep -q 'data-check' "$checked" || { echo "FAILED: the report has no </body>"; exit 1; }

flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$work/profile")
timeout 120 "$chromium" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$checked" \
  > "$work/dom.html" 2> "$work/chromium.log" || { echo "FAILED: chromium"; tail -20 "$work/chromium.log"; exit 1; }
timeout 120 "$chromium" "${flags[@]}" --window-size=1100,9000 --screenshot="$artefacts/report.png" \
  "file://$report" >> "$work/chromium.log" 2>&1 || true
cp "$report" "$artefacts/report.html"

check="$(grep -o 'data-check="[^"]*"' "$work/dom.html" || true)"
echo "rendered: $check"
echo "artefacts: $artefacts/report.png, $artefacts/report.html"
[ "$check" = 'data-check="figures=15 problems="' ] || { echo "FAILED: the rendered report is missing plots"; exit 1; }
[ -s "$artefacts/report.png" ] || { echo "FAILED: no screenshot"; exit 1; }
echo "PASSED"
