"""Word error rate of a narration as a modern recogniser hears it: Moonshine base (PyPI
`moonshine-cpp`, MIT, which ships its English encoder and decoder in the package; nothing
is downloaded), beside pocketsphinx's figure from `sphinx.py`.

  wer WAV TEXT   -> {"hyp", "wer", "accuracy", "hits", "subs", "dels", "ins"}

Why two recognisers: pocketsphinx's acoustic model was trained on human speech around
2010 and its general language model swaps homophones and word boundaries ("calm" →
"com", "wooden floors" → "wouldn't force"), so its WER mixes how the voice sounds with
what the recogniser knows: the same paragraph scores 0.32 for Piper, 0.33 for flite and
0.85 for espeak-ng with pocketsphinx, 0.03-0.05 for all three with Moonshine. This one
says whether a listener's words come across; pocketsphinx's says how close to a recorded
human voice the audio is. Scoring is `sphinx.py`'s (lower-cased letter runs, the cheapest
word alignment). Moonshine is trained on clips up to about 30 s: pass a paragraph, not a
whole narration.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import sphinx


def transcribe(path):
    from moonshine_cpp import MoonshineModel

    with tempfile.TemporaryDirectory() as tmp:
        wav = str(Path(tmp) / "16k.wav")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", path, "-ac", "1", "-ar",
             str(sphinx.RATE), "-c:a", "pcm_s16le", wav],
            check=True, capture_output=True, stdin=subprocess.DEVNULL)
        return MoonshineModel().transcribe_wav(wav)


def wer(path, text):
    hyp = transcribe(path)
    ref, got = sphinx.words_of(text), sphinx.words_of(hyp)
    hits, subs, dels, ins = sphinx.edit_counts(ref, got)
    n = max(len(ref), 1)
    return {"hyp": hyp, "wer": round((subs + dels + ins) / n, 3),
            "accuracy": round(hits / n, 3),
            "hits": hits, "subs": subs, "dels": dels, "ins": ins}


if __name__ == "__main__":
    if sys.argv[1:2] != ["wer"] or len(sys.argv) != 4:
        sys.exit("usage: transcribe.py wer WAV TEXT")
    print(json.dumps(wer(sys.argv[2], sys.argv[3])))
