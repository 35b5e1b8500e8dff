"""Sentences for the English TTS recipe: WordNet 3.0's quoted usage examples (Debian
`wordnet-base`, WordNet 3.0 licence: use, copy and distribute with its notice), normalised to
lower-case letters, spaces and apostrophes, 3 to 15 words, none with digits (WordNet's examples
rarely have them, so they are left out rather than spelled out); shuffled with a fixed seed and
split into held-out and training sentences that share no text.

    python3 tts_en_text.py WORDNET_DICT_DIR TRAIN HELDOUT OUT_DIR

writes OUT_DIR/metadata.csv (`id|text`, the training sentences, LJSpeech's format) and
OUT_DIR/heldout.csv (the same format, the held-out ones).
"""
import pathlib
import random
import re
import sys


def sentences(wordnet):
    """The distinct normalised examples of the WordNet data files under `wordnet`."""
    found = set()
    for part in ("noun", "verb", "adj", "adv"):
        for line in (wordnet / f"data.{part}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue  # the licence header, or a synset without a gloss
            for quoted in re.findall(r'"([^"]+)"', line.split(" | ", 1)[1]):
                if re.search(r"[0-9]", quoted):
                    continue
                text = re.sub(r"[-/]", " ", quoted.lower())
                text = re.sub(r"[^a-z' ]", "", text)
                text = " ".join(w.strip("'") for w in text.split() if w.strip("'"))
                if 3 <= len(text.split()) <= 15:
                    found.add(text)
    return sorted(found)


def main():
    wordnet, train, heldout, out = sys.argv[1:]
    chosen = sentences(pathlib.Path(wordnet))
    random.Random(0).shuffle(chosen)
    train, heldout = int(train), int(heldout)
    if len(chosen) < train + heldout:
        sys.exit(f"only {len(chosen)} sentences, {train + heldout} asked for")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, texts, start in (("heldout.csv", chosen[:heldout], 0),
                               ("metadata.csv", chosen[heldout:heldout + train], heldout)):
        lines = [f"s{start + i:05}|{t}" for i, t in enumerate(texts)]
        (out / name).write_text("\n".join(lines) + "\n")
    print(f"{len(chosen)} sentences; {train} to train on, {heldout} held out")


if __name__ == "__main__":
    main()
