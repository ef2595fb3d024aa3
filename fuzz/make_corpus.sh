#!/usr/bin/env bash
# Writes the fuzzers' seed corpora into fuzz/corpus/<reader>/ from small valid files that
# mmp itself makes (mmp synth, prepare, train). Run once; the corpora are committed, and
# inputs that once crashed a reader are added beside the seeds by hand.
#   fuzz/make_corpus.sh MMP
set -euo pipefail
mmp="$(realpath "$1")"
corpus="$(cd "$(dirname "$0")" && pwd)/corpus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$corpus"
mkdir -p "$corpus"/{safetensors,cache_record,split_list,jpeg,cache,config,media}

for layout in cremad kinetics-sounds ave; do
  "$mmp" synth --out "$work/$layout" --layout "$layout" --clips-per-class 2 --width 32 --height 24 > /dev/null
done

# safetensors: a checkpoint and a resume point of a width-1 model.
"$mmp" train --method mmpareto --epochs 1 --samples 16 --test-samples 8 --batch 8 --width 1 --quiet \
  --out "$work/run" > /dev/null
cp "$work/run/mmpareto/last.safetensors" "$corpus/safetensors/checkpoint.safetensors"
cp "$work/run/mmpareto/resume.safetensors" "$corpus/safetensors/resume.safetensors"

# config: the paper's configs and a run's resolved options.
cp "$(dirname "$0")/../configs/cremad/mmpareto.toml" "$corpus/config/cremad-mmpareto.toml"
cp "$(dirname "$0")/../configs/ave/ogm-ge.toml" "$corpus/config/ave-ogm-ge.toml"
cp "$work/run/mmpareto/config.toml" "$corpus/config/resolved.toml"

# split_list: a selector byte (layout, --visual auto), train.csv, NUL, test.csv.
selector=0
for layout in cremad kinetics-sounds ave; do
  { printf "\\x$(printf %02x "$selector")"; cat "$work/$layout/train.csv"; printf '\0'; cat "$work/$layout/test.csv"; } \
    > "$corpus/split_list/$layout"
  selector=$((selector + 1))
done

# jpeg: four crop-box bytes, then a frame as mmp synth writes it and one as mmp prepare does.
first_frame=$(find "$work/cremad/Image-01-FPS" -name '*.jpg' | sort | head -1)
{ printf '\x20\x40\xc0\x80'; cat "$first_frame"; } > "$corpus/jpeg/synth.jpg"

# media: a WAV and FLV of CREMA-D's layout, an MP4 and WAV of Kinetics-Sounds'.
cp "$(find "$work/cremad/AudioWAV" -name '*.wav' | sort | head -1)" "$corpus/media/cremad.wav"
cp "$(find "$work/cremad/VideoFlash" -type f | sort | head -1)" "$corpus/media/cremad.flv"
for f in $(find "$work/kinetics-sounds/video" -type f | sort | head -1); do cp "$f" "$corpus/media/kinetics-sounds.${f##*.}"; done

# cache and cache_record: a prepared cache of the CREMA-D set (JPEG and raw frames of 16
# pixels), its manifest's audio shape made 2x2 so that audio.f32 stays small; records are
# what a preparation stopped by a bad clip keeps in .partial/.
for format in jpeg raw; do
  "$mmp" prepare --root "$work/cremad" --out "$work/cache-$format" --frame-short-side 16 --frame-format "$format" \
    --no-progress > /dev/null
  python3 - "$work/cache-$format" "$corpus/cache/$format" <<'EOF'
import json, struct, sys
cache, out = sys.argv[1], sys.argv[2]
manifest = json.load(open(cache + "/manifest.json"))
manifest["audio"]["shape"] = [2, 2]
text = json.dumps(manifest).encode()
frames = open(cache + "/frames.bin", "rb").read()
audio_bytes = len(manifest["samples"]) * 2 * 2 * 4
open(out, "wb").write(struct.pack("<II", audio_bytes, len(text)) + text + frames)
# The first prepared frame, as a JPEG seed of the decoder too.
if manifest["frames"]["format"] == "jpeg":
    offset, size = manifest["samples"][0]["frames"][0][:2]
    open(out.replace("/cache/", "/jpeg/") + "-prepared.jpg", "wb").write(b"\x00\x00\xff\xff" + frames[offset:offset + size])
EOF
done
last_test=$(tail -1 "$work/cremad/test.csv" | cut -d, -f1)
head -c 100 "$work/cremad/AudioWAV/$last_test.wav" > "$work/truncated.wav"
mv "$work/truncated.wav" "$work/cremad/AudioWAV/$last_test.wav"
"$mmp" prepare --root "$work/cremad" --out "$work/stopped" --audio stft --workers 1 --no-progress > /dev/null 2>&1 || true
for f in $(find "$work/stopped/.partial" -name '*.rec' | sort | head -2); do cp "$f" "$corpus/cache_record/"; done

du -sh "$corpus"/*
