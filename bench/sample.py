"""Sampling speed of MelNet models: melnet's tiered incremental sampler against the naive
method (the training forward pass re-run on the growing spectrogram for every element), both in
crates/melnet/examples/sample_throughput.rs. The naive method is timed per tier at two short
lengths and extrapolated to the tier's frames by its measured growth exponent (capped at 2).

    bench/run.sh sample
"""
import argparse
import json
import os
import subprocess

SIZES = [
    # name, tiers, mels, frames, layers, width, naive lengths (frames of each tier)
    ("1 tier, 32 mels, 2 x 32", 1, 32, 64, 2, 32, (8, 16)),
    ("1 tier, 32 mels, 6 x 256", 1, 32, 64, 6, 256, (4, 8)),
    ("3 tiers (demo), 64 mels, 2 x 32", 3, 64, 188, 2, 32, (8, 16)),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    a = p.parse_args()
    exe = os.path.join(a.root, "target/release/examples/sample_throughput")
    print(f"{'model':32} {'frames':>6} {'incr s':>7} {'el/s':>8} {'frames/s':>9} {'RTF':>7} "
          f"{'naive s (per tier: T1, T2 -> extrapolated, exp)':>50} {'naive s':>8} {'speed-up':>9}")
    for name, tiers, mels, frames, layers, width, (short, long) in SIZES:
        out = subprocess.run(
            [exe, "--tiers", str(tiers), "--mels", str(mels), "--frames", str(frames),
             "--layers", str(layers), "--width", str(width),
             "--naive-short", str(short), "--naive-long", str(long)],
            check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        naive = "; ".join(
            f"{t['naive_short_s']:.2f}, {t['naive_long_s']:.2f} -> {t['naive_extrapolated_s']:.0f}"
            f" ({t['naive_exponent']:.2f})" for t in r["per_tier"])
        per_tier = "/".join(f"{t['incremental_s']:.3f}" for t in r["per_tier"])
        print(f"{name:32} {r['frames']:>6} {r['incremental_s']:>7.3f} ({per_tier}) "
              f"{r['incremental_elements_per_s']:>8.0f} {r['frames_per_s']:>9.0f} "
              f"{r['real_time_factor']:>6.1f}x {naive:>50} {r['naive_extrapolated_s']:>8.1f} "
              f"{r['speedup']:>8.0f}x", flush=True)


if __name__ == "__main__":
    main()
