"""Transcripts and speaker labels for the Czech speech recipe (speech.sh with TEXT set): the
Czech lines of Fish Fillets NG (Debian `fillets-ng-data`, GPL-2: `script/LEVEL/dialogs_cs.lua`,
`dialogId("ID", …)` then `dialogStr("text")`) matched to the recordings of
`fillets-ng-data-cs` (`sound/LEVEL/cs/ID.ogg`). The ID's middle part names the character
(`m` the small fish, `v` the big one, …): characters with fewer than MIN_LINES recordings are
pooled as `other`. Texts are lower-cased, punctuation dropped, spaces collapsed; lines with
digits or letters outside the Czech alphabet are left out.

    python3 speech_cs_text.py SCRIPT_DIR SOUND_DIR OUT_DIR

writes OUT_DIR/metadata.csv (`id|text`, LJSpeech's format), OUT_DIR/blank.csv (every id with
the text "a": the same windows and model without the text's information, the ablation) and
OUT_DIR/labels.csv (`path,speaker`, paths relative to SOUND_DIR).
"""
import collections
import pathlib
import re
import sys

MIN_LINES = 40


def lines(script):
    """(id, Czech text) of every dialogs_cs.lua under `script`."""
    pattern = re.compile(r'dialogId\("([^"]+)"[^\n]*\)\s*dialogStr\("((?:[^"\\]|\\.)*)"\)')
    for lua in sorted(script.glob("*/dialogs_cs.lua")):
        yield from pattern.findall(lua.read_text(encoding="utf-8"))


CZECH = "a-záčďéěíňóřšťúůýž"


def normalise(text):
    """Lower case, letters of the Czech alphabet and single spaces; None for a line with digits
    or other scripts' letters."""
    text = re.sub(r"[^\w ]|_", " ", text.lower().replace("\\n", " "))
    if re.search(f"[^{CZECH} ]", text):
        return None
    return " ".join(text.split()) or None


def main():
    script, sound, out = (pathlib.Path(a) for a in sys.argv[1:])
    recordings = {p.stem: p.relative_to(sound) for p in sound.glob("*/cs/*.ogg")}
    rows = []
    for ident, text in lines(script):
        text = normalise(text)
        if text and ident in recordings:
            rows.append((ident, text, ident.split("-")[1] if ident.count("-") >= 2 else "other"))
    counts = collections.Counter(s for _, _, s in rows)
    out.mkdir(parents=True, exist_ok=True)
    seen = set()
    meta, blank, labels = [], [], ["path,speaker"]
    for ident, text, speaker in rows:
        if ident in seen:
            continue
        seen.add(ident)
        meta.append(f"{ident}|{text}")
        blank.append(f"{ident}|a")
        labels.append(f"{recordings[ident]},{speaker if counts[speaker] >= MIN_LINES else 'other'}")
    (out / "metadata.csv").write_text("\n".join(meta) + "\n", encoding="utf-8")
    (out / "blank.csv").write_text("\n".join(blank) + "\n", encoding="utf-8")
    (out / "labels.csv").write_text("\n".join(labels) + "\n", encoding="utf-8")
    speakers = collections.Counter(l.rsplit(",", 1)[1] for l in labels[1:])
    print(f"{len(meta)} of {len(recordings)} recordings with a transcript; speakers {dict(speakers)}")


if __name__ == "__main__":
    main()
