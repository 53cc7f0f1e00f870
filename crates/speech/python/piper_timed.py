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


def word_starts(chunks):
    """Start of each spoken word in seconds, from the chunks' phoneme alignments.

    Each alignment counts a phoneme and the padding after it. The first sounding phoneme
    (or stress mark) after a word break starts a word (sentence markers, padding and
    punctuation never do). Where its sound begins depends on what the break holds,
    measured against pocketsphinx forced alignment on 180 words at two speeds:
    - a plain break (`" "`) is part of the coarticulated transition, and the word is heard
      from the break's start (mean 18 ms off; the phoneme's own start is 56 ms late);
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
        t, in_word, space_at, paused = offset, False, None, False
        for al in chunk.phoneme_alignments:
            p = al.phoneme
            if p in PAUSES:
                paused = True
            if p == " ":
                in_word, space_at = False, t
            elif not in_word and any(ch.isalpha() or ch in "ˈˌ" for ch in p):
                if space_at is None:
                    at = first_word_start(chunk.audio_int16_bytes, rate, t - offset)
                    start = (offset + at) / rate
                elif paused:
                    start = max(space_at / rate, t / rate - ONSET_LEAD)
                else:
                    start = space_at / rate
                starts.append(start)
                in_word, space_at, paused = True, None, False
            t += al.num_samples
        offset += len(chunk.audio_int16_bytes) // 2
    return starts


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
