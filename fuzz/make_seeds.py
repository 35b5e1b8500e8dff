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


def sysex_seeds(work):
    """Banks made in code by melnet (no third-party patch data): a bulk dump, its raw packed
    voices, one single-voice dump, and a dump with a field set too high."""
    bank = os.path.join(work, "example.syx")
    melnet("synth", "example-bank", "-o", bank, "--seed", "1")
    syx = read(bank)
    put("sysex", "bulk", syx)
    put("sysex", "raw", syx[6:6 + 4096])
    put("sysex", "raw-one", syx[6:6 + 128])
    # A single-voice dump: the first voice unpacked from its packed bytes.
    p = syx[6:6 + 128]
    v = bytearray()
    for op in range(6):
        b = p[op * 17:op * 17 + 17]
        v += b[:11] + bytes([b[11] & 3, (b[11] >> 2) & 3, b[12] & 7, b[13] & 3, (b[13] >> 2) & 7,
                             b[14], b[15] & 1, (b[15] >> 1) & 31, b[16], (b[12] >> 3) & 15])
    v += p[102:110] + bytes([p[110] & 31, p[111] & 7, (p[111] >> 3) & 1]) + p[112:116]
    v += bytes([p[116] & 1, (p[116] >> 1) & 7, (p[116] >> 4) & 7]) + p[117:128]
    assert len(v) == 155
    checksum = (-sum(v)) & 0x7F
    put("sysex", "single", bytes([0xF0, 0x43, 0x00, 0x00, 0x01, 0x1B]) + bytes(v) + bytes([checksum, 0xF7]))
    bad = bytearray(syx)
    bad[6 + 14] = 100  # operator 6 output level of voice 1
    bad[4102] = (-sum(bad[6:4102])) & 0x7F
    put("sysex", "out-of-range", bytes(bad))


if __name__ == "__main__":
    if "--only-sysex" in sys.argv:  # seeds of the target added with issue 15
        with tempfile.TemporaryDirectory() as work:
            sysex_seeds(work)
        sys.exit(0)
    if os.path.isdir(CORPUS) and "--force" not in sys.argv:
        sys.exit(f"{CORPUS} exists; pass --force to rewrite the seeds")
    audio_seeds()
    toml_seeds()
    with tempfile.TemporaryDirectory() as work:
        file_seeds(work)
        sysex_seeds(work)
    print("seeds written to", CORPUS)
