"""Piper with word times: the subset of the `piper` command line PeakReel uses
(--model, --config, --output-dir, --length-scale; one sentence per stdin line; `Wrote
FILE` on stderr when a sentence's WAV is complete), plus FILE's word start times in
seconds written first to FILE with `.words.json` for `.wav`: `{"starts": [...]}`.

Word starts come from Piper's phoneme alignments (`include_alignments`, which patches the
model in memory and needs the `onnx` package; see `word_starts`). Without alignments no `.words.json` is written and PeakReel aligns the audio
itself.
"""
import argparse
import json
import sys
import time
import wave
from pathlib import Path

import numpy as np
from piper import PiperVoice, SynthesisConfig


# Phonemes after which Piper pauses (espeak-ng's punctuation).
PAUSES = set(",.;:!?")
# How far a word's sound begins before its first phoneme's own start, after a pause.
ONSET_LEAD = 0.030
# A sentence's sound begins where its 5 ms loudness first reaches 40 dB under its peak;
# pocketsphinx hears the first word about 20 ms before that (`first_word_start`).
ONSET_WINDOW = 0.005
ONSET_FLOOR_DB = -40.0
ONSET_HEARD_LEAD = 0.020


def first_word_start(audio, rate, phoneme_at):
    """Start in samples of a sentence's first word: where the sentence's sound begins.

    Piper pads a sentence with a silent marker phoneme (`^`) whose alignment also holds the
    first word's attack, so the first phoneme's own start was 33-37 ms late on average and
    up to 61 ms (pocketsphinx forced alignment of 60 sentences at two speeds); the sound's
    onset is 11 ms off on average and at most 37 ms. Never after `phoneme_at` (a sentence
    whose loudest part is quieter than its attack is not a case to move a word for)."""
    x = np.frombuffer(audio, dtype=np.int16).astype(np.float64)
    win = max(1, int(ONSET_WINDOW * rate))
    if len(x) < win:
        return phoneme_at
    loudness = np.sqrt(np.convolve(x * x, np.ones(win) / win, "valid"))
    peak = float(loudness.max())
    if peak <= 0:
        return phoneme_at
    onset = int(np.argmax(loudness >= peak * 10 ** (ONSET_FLOOR_DB / 20)))
    return min(phoneme_at, max(0, onset - int(ONSET_HEARD_LEAD * rate)))


# Phonemes whose sound is a hiss: a word starting with one starts where the hiss does.
SIBILANTS = set("szʃʒ")
# Where to look for it around the word break, seconds.
HISS_BEFORE = 0.100
HISS_AFTER = 0.060
# A 10 ms frame hisses when its energy above 4 kHz exceeds its energy below 1 kHz by
# 10 dB; the hiss's onset is its first such frame within 10 dB of its loudest.
HISS_HOP = 0.005
HISS_MARGIN_DB = 10.0
HISS_DROP_DB = 10.0


def band_db(frame, rate, lo, hi):
    spectrum = np.abs(np.fft.rfft(frame * np.hanning(len(frame)))) ** 2
    freqs = np.fft.rfftfreq(len(frame), 1 / rate)
    return 10 * np.log10(spectrum[(freqs >= lo) & (freqs < hi)].sum() + 1.0)


def hiss_start(x, rate, break_at, phoneme_at):
    """Start in samples of a word that begins with a sibilant, from the audio `x` of its
    sentence: where the hiss begins near the word break, or None when no hiss is found.

    Piper's decoder does not keep to its alignments at a word break: in "a sunny" the /s/
    hissed from 108 ms before its aligned start, and words starting with a sibilant after
    a short word were the worst timed (mean 32-39 ms, up to 82 ms off pocketsphinx; 48
    such words of eight sentences at two speeds, none of them in the tests). From the hiss
    they are 9-11 ms off on average and at most 31 ms, with the same 20 ms lead as a
    sentence's onset."""
    hop = max(1, int(HISS_HOP * rate))
    win = 2 * hop
    lo = max(0, break_at - int(HISS_BEFORE * rate))
    hi = min(len(x) - win, phoneme_at + int(HISS_AFTER * rate))
    starts = list(range(lo, hi, hop))
    if not starts:
        return None
    high = np.array([band_db(x[s:s + win], rate, 4000, rate / 2) for s in starts])
    low = np.array([band_db(x[s:s + win], rate, 0, 1000) for s in starts])
    hiss = high - low
    k = int(np.argmax(hiss))
    if hiss[k] < HISS_MARGIN_DB:
        return None
    loudest = high[k]
    while k > 0 and hiss[k - 1] >= HISS_MARGIN_DB and high[k - 1] >= loudest - HISS_DROP_DB:
        k -= 1
    return max(0, starts[k] + hop // 2 - int(ONSET_HEARD_LEAD * rate))


def word_starts(chunks):
    """Start of each spoken word in seconds, from the chunks' phoneme alignments.

    Each alignment counts a phoneme and the padding after it. The first sounding phoneme
    (or stress mark) after a word break starts a word (sentence markers, padding and
    punctuation never do). Where its sound begins depends on what the break holds,
    measured against pocketsphinx forced alignment on 180 words at two speeds:
    - a plain break (`" "`) is part of the coarticulated transition, and the word is heard
      from the break's start (mean 18 ms off; the phoneme's own start is 56 ms late);
      except that a word starting with a sibilant starts where its hiss does
      (`hiss_start`), unless the word before ends in one (their hisses run together);
    - a break after punctuation holds the pause, and the word is heard only at its end,
      about 30 ms before the first phoneme's start (the break's start was up to 235 ms
      early there);
    - a sentence's first word has no break before it: it starts where the sentence's
      sound does (`first_word_start`).
    """
    starts, offset = [], 0
    for chunk in chunks:
        if not chunk.phoneme_alignments:
            return None
        rate = chunk.sample_rate
        x = np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16).astype(np.float64)
        aligned = list(chunk.phoneme_alignments)
        t, in_word, space_at, paused = offset, False, None, False
        last_sounds = []  # the sounding phonemes of the word before, last two
        for i, al in enumerate(aligned):
            p = al.phoneme
            if p in PAUSES:
                paused = True
            if p == " ":
                in_word, space_at = False, t
            elif not in_word and sounds(p):
                if space_at is None:
                    at = first_word_start(chunk.audio_int16_bytes, rate, t - offset)
                    start = (offset + at) / rate
                elif paused:
                    start = max(space_at / rate, t / rate - ONSET_LEAD)
                else:
                    start = space_at / rate
                    first = first_sound(aligned, i)
                    if first in SIBILANTS and not SIBILANTS & set("".join(last_sounds)):
                        hiss = hiss_start(x, rate, space_at - offset, t - offset)
                        if hiss is not None:
                            start = (offset + hiss) / rate
                if starts:
                    start = max(start, starts[-1] + 0.010)  # words never overlap
                starts.append(start)
                in_word, space_at, paused, last_sounds = True, None, False, []
            if in_word and any(ch.isalpha() for ch in p):
                last_sounds = (last_sounds + [p])[-2:]
            t += al.num_samples
        offset += len(chunk.audio_int16_bytes) // 2
    return starts


def sounds(phoneme):
    """Whether an alignment's phoneme is part of a word (a letter or a stress mark)."""
    return any(ch.isalpha() or ch in "ˈˌ" for ch in phoneme)


def first_sound(aligned, i):
    """The first letter of the first sounding phoneme at or after `aligned[i]`, past
    stress marks."""
    for al in aligned[i:i + 3]:
        letters = al.phoneme.lstrip("ˈˌ")
        if letters:
            return letters[0]
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--config")
    ap.add_argument("--output-dir", required=True)
    ap.add_argument("--length-scale", type=float, default=1.0)
    args = ap.parse_args()
    voice = PiperVoice.load(args.model, config_path=args.config, include_alignments=True)
    syn = SynthesisConfig(length_scale=args.length_scale)
    out = Path(args.output_dir)
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        chunks = list(voice.synthesize(text, syn, include_alignments=True))
        path = out / f"{time.monotonic_ns()}.wav"
        starts = word_starts(chunks)
        if starts is not None:
            path.with_suffix(".words.json").write_text(json.dumps({"starts": starts}))
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(chunks[0].sample_rate if chunks else voice.config.sample_rate)
            for c in chunks:
                w.writeframes(c.audio_int16_bytes)
        print(f"Wrote {path}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
