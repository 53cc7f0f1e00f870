"""Offline speech measurements with pocketsphinx's packaged US English model.

  align WAV TEXT   -> {"words": [{"word", "start", "end"}]}  forced alignment, seconds
  align-many       stdin [{"wav", "text"}] -> a list of the above (null where it failed)
  wer WAV TEXT     -> {"hyp", "wer", "accuracy", "hits", "subs", "dels", "ins"}
                                                              free recognition vs TEXT
  f0 WAV           -> {"median_f0"}                           Hz, voiced 40 ms frames

PeakReel runs `align` for audio no engine timed itself; bench/voices.sh and the tests
use the other two (and `align` to check times independently of the engine).
Audio is read by ffmpeg and resampled to 16 kHz mono, the model's rate.
"""
import json
import re
import subprocess
import sys

import numpy as np

RATE = 16000


def pcm(path):
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL).stdout
    return raw


def words_of(text):
    # The recogniser's dictionary is lower-case words with apostrophes.
    return [w for w in re.findall(r"[a-z']+", text.lower()) if w.strip("'")]


def decoder(**options):
    from pocketsphinx import Decoder
    return Decoder(samprate=RATE, loglevel="FATAL", **options)



def align(path, text):
    d = decoder()
    known = []
    for w in words_of(text):
        if d.lookup_word(w) is None:
            continue  # out of vocabulary: aligned as part of its neighbours
        known.append(w)
    d.set_align_text(" ".join(known))
    d.start_utt()
    d.process_raw(pcm(path), full_utt=True)
    d.end_utt()
    out = []
    for seg in d.seg() or []:
        word = re.sub(r"\(\d+\)$", "", seg.word)  # alternative pronunciations: "the(2)"
        if word in ("<s>", "</s>", "<sil>", "[NOISE]") or word.startswith("+"):
            continue
        out.append({"word": word, "start": seg.start_frame / 100.0,
                    "end": (seg.end_frame + 1) / 100.0})
    return {"words": out}


def edit_counts(ref, got):
    """(hits, substitutions, deletions, insertions) of the cheapest word alignment."""
    n, m = len(ref), len(got)
    d = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (ref[i - 1] != got[j - 1]))
    i, j, hits, subs, dels, ins = n, m, 0, 0, 0, 0
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != got[j - 1]):
            if ref[i - 1] == got[j - 1]:
                hits += 1
            else:
                subs += 1
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return hits, subs, dels, ins


def wer(path, text):
    """Word error rate, (S + D + I) / N, and word accuracy, hits / N (the share of words
    recognised, which ignores insertions: a different, kinder figure)."""
    # The package's defaults: wider beams changed one of nine measured narrations by two
    # words and made decoding many times slower.
    d = decoder()
    d.start_utt()
    d.process_raw(pcm(path), full_utt=True)
    d.end_utt()
    hyp = d.hyp().hypstr if d.hyp() else ""
    ref, got = words_of(text), words_of(hyp)
    hits, subs, dels, ins = edit_counts(ref, got)
    n = max(len(ref), 1)
    return {"hyp": hyp, "wer": round((subs + dels + ins) / n, 3),
            "accuracy": round(hits / n, 3),
            "hits": hits, "subs": subs, "dels": dels, "ins": ins}


def median_f0(path):
    x = np.frombuffer(pcm(path), dtype=np.int16).astype(np.float64) / 32768.0
    win, hop = int(0.04 * RATE), int(0.01 * RATE)
    lo, hi = RATE // 400, RATE // 60  # lags for 400 Hz .. 60 Hz
    loud = np.sqrt(np.mean(x ** 2)) if len(x) else 0.0
    f0s = []
    for s in range(0, len(x) - win, hop):
        f = x[s:s + win] - np.mean(x[s:s + win])
        if np.sqrt(np.mean(f ** 2)) < 0.5 * loud:
            continue  # silence and weak consonants
        ac = np.correlate(f, f, "full")[win - 1:]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        best = float(np.max(ac[lo:hi]))
        if best < 0.5:
            continue  # not clearly periodic: unvoiced
        # The shortest lag nearly as good as the best: multiples of the period correlate
        # too, and picking them would halve the pitch.
        lag = lo + int(np.argmax(ac[lo:hi] >= 0.9 * best))
        f0s.append(RATE / lag)
    return {"median_f0": round(float(np.median(f0s)), 1) if f0s else None}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "align":
        res = align(sys.argv[2], sys.argv[3])
    elif cmd == "align-many":
        res = []
        for item in json.load(sys.stdin):
            try:
                res.append(align(item["wav"], item["text"]))
            except Exception:  # one bad clip must not lose the others' times
                res.append(None)
    elif cmd == "wer":
        res = wer(sys.argv[2], sys.argv[3])
    elif cmd == "f0":
        res = median_f0(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
    print(json.dumps(res))
