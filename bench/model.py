"""Training throughput of one MelNet tier: melnet (candle + fused LSTM) vs the same
architecture in PyTorch (bench/melnet_torch.py), side by side, same thread count, with the
peak resident memory of each process. The small size is the best of three alternating runs.

    bench/run.sh model
"""
import argparse
import json
import os
import subprocess
import sys

SIZES = [
    # name, mels, frames, layers, width, batch, timed steps, thread counts, repeats
    ("small default", 32, 32, 2, 32, 8, 20, (1, 2), 3),
    ("32x64, 6 layers, width 256", 32, 64, 6, 256, 16, 1, (2,), 1),
]


def measure(cmd, env):
    """Run cmd; its JSON line and its peak RSS in MiB (from wait4)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    a = p.parse_args()
    rust = os.path.join(a.root, "target/release/examples/train_throughput")
    torch_script = os.path.join(a.root, "bench/melnet_torch.py")
    print(f"{'size':30} {'thr':>3} {'melnet el/s':>12} {'torch el/s':>12} {'ratio':>6} "
          f"{'melnet MiB':>10} {'torch MiB':>10}")
    for name, mels, frames, layers, width, batch, steps, thread_counts, repeats in SIZES:
        shape = ["--mels", mels, "--frames", frames, "--layers", layers, "--width", width,
                 "--batch", batch, "--steps", steps]
        shape = [str(s) for s in shape]
        for threads in thread_counts:
            env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
            # Alternating runs, best of `repeats` each: this machine's timings vary by ±30 %.
            runs = [(measure([rust] + shape, env),
                     measure([sys.executable, torch_script, "--threads", str(threads)] + shape, env))
                    for _ in range(repeats)]
            (ours, our_mem) = max((r[0] for r in runs), key=lambda m: m[0]["elements_per_s"])
            (ref, ref_mem) = max((r[1] for r in runs), key=lambda m: m[0]["elements_per_s"])
            ratio = ours["elements_per_s"] / ref["elements_per_s"]
            print(f"{name:30} {threads:>3} {ours['elements_per_s']:>12.0f} {ref['elements_per_s']:>12.0f} "
                  f"{ratio:>5.2f}x {our_mem:>10.0f} {ref_mem:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
