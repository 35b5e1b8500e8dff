"""Phoneme transcripts of the English TTS corpus, for the characters-against-phonemes
measurement (BENCHMARKS.md, "English text-to-speech"): each word of each sentence of
`scripts/recipes/tts-en.sh`'s corpus through flite's `t2p` (the phones flite speaks: its
lexicon and letter-to-sound rules), stress marks dropped, pauses left out, one character per
phone (a-z then A-Z, in order of first use), words separated by spaces as in the character
transcripts — so the same model and windows can be trained on either.

    python3 bench/tts_phones.py RECIPE_OUT          # writes RECIPE_OUT/corpus/phones.csv
"""
import pathlib
import string
import subprocess
import sys


def main():
    out = pathlib.Path(sys.argv[1])
    tools = out / "tools"
    env = {"LD_LIBRARY_PATH": str(tools / "usr/lib/x86_64-linux-gnu")}
    t2p = str(tools / "usr/bin/t2p")
    symbols = iter(string.ascii_lowercase + string.ascii_uppercase)
    code, cache = {}, {}

    def phones(word):
        if word not in cache:
            said = subprocess.run([t2p, word], env=env, capture_output=True, text=True,
                                  check=True).stdout.split()
            for p in said:
                if p != "pau" and p.rstrip("012") not in code:
                    code[p.rstrip("012")] = next(symbols)
            cache[word] = "".join(code[p.rstrip("012")] for p in said if p != "pau")
        return cache[word]

    rows = []
    for line in (out / "corpus" / "metadata.csv").read_text().splitlines():
        ident, text = line.split("|", 1)
        rows.append(f"{ident}|{' '.join(phones(w) for w in text.split())}")
    (out / "corpus" / "phones.csv").write_text("\n".join(rows) + "\n")
    print(f"{len(rows)} sentences, {len(cache)} words, {len(code)} phones: "
          + " ".join(f"{p}={c}" for p, c in code.items()))


if __name__ == "__main__":
    main()
