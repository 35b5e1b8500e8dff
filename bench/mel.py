"""Mel-spectrogram analysis: melnet (library and CLI) vs librosa vs torchaudio, single-threaded.

Real recordings from data/ are resampled once to 22050 Hz and concatenated (repeated as needed)
into signals of 1, 10, 100 and 1000 s, written as float WAV files. Every tool then computes the
same librosa-default mel spectrogram (n_fft 2048, hop 512, 128 mels, power 2, centred, zero
padding) from the same samples. Times are the best of several runs.
"""

import argparse
import glob
import json
import os
import subprocess
import time

import librosa
import numpy as np
import soundfile as sf
import torch
import torchaudio

SR = 22050
LENGTHS = [1, 10, 100, 1000]


def best_of(fn, repeats):
    best = float("inf")
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    root = args.root
    out_dir = os.path.join(root, "bench", "out")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)

    files = sorted(glob.glob(os.path.join(root, "data", "*", "*.wav")) +
                   glob.glob(os.path.join(root, "data", "*", "*.flac")) +
                   glob.glob(os.path.join(root, "data", "*", "*.ogg")))
    pieces = [librosa.load(f, sr=SR, mono=True)[0] for f in files]
    corpus = np.concatenate(pieces).astype(np.float32)
    melnet = os.path.join(root, "target", "release", "melnet")
    timing = os.path.join(root, "target", "release", "examples", "mel_timing")

    mel_t = torchaudio.transforms.MelSpectrogram(
        sample_rate=SR, n_fft=2048, hop_length=512, n_mels=128, power=2.0,
        center=True, pad_mode="constant", norm="slaney", mel_scale="slaney")

    rows = []
    print(f"corpus: {len(files)} real recordings, {len(corpus) / SR:.1f} s at {SR} Hz; "
          f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, librosa {librosa.__version__}")
    print(f"{'length':>7} {'melnet lib':>11} {'melnet CLI':>11} {'librosa':>9} {'torchaudio':>11}"
          f" {'librosa/lib':>12} {'torch/lib':>10} {'max|Δ| vs librosa':>18}")
    for secs in LENGTHS:
        n = secs * SR
        reps = int(np.ceil(n / len(corpus)))
        y = np.tile(corpus, reps)[:n]
        wav = os.path.join(out_dir, f"bench_{secs}s.wav")
        sf.write(wav, y, SR, subtype="FLOAT")
        repeats = 20 if secs <= 10 else (5 if secs <= 100 else 3)

        lib = json.loads(subprocess.check_output([timing, wav, str(repeats)]))["seconds"]
        npy = os.path.join(out_dir, f"bench_{secs}s.npy")
        cli, _ = best_of(lambda: subprocess.check_call(
            [melnet, "mel", wav, "-o", npy, "--preset", "librosa"]), repeats)
        t_librosa, ref = best_of(lambda: librosa.feature.melspectrogram(
            y=y, sr=SR, n_fft=2048, hop_length=512, n_mels=128), repeats)
        yt = torch.from_numpy(y)
        with torch.inference_mode():
            t_torch, _ = best_of(lambda: mel_t(yt), repeats)
        ours = np.load(npy)
        err = float(np.abs(ours - ref).max() / np.abs(ref).max())
        rows.append(dict(seconds=secs, melnet_lib=lib, melnet_cli=cli, librosa=t_librosa,
                         torchaudio=t_torch, rel_err=err))
        print(f"{secs:>6}s {lib:>10.4f}s {cli:>10.4f}s {t_librosa:>8.4f}s {t_torch:>10.4f}s"
              f" {t_librosa / lib:>11.1f}x {t_torch / lib:>9.2f}x {err:>18.2e}")
    print("scaling (time per second of audio, 1000 s vs 10 s): " + ", ".join(
        f"{k} {rows[-1][k] / 1000 / (rows[1][k] / 10):.2f}"
        for k in ["melnet_lib", "melnet_cli", "librosa", "torchaudio"]))
    with open(os.path.join(out_dir, "mel.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
