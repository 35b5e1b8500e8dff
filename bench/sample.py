"""Sampling speed of one MelNet tier: melnet's incremental sampler against the naive method
(the training forward pass re-run on the growing spectrogram for every element), both in
crates/melnet/examples/sample_throughput.rs. The naive method is timed at two short lengths and
extrapolated to 64 frames by its measured growth exponent.

    bench/run.sh sample
"""
import argparse
import json
import os
import subprocess

SIZES = [
    # name, layers, width, naive lengths (frames)
    ("small default (2 x 32)", 2, 32, (8, 16)),
    ("6 layers x width 256", 6, 256, (4, 8)),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    a = p.parse_args()
    exe = os.path.join(a.root, "target/release/examples/sample_throughput")
    print(f"{'tier (32 mels)':24} {'incr el/s':>10} {'RTF':>7} {'naive s (T1, T2)':>18} {'exp':>5} "
          f"{'naive@64 s':>11} {'speed-up':>9}")
    for name, layers, width, (short, long) in SIZES:
        out = subprocess.run(
            [exe, "--layers", str(layers), "--width", str(width), "--frames", "64",
             "--naive-short", str(short), "--naive-long", str(long)],
            check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        naive = f"{r['naive_short_s']:.2f}, {r['naive_long_s']:.2f}"
        print(f"{name:24} {r['incremental_elements_per_s']:>10.0f} {r['real_time_factor']:>6.1f}x "
              f"{naive:>18} {r['naive_exponent']:>5.2f} {r['naive_extrapolated_s']:>11.1f} "
              f"{r['speedup']:>8.0f}x", flush=True)


if __name__ == "__main__":
    main()
