"""The PyTorch tier of bench/melnet_torch.py computes melnet's function: on a melnet tier's
weights (crates/melnet/examples/tier_nll.rs, fixed seed), loaded into the PyTorch tier, the
per-element NLL of the same input agrees to 1e-4 nats in every element — with and without the
centralized stack, on two sizes. `bench/run.sh model` runs it before timing the two.

    bench/run.sh nll
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from melnet_torch import Tier  # noqa: E402

TOLERANCE = 1e-4
CASES = [
    # mels, frames, layers, width, centralized
    (16, 12, 2, 16, 1),
    (16, 12, 2, 16, 0),
    (32, 20, 3, 48, 1),
]


def read_safetensors(path):
    """The tensors of a safetensors file (f32 and u32 only), as numpy arrays by name."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        data = f.read()
    dtypes = {"F32": np.float32, "U32": np.uint32}
    return {name: np.frombuffer(data[t["data_offsets"][0]:t["data_offsets"][1]],
                                dtype=dtypes[t["dtype"]]).reshape(t["shape"])
            for name, t in header.items() if name != "__metadata__"}


def load_lstm(lstm, packed):
    """melnet's packed LSTM weights [input + hidden + 1, 4·hidden] (gates i, f, g, o, as
    PyTorch orders them) into a one-layer torch LSTM."""
    hidden = packed.shape[1] // 4
    inp = packed.shape[0] - hidden - 1
    lstm.weight_ih_l0.copy_(torch.from_numpy(packed[:inp].T.copy()))
    lstm.weight_hh_l0.copy_(torch.from_numpy(packed[inp:inp + hidden].T.copy()))
    lstm.bias_ih_l0.copy_(torch.from_numpy(packed[inp + hidden].copy()))
    lstm.bias_hh_l0.zero_()


def load_linear(lin, w, name):
    lin.weight.copy_(torch.from_numpy(w[f"{name}.weight"].copy()))
    lin.bias.copy_(torch.from_numpy(w[f"{name}.bias"].copy()))


def load(model, w, layers):
    """melnet's tier weights (by their safetensors names) into the PyTorch tier."""
    used = set()

    def get(name):
        used.add(name)
        return w[name]

    with torch.no_grad():
        for name in ["time_input", "freq_input", "head"] + (
                ["central_input"] if model.central_input is not None else []):
            get(f"{name}.weight"), get(f"{name}.bias")
            load_linear(getattr(model, name), w, name)
        for i, layer in enumerate(model.layers):
            pre = f"layers.{i}"
            pairs = [(layer.t_time, "time_delayed.time"), (layer.t_up, "time_delayed.freq_up"),
                     (layer.t_down, "time_delayed.freq_down"), (layer.f_freq, "frequency_delayed.freq")]
            if layer.c_time is not None:
                pairs.append((layer.c_time, "centralized.time"))
            for lstm, name in pairs:
                load_lstm(lstm, get(f"{pre}.{name}.lstm_weight"))
            projs = [(layer.t_proj, "time_delayed.proj"), (layer.f_proj, "frequency_delayed.proj")]
            if layer.c_proj is not None:
                projs.append((layer.c_proj, "centralized.proj"))
            for lin, name in projs:
                get(f"{pre}.{name}.weight"), get(f"{pre}.{name}.bias")
                load_linear(lin, w, f"{pre}.{name}")
    unused = set(w) - used
    if unused:
        sys.exit(f"melnet weights the PyTorch tier has no place for: {sorted(unused)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    a = p.parse_args()
    exe = os.path.join(a.root, "target/release/examples/tier_nll")
    torch.set_num_threads(1)
    worst_all = 0.0
    for mels, frames, layers, width, centralized in CASES:
        with tempfile.TemporaryDirectory() as out:
            sizes = json.loads(subprocess.run(
                [exe, "--out", out, "--mels", str(mels), "--frames", str(frames), "--layers",
                 str(layers), "--width", str(width), "--centralized", str(centralized)],
                check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            w = read_safetensors(os.path.join(out, "tier.safetensors"))
            data = read_safetensors(os.path.join(out, "data.safetensors"))
        model = Tier(mels, layers, width, sizes["mixtures"], centralized=bool(centralized))
        load(model, w, layers)
        with torch.no_grad():
            theirs = model.nll_elements(torch.from_numpy(data["x"].copy())).numpy()
        worst = float(np.abs(theirs - data["nll"]).max())
        worst_all = max(worst_all, worst)
        print(f"{mels} mels, {frames} frames, {layers} x {width}, centralized {bool(centralized)}: "
              f"mean NLL {data['nll'].mean():.5f} (melnet) {theirs.mean():.5f} (PyTorch), "
              f"worst element difference {worst:.2e} nats", flush=True)
    if worst_all > TOLERANCE:
        sys.exit(f"melnet and the PyTorch tier differ by {worst_all:.2e} nats > {TOLERANCE}")
    print(f"the PyTorch tier computes melnet's NLL (every element within {TOLERANCE} nats)")


if __name__ == "__main__":
    main()
