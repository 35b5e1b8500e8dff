"""Write the seed corpus of each fuzz target into fuzz/corpus/<target>/ (run once; the seeds
are committed). Needs numpy and soundfile (for FLAC, OGG/Vorbis and MP3) and a built
`target/release/melnet` (for the spectrogram, dataset and checkpoint seeds).

    python fuzz/make_seeds.py
"""

import io
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
MELNET = os.path.join(ROOT, "target", "release", "melnet")
SEP = b"\n--8<--\n"  # melnet_fuzz::SEPARATOR


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def audio_seeds():
    t = np.arange(800) / 16000
    y = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    kinds = {"wav": 0, "flac": 1, "ogg": 2, "mp3": 3}
    for ext, subtype, channels in [
        ("wav", "PCM_16", 1),
        ("wav", "PCM_24", 2),
        ("wav", "FLOAT", 1),
        ("wav", "PCM_U8", 1),
        ("wav", "ULAW", 1),
        ("flac", "PCM_16", 2),
        ("ogg", "VORBIS", 1),
        ("mp3", "MPEG_LAYER_III", 1),
    ]:
        x = np.stack([y] * channels, axis=1) if channels > 1 else y
        buf = io.BytesIO()
        sf.write(buf, x, 16000 if ext != "mp3" else 22050, subtype=subtype, format=ext.upper())
        put("audio", f"{ext}-{subtype.lower()}-{channels}ch", bytes([kinds[ext]]) + buf.getvalue())


def melnet(*args):
    subprocess.run([MELNET, *args], check=True, stdout=subprocess.DEVNULL)


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def file_seeds(work):
    clip = os.path.join(work, "clip.wav")
    y, sr = sf.read(os.path.join(ROOT, "data", "speech", "goforward.wav"), dtype="float32")
    sf.write(clip, y[: sr // 4], sr)
    for name, extra in [("mel-db", ["--db"]), ("mel-linear", [])]:
        out = os.path.join(work, f"{name}.npy")
        melnet("mel", clip, "-o", out, "--preset", "melnet-small", *extra)
        put("npy_sidecar", name, read(out) + SEP + read(out[:-4] + ".json"))
    out = os.path.join(work, "stft.npy")
    melnet("stft", clip, "-o", out, "--n-fft", "256")
    put("npy_sidecar", "stft", read(out) + SEP + read(out[:-4] + ".json"))

    src = os.path.join(work, "in")
    os.makedirs(src)
    for i, n in enumerate([sr, 3 * sr // 2]):
        sf.write(os.path.join(src, f"{i}.wav"), y[:n], sr)
    ds = os.path.join(work, "ds")
    melnet("prepare", src, "-o", ds, "--preset", "melnet-small", "--db", "-q")
    put("manifest", "small", read(ds, "manifest.json") + SEP + read(ds, "frames.npy"))

    run = os.path.join(work, "run")
    tiny = ["--layers", "1", "--width", "4", "--mixtures", "2", "--frames", "8", "--batch", "2"]
    melnet("train", "--data", ds, "--out", run, "--steps", "1", "-q", *tiny)
    tier = os.path.join(run, "tier-1")
    ckpt = os.path.join(tier, read(tier, "current").decode().strip())
    files = ["config.json", "state.json", "weights.safetensors", "optimizer.safetensors"]
    put("checkpoint", "tiny", SEP.join(read(ckpt, f) for f in files))


def toml_seeds():
    put("tier_toml", "full", b"layers = 2\nwidth = 32\nn_mixtures = 10\ncentralized = true\n"
        b"feature_layers = 1\ncensored = false\n")
    put("tier_toml", "partial", b"width = 8\n")


if __name__ == "__main__":
    if os.path.isdir(CORPUS) and "--force" not in sys.argv:
        sys.exit(f"{CORPUS} exists; pass --force to rewrite the seeds")
    audio_seeds()
    toml_seeds()
    with tempfile.TemporaryDirectory() as work:
        file_seeds(work)
    print("seeds written to", CORPUS)
