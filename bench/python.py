"""The Python package `melnet` in-process against librosa (and torchaudio where it has the
function) on the same arrays: melspectrogram at 1 s to 1000 s, stft, mel_to_audio with PESQ.

Run once per thread count (`--threads 1`, then `--threads 2` on this machine): melnet's worker
pool (rayon) and torch read their thread counts at start-up; librosa is single-threaded.
"""

import argparse
import glob
import os
import sys
import time


def best(fn, repeats):
    t_best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    import librosa
    import numpy as np
    import torch
    import torchaudio
    from pesq import pesq

    import melnet

    torch.set_num_threads(args.threads)
    files = sorted(glob.glob(os.path.join(args.root, "data/speech/*.wav")))
    print(f"\nthreads: melnet {args.threads}, torch {args.threads}, librosa 1")

    # melspectrogram at librosa's defaults (22.05 kHz, n_fft 2048, hop 512, 128 mels).
    speech = np.concatenate([librosa.load(f, sr=22050)[0] for f in files])
    print(f"{'melspectrogram':<16} {'librosa':>9} {'torchaudio':>11} {'melnet':>9}"
          f" {'vs librosa':>11} {'vs torch':>9} {'max rel diff':>13}")
    mel_t = torchaudio.transforms.MelSpectrogram(
        sample_rate=22050, n_fft=2048, hop_length=512, n_mels=128, power=2.0, center=True,
        pad_mode="constant", norm="slaney", mel_scale="slaney")
    for seconds in (1, 10, 100, 1000):
        y = np.resize(speech, seconds * 22050).astype(np.float32)
        repeats = 5 if seconds <= 10 else (3 if seconds <= 100 else 2)
        t_lib, ref = best(lambda: librosa.feature.melspectrogram(y=y, sr=22050), repeats)
        t_ours, ours = best(lambda: melnet.feature.melspectrogram(y=y, sr=22050), repeats)
        with torch.inference_mode():
            yt = torch.from_numpy(y)
            t_torch, _ = best(lambda: mel_t(yt), repeats)
        diff = np.max(np.abs(ours - ref)) / np.max(ref)
        print(f"{str(seconds) + ' s':<16} {t_lib:>8.4f}s {t_torch:>10.4f}s {t_ours:>8.4f}s"
              f" {t_lib / t_ours:>10.1f}× {t_torch / t_ours:>8.1f}× {diff:>13.1e}", flush=True)

    # stft of 100 s.
    y = np.resize(speech, 100 * 22050).astype(np.float32)
    t_lib, _ = best(lambda: librosa.stft(y), 3)
    t_ours, _ = best(lambda: melnet.stft(y), 3)
    win = torch.hann_window(2048)
    with torch.inference_mode():
        yt = torch.from_numpy(y)
        t_torch, _ = best(lambda: torch.stft(yt, 2048, 512, window=win, center=True,
                                             pad_mode="constant", return_complex=True), 3)
    print(f"{'stft 100 s':<16} {t_lib:>8.4f}s {t_torch:>10.4f}s {t_ours:>8.4f}s"
          f" {t_lib / t_ours:>10.1f}× {t_torch / t_ours:>8.1f}×")

    # mel_to_audio on the bundled speech at 16 kHz (the CLI benchmark's geometry).
    y = np.concatenate([librosa.load(f, sr=16000)[0] for f in files])
    p = dict(sr=16000, n_fft=1024, hop_length=256)
    M = librosa.feature.melspectrogram(y=y, n_mels=80, fmax=8000, **p)
    print(f"\nmel_to_audio, speech {len(y) / 16000:.1f} s: time, vs librosa, PESQ-WB")
    t_lib, out = best(lambda: librosa.feature.inverse.mel_to_audio(
        M, fmax=8000, n_iter=32, length=len(y), **p), 2)
    print(f"  librosa (n_iter 32)          {t_lib:>7.2f}s {1:>6.1f}×"
          f"  {pesq(16000, y, out, 'wb'):.2f}", flush=True)
    for label, kw in [("melnet default", {}), ("melnet refine=0", dict(refine=0))]:
        t, out = best(lambda: melnet.feature.inverse.mel_to_audio(
            M, fmax=8000, length=len(y), **p, **kw), 3)
        print(f"  {label:<28} {t:>7.2f}s {t_lib / t:>6.1f}×  {pesq(16000, y, out, 'wb'):.2f}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
