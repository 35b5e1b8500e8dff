"""Dataset preparation: `melnet prepare` vs a straightforward librosa + numpy script doing the
same work (load, resample, mel, dB, per-file and corpus statistics, save), on the same corpus.

Corpus: the bundled recordings copied 10 times in their original formats (WAV 16 kHz, FLAC
44.1 kHz, OGG 48 kHz), each copy with a slightly different gain so that every file is distinct
(melnet reuses work for identical content): 13.5 minutes of real audio.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import librosa
import numpy as np
import soundfile as sf

COPIES = 10
SR, N_FFT, HOP, N_MELS, FMIN, FMAX = 24000, 2048, 512, 32, 300.0, 8000.0  # melnet-small


def build_corpus(root, corpus):
    if os.path.isdir(corpus):
        return
    os.makedirs(corpus)
    files = sorted(glob.glob(os.path.join(root, "data", "*", "*.*")))
    files = [f for f in files if f.rsplit(".", 1)[-1] in ("wav", "flac", "ogg")]
    for c in range(COPIES):
        gain = 1.0 - 0.01 * c
        for f in files:
            y, sr = sf.read(f, dtype="float32")
            ext = f.rsplit(".", 1)[-1]
            name = f"{c:02d}_{os.path.basename(f)}"
            sub = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}[ext]
            sf.write(os.path.join(corpus, name), y * gain, sr, subtype=sub)


def librosa_prepare(corpus, out):
    """The one-off script people write: per file load → mel → dB → stats; then save."""
    os.makedirs(out, exist_ok=True)
    items, frames = [], []
    for f in sorted(os.listdir(corpus)):
        y, _ = librosa.load(os.path.join(corpus, f), sr=SR, mono=True)
        m = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                           n_mels=N_MELS, fmin=FMIN, fmax=FMAX)
        db = librosa.power_to_db(m, ref=np.max, top_db=80.0)
        items.append(dict(path=f, min=float(db.min()), max=float(db.max()),
                          mean=float(db.mean()), std=float(db.std()), frames=db.shape[1]))
        frames.append(db.T)
    allf = np.concatenate(frames).astype(np.float32)
    stats = dict(min=float(allf.min()), max=float(allf.max()), mean=float(allf.mean()),
                 std=float(allf.std()), mel_mean=allf.mean(0).tolist(),
                 mel_std=allf.std(0).tolist())
    np.save(os.path.join(out, "frames.npy"), allf)
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(dict(items=items, stats=stats), fh)
    return allf.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--librosa-only", nargs=2, metavar=("CORPUS", "OUT"),
                    help="just run the librosa script (as a user would, in a fresh process)")
    args = ap.parse_args()
    if args.librosa_only:
        librosa_prepare(*args.librosa_only)
        return
    root = args.root
    out_dir = os.path.join(root, "bench", "out")
    corpus = os.path.join(out_dir, "prepare_corpus")
    build_corpus(root, corpus)
    seconds = sum(sf.info(os.path.join(corpus, f)).duration for f in os.listdir(corpus))
    hours = seconds / 3600
    melnet = os.path.join(root, "target", "release", "melnet")
    print(f"corpus: {len(os.listdir(corpus))} files, {seconds / 60:.1f} min of real audio;"
          f" melnet-small analysis (24 kHz, 2048/512, 32 mels 300-8000 Hz, dB)")
    print(f"{'tool (best of 3)':<34} {'time':>8} {'audio h / min':>14} {'vs librosa':>11}")
    def best_of_3(fn):
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return best

    rows = []
    for label, jobs in [("melnet prepare (2 cores)", None), ("melnet prepare --jobs 1", "1")]:
        ds = os.path.join(out_dir, "prepare_melnet")
        cmd = [melnet, "prepare", corpus, "-o", ds, "--preset", "melnet-small", "--db", "-q",
               "--min-seconds", "0"]
        if jobs:
            cmd += ["--jobs", jobs]

        def fresh_run():  # from scratch every time: no reuse of an earlier run's parts
            shutil.rmtree(ds, ignore_errors=True)
            subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
        rows.append((label, best_of_3(fresh_run)))
    lib_out = os.path.join(out_dir, "prepare_librosa")
    # As a user runs it: a fresh Python process (imports, librosa's first-call compilation).
    t_librosa = best_of_3(lambda: subprocess.check_call(
        [sys.executable, __file__, "--librosa-only", corpus, lib_out]))
    rows.append(("librosa + numpy script (process)", t_librosa))
    # The same function called again in this process: the warm steady state.
    librosa_prepare(corpus, lib_out)
    rows.append(("  same, warm (in-process, 2nd+ call)",
                 best_of_3(lambda: librosa_prepare(corpus, lib_out))))
    for label, t in rows:
        print(f"{label:<34} {t:>7.2f}s {hours / (t / 60):>14.2f} {t_librosa / t:>10.1f}x")
    ours = np.load(os.path.join(out_dir, "prepare_melnet", "frames.npy"))
    ref = np.load(os.path.join(out_dir, "prepare_librosa", "frames.npy"))
    print(f"frames: melnet {ours.shape}, librosa {ref.shape} (resamplers differ: rubato vs soxr)")


if __name__ == "__main__":
    main()
