"""Mel inversion: melnet `invert` vs librosa `mel_to_audio` vs torchaudio (InverseMelScale +
GriffinLim), and oracle-magnitude phase retrieval (melnet, librosa, PyPI lws), on the bundled
speech and music.

Every tool gets the same mel power spectrogram (melnet's, which matches librosa's to 1e-6) and
the same STFT geometry. Quality is measured the same way for every output: spectral convergence
(SC) and log-spectral distance (LSD) of the output's STFT magnitude against the original's, and
for 16 kHz speech PESQ-WB and STOI against the original signal.
"""

import argparse
import glob
import json
import os
import subprocess
import time

import warnings

import librosa
import lws
import numpy as np
import scipy.signal
import soundfile as sf
import torch
import torchaudio

try:
    from pesq import pesq
    from pystoi import stoi
except ImportError:  # reported as missing in the table
    pesq = stoi = None


def stft_mag(y, n_fft, hop):
    return np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))


def sc_db(ref, est):
    t = min(ref.shape[1], est.shape[1])
    a, b = ref[:, :t], est[:, :t]
    return 20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(a))


def lsd_db(ref, est):
    t = min(ref.shape[1], est.shape[1])
    a, b = ref[:, :t] ** 2, est[:, :t] ** 2
    floor = a.max() * 1e-10
    d = 10 * np.log10(np.maximum(a, floor)) - 10 * np.log10(np.maximum(b, floor))
    return float(np.mean(np.sqrt(np.mean(d ** 2, axis=0))))


def quality(y, out, sr, n_fft, hop):
    n = min(len(y), len(out))
    y, out = y[:n], out[:n]
    ref = stft_mag(y, n_fft, hop)
    est = stft_mag(out.astype(np.float32), n_fft, hop)
    q = dict(sc=float(sc_db(ref, est)), lsd=lsd_db(ref, est))
    if sr == 16000 and pesq is not None:
        q["pesq_wb"] = float(pesq(sr, y, out, "wb"))
        q["stoi"] = float(stoi(y, out, sr, extended=False))
    return q


def timed(fn, repeats=3):
    """Best wall time of `repeats` runs (the machine is shared and noisy), and the output."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# melnet's mel → audio chains (all start with NNLS): the default, the fast chains without the
# signal-domain refinement, more refinement, LWS, and the other distances the refinement offers.
MEL_CHAINS = [
    ("default (pghi+fgla 8, refine 60)", []),
    ("pghi+fgla 8, no refine", ["--refine-n-iter", "0"]),
    ("pghi+fgla 32, no refine", ["--refine-n-iter", "0", "--n-iter", "32"]),
    ("pghi+fgla 8, refine 30", ["--refine-n-iter", "30"]),
    ("pghi+fgla 8, refine 100", ["--refine-n-iter", "100"]),
    ("pghi, refine 60", ["--phase", "pghi"]),
    ("lws 100, no refine", ["--phase", "lws", "--refine-n-iter", "0"]),
    ("lws 100+fgla 8, refine 60", ["--phase", "lws+fgla"]),
    ("refine 60 on log mel", ["--refine-compression", "log"]),
    ("refine 60 on mel^0.3", ["--refine-compression", "0.3"]),
    ("refine 60 on mel", ["--refine-compression", "1"]),
]


def per_clip(root, melnet, out_dir, rows):
    """Every bundled clip on its own: melnet's whole `invert` process (default chain and
    without refinement) against librosa's in-process mel_to_audio, time and quality."""
    print("\nPer clip: whole `melnet invert` process vs librosa mel_to_audio (32) in-process,"
          " best of 3")
    print(f"{'clip':<44} {'s':>5} {'librosa':>8} {'default':>8} {'ratio':>6} {'no refine':>9}"
          f" {'ratio':>6}  quality (librosa / default / no refine)")
    files = [(f, 16000, 1024, 256, 80, 8000) for f in sorted(glob.glob(
        os.path.join(root, "data/speech/*.wav")))]
    files += [(f, 22050, 2048, 512, 128, None) for f in sorted(glob.glob(
        os.path.join(root, "data/music/*")))]
    for path, sr, n_fft, hop, n_mels, fmax in files:
        y = librosa.load(path, sr=sr)[0]
        wav = os.path.join(out_dir, "clip.wav")
        sf.write(wav, y, sr, subtype="FLOAT")
        mel_npy = os.path.join(out_dir, "clip_mel.npy")
        subprocess.check_call([melnet, "mel", wav, "-o", mel_npy, "--sr", str(sr), "--n-fft",
                               str(n_fft), "--hop-length", str(hop), "--n-mels", str(n_mels)]
                              + (["--fmax", str(fmax)] if fmax else []))
        mel = np.load(mel_npy)
        t_lib, out_lib = timed(lambda: librosa.feature.inverse.mel_to_audio(
            mel, sr=sr, n_fft=n_fft, hop_length=hop, fmax=fmax, n_iter=32, length=len(y)))
        out_wav = os.path.join(out_dir, "clip_out.wav")
        result = dict(clip=os.path.basename(path), seconds=len(y) / sr, librosa_s=t_lib,
                      librosa=quality(y, out_lib, sr, n_fft, hop))
        for key, extra in [("default", []), ("no_refine", ["--refine-n-iter", "0"])]:
            t, _ = timed(lambda: subprocess.check_call(
                [melnet, "invert", mel_npy, "-o", out_wav, "-q"] + extra))
            result[key + "_s"] = t
            result[key] = quality(y, sf.read(out_wav, dtype="float32")[0], sr, n_fft, hop)
        rows.append(result)
        metric = "pesq_wb" if sr == 16000 else "sc"
        q = " / ".join(f"{result[k][metric]:.2f}" for k in ["librosa", "default", "no_refine"])
        print(f"{result['clip'][:44]:<44} {result['seconds']:>5.1f} {t_lib:>7.3f}s"
              f" {result['default_s']:>7.3f}s {result['default_s'] / t_lib:>6.3f}"
              f" {result['no_refine_s']:>8.3f}s {result['no_refine_s'] / t_lib:>6.3f}"
              f"  {'PESQ' if sr == 16000 else 'SC dB'} {q}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--clips-only", action="store_true", help="only the per-clip table")
    args = ap.parse_args()
    root = args.root
    out_dir = os.path.join(root, "bench", "out")
    os.makedirs(out_dir, exist_ok=True)
    melnet = os.path.join(root, "target", "release", "melnet")
    torch.set_num_threads(1)

    # Clips: all bundled speech (16 kHz), and all bundled music resampled to 22.05 kHz.
    speech = np.concatenate([sf.read(f, dtype="float32")[0]
                             for f in sorted(glob.glob(os.path.join(root, "data/speech/*.wav")))])
    music = np.concatenate([librosa.load(f, sr=22050)[0]
                            for f in sorted(glob.glob(os.path.join(root, "data/music/*")))])
    clips = [
        ("speech", speech, 16000, dict(n_fft=1024, hop=256, n_mels=80, fmax=8000)),
        ("music", music, 22050, dict(n_fft=2048, hop=512, n_mels=128, fmax=None)),
    ]
    rows = []
    for name, y, sr, p in ([] if args.clips_only else clips):
        n_fft, hop, n_mels, fmax = p["n_fft"], p["hop"], p["n_mels"], p["fmax"]
        wav = os.path.join(out_dir, f"inv_{name}.wav")
        sf.write(wav, y, sr, subtype="FLOAT")
        mel_npy = os.path.join(out_dir, f"inv_{name}_mel.npy")
        mel_args = [melnet, "mel", wav, "-o", mel_npy, "--sr", str(sr), "--n-fft", str(n_fft),
                    "--hop-length", str(hop), "--n-mels", str(n_mels)]
        if fmax:
            mel_args += ["--fmax", str(fmax)]
        subprocess.check_call(mel_args)
        mel = np.load(mel_npy)
        print(f"\n{name}: {len(y) / sr:.1f} s at {sr} Hz, n_fft {n_fft}, hop {hop}, {n_mels} mels"
              f"{', fmax ' + str(fmax) if fmax else ''}")
        print(f"{'method':<34} {'time':>7} {'SC dB':>7} {'LSD dB':>7} {'PESQ-WB':>8} {'STOI':>6}")

        def report(method, seconds, out):
            q = quality(y, out, sr, n_fft, hop)
            rows.append(dict(clip=name, method=method, seconds=seconds, **q))
            print(f"{method:<34} {seconds:>6.2f}s {q['sc']:>7.2f} {q['lsd']:>7.2f}"
                  f" {q.get('pesq_wb', float('nan')):>8.2f} {q.get('stoi', float('nan')):>6.3f}")

        out_wav = os.path.join(out_dir, f"inv_{name}_melnet.wav")
        for label, extra in MEL_CHAINS:
            t, _ = timed(lambda: subprocess.check_call(
                [melnet, "invert", mel_npy, "-o", out_wav, "-q"] + extra))
            report(f"melnet {label}", t, sf.read(out_wav, dtype="float32")[0])

        t, out = timed(lambda: librosa.feature.inverse.mel_to_audio(
            mel, sr=sr, n_fft=n_fft, hop_length=hop, fmax=fmax, n_iter=32, length=len(y)))
        report("librosa mel_to_audio (32)", t, out)

        def torch_inv():
            inv = torchaudio.transforms.InverseMelScale(
                n_stft=n_fft // 2 + 1, n_mels=n_mels, sample_rate=sr, f_max=fmax,
                norm="slaney", mel_scale="slaney")
            gl = torchaudio.transforms.GriffinLim(n_fft=n_fft, hop_length=hop, power=2.0,
                                                  n_iter=32, length=len(y))
            with torch.inference_mode():
                return gl(inv(torch.from_numpy(mel))).numpy()
        t, out = timed(torch_inv)
        report("torchaudio InverseMelScale+GL (32)", t, out)

        # Oracle magnitude: phase retrieval alone.
        mag_npy = os.path.join(out_dir, f"inv_{name}_mag.npy")
        subprocess.check_call([melnet, "stft", wav, "-o", mag_npy, "--sr", str(sr),
                               "--n-fft", str(n_fft), "--hop-length", str(hop)])
        for method in ["gla", "fgla", "pghi", "pghi+fgla", "lws", "lws+fgla"]:
            for iters in ([0] if method in ("pghi", "lws") else [32, 100]):
                t, _ = timed(lambda: subprocess.check_call(
                    [melnet, "invert", mag_npy, "--linear", "-o", out_wav, "-q",
                     "--phase", method, "--n-iter", str(iters)]))
                label = f"oracle |X|: melnet {method}" + (f" {iters}" if iters else "")
                report(label, t, sf.read(out_wav, dtype="float32")[0])
        S = stft_mag(y, n_fft, hop)
        t, out = timed(lambda: librosa.griffinlim(S, n_iter=32, hop_length=hop, length=len(y)))
        report("oracle |X|: librosa griffinlim 32", t, out)

        # PyPI lws on the same magnitude: batch LWS (100 iterations, its defaults), weights
        # built for our periodic Hann window (its own default is a symmetric one), then
        # librosa's iSTFT (same frame convention).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "window not symmetric": periodic Hann is not
            proc = lws.lws(scipy.signal.get_window("hann", n_fft), hop, perfectrec=False)

        def pypi_lws():
            X = proc.run_lws(S.T.astype(np.float64))
            return librosa.istft(X.T, hop_length=hop, n_fft=n_fft, length=len(y))
        t, out = timed(pypi_lws)
        report("oracle |X|: PyPI lws 1.2.8 (batch 100)", t, out)
    clip_rows = []
    per_clip(root, melnet, out_dir, clip_rows)
    with open(os.path.join(out_dir, "invert.json"), "w") as f:
        json.dump(dict(corpora=rows, clips=clip_rows), f, indent=1)


if __name__ == "__main__":
    main()
