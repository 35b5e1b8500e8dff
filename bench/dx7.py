"""DX7 engine: fidelity and speed of `melnet synth render` against dexed-py (the engine Dexed
uses), on the five patch banks of Debian's hexter package (426 unique voices), and a
synthesizer dataset of bred voices end to end (render → prepare with labels).

Third-party data and code, fetched at run time and never committed:
  - hexter 1.1.1 (Debian bookworm, `apt-get download hexter`): GPL-2+; its .dx7 banks are raw
    packed voices (dx7_roms, tx7_roms and three FB-01 conversions).
  - dexed-py 0.3.0 (PyPI): GPL-3.0-or-later (its msfa engine Apache-2.0).

Fidelity: every voice at note 60, velocity 100, held 4 s of 5 s, 44.1 kHz, both engines from a
fresh state. melnet writes 32-bit float WAV at the engine's scale (--float --gain 1), compared
with dexed-py's float output as is. Per voice: mean |log-mel difference| (128 mels, n_fft 2048,
hop 512, dB floored at the reference's maximum − 80 dB), f0 agreement (median YIN f0 over
0.2–3.8 s, within 10 cents), and the correlation of the RMS envelopes (in dB, floored at −80).
"""

import argparse
import csv
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import librosa
import numpy as np
import soundfile as sf

NOTE, VELOCITY, HELD, SECONDS, SR = 60, 100, 4.0, 5.0, 44100


def fetch_hexter(cache):
    """The hexter banks, downloaded with apt-get into `cache` once."""
    banks = sorted(glob.glob(os.path.join(cache, "usr/share/hexter/*.dx7")))
    if banks:
        return banks
    os.makedirs(cache, exist_ok=True)
    subprocess.run(["apt-get", "download", "hexter"], cwd=cache, check=True,
                   stdout=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(cache, "hexter_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, cache], check=True)
    return sorted(glob.glob(os.path.join(cache, "usr/share/hexter/*.dx7")))


def melnet_render(binary, banks, out, *extra):
    if os.path.isdir(out):
        shutil.rmtree(out)
    subprocess.run([binary, "synth", "render", *banks, "-o", out, "--note", str(NOTE),
                    "--velocity", str(VELOCITY), "--note-seconds", str(HELD),
                    "--seconds", str(SECONDS), "--quiet", *extra], check=True)
    with open(os.path.join(out, "presets.csv")) as f:
        return list(csv.DictReader(f))


def packed_voice(source):
    """The 128 packed bytes of `BANK#N` (raw packed banks)."""
    path, n = source.rsplit("#", 1)
    n = int(n)
    with open(path, "rb") as f:
        return f.read()[(n - 1) * 128:n * 128]


def dexed_render(packed, sr=SR):
    from dexed import DexedSynth, Patch
    synth = DexedSynth(sample_rate=sr)  # fresh: a free-running LFO starts at phase 0
    synth.load_patch(Patch.from_packed(packed))
    return synth.render(midi_note=NOTE, velocity=VELOCITY, note_duration=HELD,
                        render_duration=SECONDS)


def log_mel(y):
    S = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=512, n_mels=128)
    return 10 * np.log10(np.maximum(S, 1e-10))


def f0(y):
    part = y[int(0.2 * SR):int(3.8 * SR)]
    if np.sqrt(np.mean(part ** 2)) < 1e-4:
        return np.nan
    return float(np.median(librosa.yin(part, fmin=30, fmax=4000, sr=SR, frame_length=4096)))


def rms_db(y):
    r = librosa.feature.rms(y=y, frame_length=2048, hop_length=512)[0]
    return 20 * np.log10(np.maximum(r, 1e-4))


def fidelity(binary, banks, work):
    rows = melnet_render(binary, banks, os.path.join(work, "fidelity"), "--sr", str(SR),
                         "--float", "--gain", "1")
    results = []
    for r in rows:
        ours, sr = sf.read(os.path.join(work, "fidelity", r["file"]), dtype="float32")
        assert sr == SR
        ref = dexed_render(packed_voice(r["source"]))
        a, b = log_mel(ours), log_mel(ref)
        floor = b.max() - 80
        diff = float(np.abs(np.maximum(a, floor) - np.maximum(b, floor)).mean())
        fa, fb = f0(ours), f0(ref)
        cents = abs(1200 * np.log2(fa / fb)) if np.isfinite(fa) and np.isfinite(fb) else np.nan
        ea, eb = rms_db(ours), rms_db(ref)
        corr = 1.0 if np.allclose(ea, eb) else float(np.corrcoef(ea, eb)[0, 1])
        identical = bool(np.array_equal(ours, ref))
        results.append(dict(name=r["name"], source=os.path.basename(r["source"]), diff=diff,
                            cents=cents, corr=corr, identical=identical))
    diffs = np.array([r["diff"] for r in results])
    cents = np.array([r["cents"] for r in results])
    corrs = np.array([r["corr"] for r in results])
    agree = np.isfinite(cents) & (cents <= 10)
    print(f"fidelity: {len(results)} voices (hexter banks), note {NOTE}, velocity {VELOCITY}, "
          f"{HELD:g} s held of {SECONDS:g} s, {SR} Hz")
    print(f"  log-mel |diff| (dB): median {np.median(diffs):.3f}, mean {diffs.mean():.3f}, "
          f"90th pct {np.percentile(diffs, 90):.3f}, max {diffs.max():.3f}; "
          f"> 1 dB: {(diffs > 1).sum()}, > 6 dB: {(diffs > 6).sum()}")
    print(f"  bit-identical output: {sum(r['identical'] for r in results)} voices")
    print(f"  f0 within 10 cents: {agree.sum()} of {np.isfinite(cents).sum()} voices with an "
          f"f0 estimate on both sides")
    print(f"  RMS envelope correlation: median {np.median(corrs):.4f}, min {corrs.min():.4f}")
    print("  worst voices:")
    for r in sorted(results, key=lambda r: -r["diff"])[:8]:
        print(f"    {r['name']:<10} {r['source']:<32} {r['diff']:.2f} dB, "
              f"f0 {r['cents']:.1f} cents, envelope r {r['corr']:.4f}")
    return rows


def speed(root, binary, banks, work, rows, repeats):
    """Single-threaded render time per 5-s voice at 44.1 kHz, in process on both sides:
    dexed-py's render() vs melnet's engine (the dx7 crate's render_timing example, best of 5
    passes per run), alternating, best of `repeats` runs; and `melnet synth render --jobs 1`
    end to end (process start, bank parsing, render, 16-bit WAV and table writing)."""
    packed = [packed_voice(r["source"]) for r in rows]
    example = os.path.join(root, "target", "release", "examples", "render_timing")
    best_dexed, best_engine, best_cli = np.inf, np.inf, np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for p in packed:
            dexed_render(p)
        best_dexed = min(best_dexed, (time.perf_counter() - t) / len(packed))
        out = subprocess.run([example, *banks, "--sr", str(SR)], check=True,
                             capture_output=True, text=True).stdout
        best_engine = min(best_engine, float(out.split(":")[-1].split("ms")[0]) / 1000)
        t = time.perf_counter()
        melnet_render(binary, banks, os.path.join(work, "speed"), "--sr", str(SR), "--jobs", "1")
        best_cli = min(best_cli, (time.perf_counter() - t) / len(packed))
    print(f"speed, one thread, 5-s voice at {SR} Hz, hexter voices (best of {repeats} runs):")
    print(f"  dexed-py render() {1000 * best_dexed:.2f} ms/voice; melnet engine "
          f"{1000 * best_engine:.2f} ms/voice: {best_dexed / best_engine:.2f}x")
    print(f"  melnet synth render --jobs 1 (render + WAV + tables, per voice) "
          f"{1000 * best_cli:.2f} ms: {best_dexed / best_cli:.2f}x")


def end_to_end(binary, banks, work, voices):
    """`voices` voices (the banks' and bred ones) at 22050 Hz → a labelled dataset."""
    out, ds = os.path.join(work, "bred"), os.path.join(work, "bred-ds")
    for d in (out, ds):
        if os.path.isdir(d):
            shutil.rmtree(d)
    unique = len(melnet_render(binary, banks, out))
    shutil.rmtree(out)
    t = time.perf_counter()
    melnet_render(binary, banks, out, "--breed", str(voices - unique), "--seed", "1")
    t_render = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([binary, "prepare", out, "-o", ds, "--labels",
                    os.path.join(out, "labels.csv"), "--db", "--quiet"], check=True)
    t_prepare = time.perf_counter() - t
    stats = subprocess.run([binary, "stats", ds], check=True, capture_output=True,
                           text=True).stdout
    print(f"end to end, {voices} voices ({unique} from the banks, {voices - unique} bred), "
          f"22050 Hz, {os.cpu_count()} cores:")
    print(f"  synth render {t_render:.1f} s + prepare --labels {t_prepare:.1f} s = "
          f"{t_render + t_prepare:.1f} s ({(t_render + t_prepare) / 60:.2f} min)")
    for line in stats.splitlines():
        if line.startswith(("files", "labels")):
            print("  " + line)
    shutil.rmtree(out)
    shutil.rmtree(ds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--voices", type=int, default=30000)
    ap.add_argument("--skip", default="", help="comma-separated: fidelity,speed,end-to-end")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "dx7", "--example", "render_timing"],
                   cwd=args.root, check=True)
    skip = set(filter(None, args.skip.split(",")))
    binary = os.path.join(args.root, "target", "release", "melnet")
    banks = fetch_hexter(os.path.join(args.root, "bench", "out", "hexter"))
    with tempfile.TemporaryDirectory(dir=os.path.join(args.root, "bench", "out")) as work:
        rows = None
        if "fidelity" not in skip:
            rows = fidelity(binary, banks, work)
        if "speed" not in skip:
            rows = rows or melnet_render(binary, banks, os.path.join(work, "list"))
            speed(args.root, binary, banks, work, rows, args.repeats)
        if "end-to-end" not in skip:
            end_to_end(binary, banks, work, args.voices)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
