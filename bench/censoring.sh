#!/usr/bin/env bash
# The censored likelihood against the plain density at the dB floor, with the demo's settings
# (the bundled recordings, melnet-small analysis with 64 mels, dB; 3 tiers over 64-frame
# windows, the default tier, MINUTES of training in all): the validation NLL, and the levels of
# 8 unconditional samples of 10 s against the training data's (share of elements at the −80 dB
# floor, samples whose second half is ≥ 90 % floor, mean level).
#   bench/censoring.sh [MINUTES] [WORK_DIR]        # default 5 minutes, a temporary directory
# SEED (default 0) seeds the training; the samples use SEED + 2. VARIANTS (default "density
# censored") picks the runs; "noisy" is the censored likelihood with noise of σ = 0.5 on the
# teacher-forced inputs (--input-noise 0.5).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
melnet="${MELNET:-$root/target/release/melnet}"
minutes="${1:-5}"
work="${2:-$(mktemp -d)}"
per_tier="$(python3 -c "print($minutes / 3)")"
seed="${SEED:-0}"
"$melnet" prepare "$root/data" -o "$work/dataset" --preset melnet-small --n-mels 64 --db -q
for variant in ${VARIANTS:-density censored}; do
  flag=()
  [ "$variant" = density ] && flag=(--no-censoring)
  [ "$variant" = noisy ] && flag=(--input-noise 0.5)
  rm -rf "${work:?}/$variant"
  "$melnet" train --data "$work/dataset" --model "$work/$variant" --tiers 3 --frames 64 \
    --steps 1000000000 --minutes "$per_tier" --seed "$seed" -q "${flag[@]}"
  echo "== $variant"
  "$melnet" eval --model "$work/$variant" --data "$work/dataset"
  mkdir -p "$work/$variant-samples"
  "$melnet" sample --model "$work/$variant" -o "$work/$variant-samples/s.wav" --count 8 \
    --seconds 10 --seed "$((seed + 2))" -q 2>&1 | grep -v '^/'
done
