"""Prepared datasets (`melnet prepare`) for PyTorch-style data loading."""

import json

from . import _melnet


class MelDataset:
    """The windows of `frames` frames of one split of a prepared dataset, as a map-style
    dataset: `len(ds)` windows, `ds[i]` a float32 array (n_mels, frames) normalised with the
    training split's statistics (`normalization`: 'none', 'standard', 'standard-per-mel',
    'minmax'). Windows start every `hop` frames of each item (default `frames`: consecutive
    tiles); items shorter than `frames` are skipped, or with `pad=True` padded with the corpus
    minimum. A `torch.utils.data.DataLoader` takes it as it is (melnet does not import torch).

    With `labels=True` (a dataset prepared with `--labels`), `ds[i]` is `(window, label)`:
    a float32 vector for vector labels, the class index (int) for categories; `ds.labels`
    describes them (`kind`, `names` or `classes`).
    """

    def __init__(self, path, *, frames, split="train", normalization="standard", hop=None,
                 pad=False, labels=False):
        self._args = (str(path), int(frames), split, normalization,
                      int(frames if hop is None else hop), bool(pad))
        self._with_labels = bool(labels)
        self._open()
        if self._with_labels and self.labels is None:
            raise ValueError(f"{path}: the dataset has no labels (prepare it with --labels)")

    def _open(self):
        self._windows = _melnet.Windows(*self._args)
        self.stats = json.loads(self._windows.stats_json())
        self.params = json.loads(self._windows.params_json())
        self.labels = json.loads(self._windows.labels_json())

    def __len__(self):
        return len(self._windows)

    def __getitem__(self, i):
        n = len(self._windows)
        if not isinstance(i, int):
            i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"window {i} out of range for a dataset of {n}")
        window = self._windows.window(i)
        if not self._with_labels:
            return window
        label = self._windows.label(i)
        if self.labels["kind"] == "category":
            return window, int(label[0])
        return window, label

    def __getstate__(self):
        return self._args, self._with_labels

    def __setstate__(self, state):
        self._args, self._with_labels = state
        self._open()
