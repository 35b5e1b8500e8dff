#!/usr/bin/env bash
# An English text-to-speech recipe: WordNet's usage examples read by flite's voices (each voice
# a speaker label) → a 16 kHz dB training set with transcripts → a 3-tier MelNet conditioned on
# text (tier 1) and speaker, trained for a budget in hours → validation NLL per round and
# samples of held-out sentences with every voice.
#
#   scripts/recipes/tts-en.sh [HOURS] [OUT]        # default: 4 hours into out/tts-en
#
# The shipped models/tts-en is this recipe's default run (4 hours, 6 rounds) on 2 cores. A rerun
# continues models/tts-en; to reproduce it from scratch, give another MODEL directory.
#
# Fetched at run time with `apt-get download` and never committed (their copyright files are
# copied next to the corpus): flite 2.2 (Debian `flite`, `libflite1`; code and voices under
# CMU's BSD-style licence) and WordNet 3.0 (`wordnet-base`; the WordNet 3.0 licence).
# Training runs in ROUNDS rounds as in `speech.sh`: run the same command again after an
# interruption (or on another machine, with OUT copied) and it goes on from the last
# checkpoint. Tier 1 (the one that reads the text) gets TIER1_SHARE of the time, the upper
# tiers (text-free upsamplers) share the rest equally. Environment: SENTENCES (training
# sentences, default 3000), HELDOUT (default 100), VOICES (default "slt rms awb kal16"), N_MELS
# (default 64), ROUNDS (default 6), WIDTH (default 64), LR (Adam's learning rate, default 5e-3),
# LR_HALVE (halve it every this many epochs, default 3; 1e-2 constant spiked tier 1's loss after
# 1.5 epochs), TIER1_SHARE (default 0.7), MODEL (default models/tts-en: the repository's shipped
# model, which `melnet say` uses and which a rerun continues), MELNET (the program; default
# target/release/melnet, built if missing), STAGE (`corpus` stops after the corpus).
set -euo pipefail
hours="${1:-4}"
out="${2:-out/tts-en}"
sentences="${SENTENCES:-3000}"
heldout="${HELDOUT:-100}"
voices="${VOICES:-slt rms awb kal16}"
n_mels="${N_MELS:-64}"
rounds="${ROUNDS:-6}"
width="${WIDTH:-64}"
lr="${LR:-5e-3}"
lr_halve="${LR_HALVE:-3}"
tier1_share="${TIER1_SHARE:-0.7}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
melnet="${MELNET:-$root/target/release/melnet}"
[ -x "$melnet" ] || (cd "$root" && cargo build --release -q -p melnet-cli)
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# 1. The tools, unpacked where the recipe runs (no installation).
tools="$out/tools"
if [ ! -x "$tools/usr/bin/flite" ] || [ ! -f "$tools/usr/share/wordnet/data.noun" ]; then
  mkdir -p "$out/download"
  (cd "$out/download" && apt-get download flite libflite1 wordnet-base)
  for deb in "$out"/download/*.deb; do dpkg-deb -x "$deb" "$tools"; done
fi
export LD_LIBRARY_PATH="$tools/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
flite="$tools/usr/bin/flite"

# 2. The corpus: sentences, then one 16 kHz recording per sentence and voice.
corpus="$out/corpus"
if [ ! -f "$corpus/.complete" ]; then
  python3 "$root/scripts/recipes/tts_en_text.py" "$tools/usr/share/wordnet" "$sentences" \
    "$heldout" "$corpus"
  mkdir -p "$corpus/LICENCES"
  cp "$tools/usr/share/doc/flite/copyright" "$corpus/LICENCES/flite"
  cp "$tools/usr/share/doc/wordnet-base/copyright" "$corpus/LICENCES/wordnet"
  for list in metadata heldout; do
    dir="$corpus/audio"
    [ "$list" = heldout ] && dir="$corpus/heldout"
    for voice in $voices; do
      mkdir -p "$dir/$voice"
      while IFS='|' read -r id text; do
        [ -f "$dir/$voice/$id.wav" ] || "$flite" -voice "$voice" -t "$text" -o "$dir/$voice/$id.wav"
      done < "$corpus/$list.csv"
    done
  done
  touch "$corpus/.complete"
fi
[ "${STAGE:-all}" = corpus ] && exit 0

# 3. The training set: 16 kHz, n_fft 1024, hop 256 (62.5 frames/s), N_MELS mels up to 8 kHz,
# dB, silence below −40 dB trimmed; the voice (folder) is the speaker label.
"$melnet" prepare "$corpus/audio" -o "$out/dataset" --sr 16000 --n-fft 1024 --hop-length 256 \
  --n-mels "$n_mels" --fmax 8000 --db --trim-silence 40 --labels-from-folders -q
"$melnet" stats "$out/dataset" --png "$out/dataset.png"

# 4. Training in rounds, each tier in turn, with the validation NLL of all three after each.
model="${MODEL:-$root/models/tts-en}"
minutes() { # tier → its minutes per round
  python3 -c "s = $tier1_share if $1 == 1 else (1 - $tier1_share) / 2; print($hours * 60 * s / $rounds)"
}
progress="$out/progress.csv"
[ -f "$progress" ] || echo "round,minutes,steps,tier_nll" > "$progress"
for round in $(seq 1 "$rounds"); do
  if grep -q "^$round," "$progress"; then continue; fi
  : > "$out/train-$round.txt"
  for tier in 1 2 3; do
    resume=()
    [ -f "$model/model.json" ] && resume=(--resume)
    "$melnet" train --data "$out/dataset" --model "$model" --transcripts "$corpus/metadata.csv" --use-labels \
      --tiers 3 --tier "$tier" --width "$width" --optimizer adam --lr "$lr" \
      --lr-halve-every-epochs "$lr_halve" --steps 1000000000 --minutes "$(minutes "$tier")" \
      --valid-every 100 --checkpoint-every 50 -q "${resume[@]}" | tee -a "$out/train-$round.txt"
  done
  "$melnet" eval --model "$model" --data "$out/dataset" > "$out/eval-$round.txt"
  steps="$(grep -o 'step [0-9]*' "$out/train-$round.txt" | cut -d' ' -f2 | paste -sd/)"
  tiers="$(grep -o '^tier [0-9]*: [-0-9.]*' "$out/eval-$round.txt" | cut -d' ' -f3 | paste -sd/)"
  echo "$round,$(python3 -c "print($round * $hours * 60 / $rounds)"),$steps,$tiers" >> "$progress"
done
cat "$progress"
