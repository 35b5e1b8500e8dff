#!/usr/bin/env bash
# A real speech recipe: about 1 h 45 min of acted Czech dialogue (the Debian package
# fillets-ng-data-cs 1.0.1-1.1, voices of the game Fish Fillets NG, 22.05 kHz Ogg Vorbis,
# GPL-2 — fetched at run time with `apt-get download`, never committed; its copyright file is
# copied next to the data) → an 80-mel dB training set → a 3-tier MelNet trained for a budget
# in hours on this machine's cores → per-tier and full-resolution validation NLL over time,
# samples (unconditional, and primed from a held-out line) and the real held-out line.
#
#   scripts/recipes/speech.sh [HOURS] [OUT]        # default: 2 hours into out/speech
#
# Training runs in ROUNDS rounds; in each every tier trains HOURS/(3·ROUNDS) of the time, then
# `melnet eval` scores the validation windows (so the NLL is known at every round). Run the
# same command again after an interruption: finished rounds are skipped, the interrupted one
# resumes every tier from its last checkpoint (with its whole round budget again).
# Environment: ROUNDS (default 4), MELNET (the program; default target/release/melnet, built
# if missing), WIDTH (default 64), FRAMES (the training window, default 128), THREADS (worker
# threads of training; default one per core — set 1 to train the text and blank runs side by side).
#
# TEXT=text trains a text- and speaker-conditioned model instead: the game's Czech transcripts
# (Debian `fillets-ng-data`, GPL-2, also fetched at run time: speech_cs_text.py) and the
# character of each line (the ID's middle part) as its label, lines of 1–MAX_SECONDS seconds
# (default 6) in `dataset-text`, windows from each line's start; TEXT=blank trains the same
# model on the same windows with every transcript replaced by the one letter `a` — the
# ablation whose validation NLL the text model's is compared with. Each goes into `model-$TEXT` with
# `progress-$TEXT.csv`; the text model then says a held-out line as its speaker.
# The weights of these runs are trained on GPL-2 data and are not shipped.
set -euo pipefail
hours="${1:-2}"
out="${2:-out/speech}"
rounds="${ROUNDS:-4}"
width="${WIDTH:-64}"
frames="${FRAMES:-128}"
text="${TEXT:-}"
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
case "$text" in "" | text | blank) ;; *) echo "TEXT must be text or blank" >&2; exit 2 ;; esac
root="$(cd "$(dirname "$0")/../.." && pwd)"
melnet="${MELNET:-$root/target/release/melnet}"
[ -x "$melnet" ] || (cd "$root" && cargo build --release -q -p melnet-cli)
mkdir -p "$out"

# 1. The corpus.
corpus="$out/corpus"
if [ ! -d "$corpus/sound" ]; then
  deb="$out/download/fillets-ng-data-cs_1.0.1-1.1_all.deb"
  mkdir -p "$out/download"
  [ -f "$deb" ] || (cd "$out/download" && apt-get download fillets-ng-data-cs=1.0.1-1.1)
  rm -rf "$out/unpacked"
  dpkg-deb -x "$deb" "$out/unpacked"
  mkdir -p "$corpus"
  cp "$out/unpacked/usr/share/doc/fillets-ng-data-cs/copyright" "$corpus/COPYRIGHT"
  mv "$out/unpacked/usr/share/games/fillets-ng/sound" "$corpus/sound"
  rm -rf "$out/unpacked"
fi
if [ -n "$text" ] && [ ! -f "$corpus/text/metadata.csv" ]; then
  deb="$out/download/fillets-ng-data_1.0.1-1.1_all.deb"
  [ -f "$deb" ] || (cd "$out/download" && apt-get download fillets-ng-data=1.0.1-1.1)
  rm -rf "$out/unpacked"
  dpkg-deb -x "$deb" "$out/unpacked"
  python3 "$root/scripts/recipes/speech_cs_text.py" \
    "$out/unpacked/usr/share/games/fillets-ng/script" "$corpus/sound" "$corpus/text"
  cp "$out/unpacked/usr/share/doc/fillets-ng-data/copyright" "$corpus/text/COPYRIGHT"
  rm -rf "$out/unpacked"
fi

# 2. The training set: the `speech` preset (22.05 kHz, n_fft 1024, hop 256, 80 mels up to
# 8 kHz), dB, leading and trailing silence below −40 dB cut, lines under a second skipped.
# With TEXT: only lines with a transcript, at most MAX_SECONDS long, labelled by character.
dataset="$out/dataset"
conditioning=(--frames "$frames")
model="$out/model"
progress="$out/progress.csv"
if [ -n "$text" ]; then
  dataset="$out/dataset-text"
  "$melnet" prepare "$corpus/sound" -o "$dataset" --preset speech --db --trim-silence 40 \
    --min-seconds 1 --max-seconds "${MAX_SECONDS:-6}" --labels "$corpus/text/labels.csv" -q
  transcripts="$corpus/text/metadata.csv"
  [ "$text" = blank ] && transcripts="$corpus/text/blank.csv"
  # Adam as the English TTS recipe's (RMSProp at 3e-4 is slow to find an alignment).
  conditioning=(--transcripts "$transcripts" --use-labels --optimizer adam --lr 5e-3 --lr-halve-every-epochs 3)
  model="$out/model-$text"
  progress="$out/progress-$text.csv"
else
  "$melnet" prepare "$corpus/sound" -o "$dataset" --preset speech --db --trim-silence 40 \
    --min-seconds 1 -q
fi
"$melnet" stats "$dataset" --png "$dataset.png"

# 3. Training in rounds, with the validation NLL after each.
minutes="$(python3 -c "print($hours * 60 / (3 * $rounds))")"
[ -f "$progress" ] || echo "round,minutes,steps,tier_nll,full_nll_nats,full_nll_bits" > "$progress"
for round in $(seq 1 "$rounds"); do
  if grep -q "^$round," "$progress"; then continue; fi
  resume=()
  [ -f "$model/model.json" ] && resume=(--resume)
  "$melnet" train --data "$dataset" --model "$model" --tiers 3 --tier all --width "$width" \
    "${conditioning[@]}" --steps 1000000000 --minutes "$minutes" --valid-every 100 \
    --checkpoint-every 50 -q "${threads[@]}" "${resume[@]}" | tee "$out/train$text-$round.txt"
  "$melnet" eval --model "$model" --data "$dataset" > "$out/eval$text-$round.txt"
  steps="$(grep -o 'step [0-9]*' "$out/train$text-$round.txt" | cut -d' ' -f2 | paste -sd/)"
  tiers="$(grep -o '^tier [0-9]*: [-0-9.]*' "$out/eval$text-$round.txt" | cut -d' ' -f3 | paste -sd/)"
  full="$(grep '^full resolution' "$out/eval$text-$round.txt" | grep -o '[-0-9.]* nats' | cut -d' ' -f1)"
  bits="$(grep '^full resolution' "$out/eval$text-$round.txt" | grep -o '[-0-9.]* bits' | cut -d' ' -f1)"
  echo "$round,$(python3 -c "print($round * $hours * 60 / $rounds)"),$steps,$tiers,$full,$bits" >> "$progress"
done
cat "$progress"
# The blank ablation is there for its NLL only (it has nothing to say).
[ "$text" = blank ] && exit 0

# 4. Samples: two unconditional of 4 s, one continuing the first 2 s of a held-out line, and
# that line itself; with TEXT, the held-out line's text said as its speaker instead.
held_out="$(python3 -c "
import json, sys
m = json.load(open('$dataset/manifest.json'))
print(next(i['path'] for i in m['items'] if i['split'] == 'valid' and i['seconds'] >= 4))")"
samples="$out/samples$text"
mkdir -p "$samples"
"$melnet" mel "$corpus/sound/$held_out" --preset speech --db -o "$samples/real.npy" \
  --png "$samples/real.png"
if [ -n "$text" ]; then
  id="$(basename "$held_out" .ogg)"
  line="$(grep "^$id|" "$transcripts" | cut -d'|' -f2)"
  speaker="$(grep "^$held_out," "$corpus/text/labels.csv" | cut -d, -f2)"
  for seed in 1 2; do
    "$melnet" say "$line" --speaker "$speaker" --model "$model" --seed "$seed" --max-seconds 8 \
      -o "$samples/said-$seed.wav" -q
  done
  echo "held-out line: $held_out ($speaker): \"$(grep "^$id|" "$corpus/text/metadata.csv" | cut -d'|' -f2)\""
  ls "$samples"
  exit 0
fi
"$melnet" sample --model "$model" -o "$samples/unconditional.wav" --seconds 4 --count 2 -q
"$melnet" sample --model "$model" -o "$samples/primed.wav" --seconds 4 \
  --prime "$corpus/sound/$held_out" --prime-seconds 2 -q
echo "held-out line: $held_out"
ls "$samples"
