"""Multi-scale MelNet at equal training time and a similar parameter count: one
full-resolution tier against G = 2 and G = 3 tiers, on the bundled recordings at the demo's
resolution (melnet-small analysis with 64 mel bands, dB, 64-frame windows). Each model trains
for the same wall-clock total (split evenly over its tiers with `--tier all --minutes`), then
`melnet eval` scores the dataset's fixed validation windows; the full-resolution NLL (the sum of
the tiers' element NLLs over the full-resolution element count) is comparable across G.

    bench/run.sh multiscale            # 8 minutes per model
    python3 bench/multiscale.py --root . --minutes 8
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile

# G, width: widths chosen so that every model has about 330 k parameters (2 layers, K = 10).
MODELS = [(1, 60), (2, 40), (3, 32)]


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--minutes", type=float, default=8.0, help="training minutes per model")
    p.add_argument("--keep", help="keep the dataset and models in this directory")
    p.add_argument("--melnet", help="the melnet program [default: ROOT/target/release/melnet]")
    a = p.parse_args()
    exe = a.melnet or os.path.join(a.root, "target/release/melnet")
    work = a.keep or tempfile.mkdtemp(prefix="melnet-multiscale-")
    os.makedirs(work, exist_ok=True)
    ds = os.path.join(work, "dataset")
    run([exe, "prepare", os.path.join(a.root, "data"), "-o", ds, "--preset", "melnet-small",
         "--n-mels", "64", "--db", "-q"])
    print(f"{'tiers':>5} {'width':>5} {'parameters':>10} {'steps per tier':>16} "
          f"{'tier NLLs (nats/element)':>28} {'full NLL nats':>13} {'bits':>6}", flush=True)
    for tiers, width in MODELS:
        model = os.path.join(work, f"model-{tiers}")
        shutil.rmtree(model, ignore_errors=True)
        out = run([exe, "train", "--data", ds, "--model", model, "--tiers", str(tiers),
                   "--tier", "all", "--width", str(width), "--frames", "64",
                   "--steps", "1000000000", "--minutes", str(a.minutes / tiers), "-q"])
        trained = re.findall(r"tier (\d+), step (\d+), .* (\d+) parameters", out)
        params = sum(int(t[2]) for t in trained)
        steps = "/".join(t[1] for t in trained)
        ev = run([exe, "eval", "--model", model, "--data", ds])
        tier_nll = re.findall(r"tier \d+: (-?[\d.]+) nats", ev)
        full = float(re.search(r"full resolution: (-?[\d.]+) nats", ev).group(1))
        print(f"{tiers:>5} {width:>5} {params:>10} {steps:>16} {', '.join(tier_nll):>28} "
              f"{full:>13.4f} {full / 0.6931471805599453:>6.3f}", flush=True)
    if not a.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
