"""MelNet tier in PyTorch, written for the benchmark: the same architecture as crates/melnet
(time-delayed, centralized and frequency-delayed stacks, GMM head with log-scales floored at
-7), PyTorch's default initialisation (the scheme melnet's init reproduces) and the same
optimiser (RMSprop lr 1e-4, alpha 0.99, eps 1e-8, momentum 0.9).

    python bench/melnet_torch.py --mels 32 --frames 64 --layers 6 --width 256 --batch 16 --steps 3

prints one JSON line {"step_s": ..., "elements_per_s": ...} like
crates/melnet/examples/train_throughput.rs.
"""
import argparse
import json
import math
import time

import torch
from torch import nn


def delay(x, dim):
    """Shift by one along dim, zeros entering at the start (no wrap-around)."""
    pad = [0, 0] * (x.dim() - 1 - dim) + [1, 0]
    return nn.functional.pad(x, pad).narrow(dim, 0, x.shape[dim])


def along_time(lstm, h):
    b, t, f, d = h.shape
    out, _ = lstm(h.permute(0, 2, 1, 3).reshape(b * f, t, d))
    return out.reshape(b, f, t, -1).permute(0, 2, 1, 3)


def along_freq(lstm, h, backwards=False):
    b, t, f, d = h.shape
    seqs = h.reshape(b * t, f, d)
    if backwards:
        out, _ = lstm(seqs.flip(1))
        out = out.flip(1)
    else:
        out, _ = lstm(seqs)
    return out.reshape(b, t, f, -1)


class Layer(nn.Module):
    def __init__(self, d, centralized):
        super().__init__()
        self.t_time = nn.LSTM(d, d, batch_first=True)
        self.t_up = nn.LSTM(d, d, batch_first=True)
        self.t_down = nn.LSTM(d, d, batch_first=True)
        self.t_proj = nn.Linear(3 * d, d)
        self.c_time = nn.LSTM(d, d, batch_first=True) if centralized else None
        self.c_proj = nn.Linear(d, d) if centralized else None
        self.f_freq = nn.LSTM(d, d, batch_first=True)
        self.f_proj = nn.Linear(d, d)

    def forward(self, h_t, h_c, h_f):
        cat = torch.cat(
            [along_time(self.t_time, h_t), along_freq(self.t_up, h_t), along_freq(self.t_down, h_t, True)], -1
        )
        h_t = self.t_proj(cat) + h_t
        inp = h_f + h_t
        if h_c is not None:
            h_c = self.c_proj(self.c_time(h_c)[0]) + h_c
            inp = inp + h_c.unsqueeze(2)
        h_f = self.f_proj(along_freq(self.f_freq, inp)) + h_f
        return h_t, h_c, h_f


class Tier(nn.Module):
    def __init__(self, mels, layers, width, k, centralized=True):
        super().__init__()
        self.time_input = nn.Linear(1, width)
        self.freq_input = nn.Linear(1, width)
        self.central_input = nn.Linear(mels, width) if centralized else None
        self.layers = nn.ModuleList(Layer(width, centralized) for _ in range(layers))
        self.head = nn.Linear(width, 3 * k)
        self.k = k

    def nll(self, x):
        return self.nll_elements(x).mean()

    def nll_elements(self, x):
        """Per-element NLL, nats, [batch, frames, mels]."""
        prev_frame, prev_bin = delay(x, 1), delay(x, 2)
        h_t = self.time_input(prev_frame.unsqueeze(-1))
        h_f = self.freq_input(prev_bin.unsqueeze(-1))
        h_c = self.central_input(prev_frame) if self.central_input is not None else None
        for layer in self.layers:
            h_t, h_c, h_f = layer(h_t, h_c, h_f)
        raw = self.head(h_f)
        mu, log_s, logits = raw.split(self.k, -1)
        log_s = log_s.clamp(min=-7.0)
        log_w = torch.log_softmax(logits, -1)
        z = (x.unsqueeze(-1) - mu) * torch.exp(-log_s)
        log_p = log_w - log_s - 0.5 * z * z - 0.5 * math.log(2 * math.pi)
        return -torch.logsumexp(log_p, -1)


def main():
    p = argparse.ArgumentParser()
    for name, default in [("mels", 32), ("frames", 32), ("layers", 2), ("width", 32), ("batch", 8), ("steps", 5)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Tier(a.mels, a.layers, a.width, 10)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.99, eps=1e-8, momentum=0.9)
    x = torch.randn(a.batch, a.frames, a.mels)

    def step():
        opt.zero_grad()
        loss = model.nll(x)
        loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    step_s = (time.perf_counter() - start) / a.steps
    print(json.dumps({"step_s": step_s, "elements_per_s": a.batch * a.frames * a.mels / step_s}))


if __name__ == "__main__":
    main()
