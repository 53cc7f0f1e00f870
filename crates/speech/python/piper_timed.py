"""Piper with word times: the subset of the `piper` command line PeakReel uses
(--model, --config, --output-dir, --length-scale; one sentence per stdin line; `Wrote
FILE` on stderr when a sentence's WAV is complete), plus FILE's word start times in
seconds written first to FILE with `.words.json` for `.wav`: `{"starts": [...]}`.

Word starts come from Piper's phoneme alignments (`include_alignments`, which patches the
model in memory and needs the `onnx` package): a word starts where the word break before
it starts. Without alignments no `.words.json` is written and PeakReel aligns the audio
itself.
"""
import argparse
import json
import sys
import time
import wave
from pathlib import Path

from piper import PiperVoice, SynthesisConfig


def word_starts(chunks):
    """Start of each spoken word in seconds, from the chunks' phoneme alignments."""
    starts, offset = [], 0
    for chunk in chunks:
        if not chunk.phoneme_alignments:
            return None
        t, in_word, space_at = offset, False, None
        for al in chunk.phoneme_alignments:
            p = al.phoneme
            if p == " ":
                in_word, space_at = False, t
            elif not in_word and any(ch.isalpha() or ch in "ˈˌ" for ch in p):
                # The first sounding phoneme (or stress mark) after a break starts a word
                # (sentence markers, padding and punctuation never do). Its sound begins
                # during the word break before it: measured against forced alignment,
                # the break's start is within a few tens of ms of the heard onset, the
                # phoneme's own start 45-70 ms late.
                starts.append((t if space_at is None else space_at) / chunk.sample_rate)
                in_word, space_at = True, None
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
