"""Word error rate of English speech read by an independent recogniser (pocketsphinx 5.1.1 from
PyPI, BSD-2-clause, its bundled US English model), three rows per speaker side by side on the
held-out sentences of `scripts/recipes/tts-en.sh`:

- *flite*: the recordings themselves (the recogniser's ceiling);
- *inverted*: the recordings → `melnet mel` (the dataset's analysis) → `melnet invert` (the
  inversion ceiling: what a perfect spectrogram model could reach);
- *model*: `melnet say` with the trained model, the sentence's text and the speaker.

Also the speaker identity of the model's audio (nearest centroid of mean log-mel, fitted on
training recordings of each voice), the real-time factor of `melnet say` (text to WAV, the
program started per sentence) over the held-out sentences and, best of three, on one 10-word
sentence, and the first `--show` sentences of each speaker as the recogniser heard them.

    bench/.venv/bin/python bench/tts.py --root . --recipe out/tts-en [--limit N] [--model DIR]
        [--rows flite,inverted,model] [--show N] [--bias B]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf


def wer_counts(ref, hyp):
    """Word edits (substitutions, insertions, deletions) from `ref` to `hyp`, and len(ref)."""
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)], len(r)


class Recogniser:
    """pocketsphinx's default US English decoder on 16 kHz mono audio."""

    def __init__(self):
        from pocketsphinx import Decoder
        self.decoder = Decoder(loglevel="FATAL")

    def __call__(self, path):
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        if sr != 16000:
            sys.exit(f"{path}: {sr} Hz, the recogniser needs 16 kHz")
        pcm = (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp else ""


def mean_log_mel(exe, wav, params, work):
    """Mean over frames of the dB mel spectrogram of `wav` (the dataset's analysis)."""
    npy = os.path.join(work, "centroid.npy")
    subprocess.run([exe, "mel", wav, "-o", npy, *params], check=True, capture_output=True)
    return np.load(npy).mean(axis=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--recipe", required=True, help="the OUT directory of tts-en.sh")
    p.add_argument("--model", help="model directory [default: ROOT/models/tts-en]")
    p.add_argument("--limit", type=int, default=100, help="held-out sentences per speaker")
    p.add_argument("--rows", default="flite,inverted,model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bias", default="0", help="melnet say --bias (sampling bias)")
    p.add_argument("--show", type=int, default=3, help="sentences per speaker to print heard")
    a = p.parse_args()
    exe = os.path.join(a.root, "target/release/melnet")
    corpus = os.path.join(a.recipe, "corpus")
    model = a.model or os.path.join(a.root, "models", "tts-en")
    rows = a.rows.split(",")
    heldout = [line.split("|", 1) for line in open(os.path.join(corpus, "heldout.csv")).read().splitlines()]
    heldout = heldout[: a.limit]
    voices = sorted(os.listdir(os.path.join(corpus, "heldout")))
    manifest = json.load(open(os.path.join(a.recipe, "dataset", "manifest.json")))
    mp = manifest["params"]
    params = ["--sr", str(mp["sr"]), "--n-fft", str(mp["n_fft"]), "--hop-length", str(mp["hop_length"]),
              "--n-mels", str(mp["n_mels"]), "--fmax", str(mp["fmax"]), "--db"]
    recognise = Recogniser()
    print(f"{'speaker':8} {'row':9} {'sentences':>9} {'WER %':>6} {'speaker id %':>12} {'RTF':>6}")
    heard = []
    with tempfile.TemporaryDirectory() as work:
        centroids = {}
        if "model" in rows:
            for v in voices:
                train = sorted(os.listdir(os.path.join(corpus, "audio", v)))[:20]
                centroids[v] = np.mean([mean_log_mel(exe, os.path.join(corpus, "audio", v, f), params, work)
                                        for f in train], axis=0)
        for v in voices:
            for row in rows:
                edits = words = right = 0
                audio_s = say_s = 0.0
                for i, (sid, text) in enumerate(heldout):
                    wav = os.path.join(corpus, "heldout", v, f"{sid}.wav")
                    if row == "inverted":
                        npy, out = os.path.join(work, "x.npy"), os.path.join(work, "x.wav")
                        subprocess.run([exe, "mel", wav, "-o", npy, *params], check=True, capture_output=True)
                        subprocess.run([exe, "invert", npy, "-o", out], check=True, capture_output=True)
                        wav = out
                    elif row == "model":
                        out = os.path.join(work, "say.wav")
                        start = time.perf_counter()
                        subprocess.run([exe, "say", text, "-o", out, "--speaker", v, "--model", model,
                                        "--seed", str(a.seed + i), "--bias", a.bias],
                                       check=True, capture_output=True)
                        say_s += time.perf_counter() - start
                        audio_s += sf.info(out).duration
                        guess = min(centroids, key=lambda c: np.sum(
                            (centroids[c] - mean_log_mel(exe, out, params, work)) ** 2))
                        right += guess == v
                        wav = out
                    hyp = recognise(wav)
                    if i < a.show:
                        heard.append(f"{v} {row}: \"{text}\" heard as \"{hyp}\"")
                    e, n = wer_counts(text, hyp)
                    edits, words = edits + e, words + n
                ident = f"{100 * right / len(heldout):12.1f}" if row == "model" else f"{'':12}"
                rtf = f"{audio_s / say_s:6.2f}" if row == "model" else f"{'':6}"
                print(f"{v:8} {row:9} {len(heldout):>9} {100 * edits / words:6.1f} {ident} {rtf}",
                      flush=True)
        if "model" in rows:
            ten = "the old man walked slowly down the road to town"
            out = os.path.join(work, "ten.wav")
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run([exe, "say", ten, "-o", out, "--model", model, "--speaker", voices[0],
                                "--bias", a.bias], check=True, capture_output=True)
                best = min(best, time.perf_counter() - start)
            seconds = sf.info(out).duration
            print(f"melnet say, 10 words (\"{ten}\", {voices[0]}): {seconds:.2f} s of audio in "
                  f"{best:.2f} s (best of 3), {seconds / best:.2f}x real time")
    print("\n".join(heard))


if __name__ == "__main__":
    main()
