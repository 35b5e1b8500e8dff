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
    ("32x64, 6 layers, width 256", 32, 64, 6, 256, 16, 1, (1, 2), 1),
]


def train_cli(exe, ds, work, threads, steps):
    """Wall-clock seconds of `melnet train` for `steps` steps of the small default tier (one
    validation and checkpoint at the end) on dataset `ds`, from scratch."""
    import shutil
    import time
    out = os.path.join(work, "model")
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([exe, "--threads", str(threads), "train", "--data", ds, "--model", out,
                    "--steps", str(steps), "--valid-every", str(steps),
                    "--checkpoint-every", str(steps), "-q"], check=True, capture_output=True)
    return time.perf_counter() - start


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
    torch_small = {}
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
            if name == "small default":
                torch_small[threads] = ref["elements_per_s"]
    # `melnet train` itself on the bundled recordings (32 mels, 32-frame windows, batch 8):
    # the time of 70 steps minus that of 10 (start-up, dataset, validation and checkpoint
    # cancel out), best of three, against PyTorch's small default above.
    import tempfile
    exe = os.path.join(a.root, "target/release/melnet")
    with tempfile.TemporaryDirectory() as work:
        ds = os.path.join(work, "dataset")
        subprocess.run([exe, "prepare", os.path.join(a.root, "data"), "-o", ds, "--preset",
                        "melnet-small", "--db", "-q"], check=True)
        for threads in (1, 2):
            per_step = min(train_cli(exe, ds, work, threads, 70) - train_cli(exe, ds, work, threads, 10)
                           for _ in range(3)) / 60
            eps = 8 * 32 * 32 / per_step
            print(f"{'melnet train (CLI), small':30} {threads:>3} {eps:>12.0f} "
                  f"{torch_small[threads]:>12.0f} {eps / torch_small[threads]:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
