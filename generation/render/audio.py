"""Audio for a piece: FluidSynth with a General MIDI soundfont, encoded to OGG Vorbis or MP3.

How: the Piece's notes are turned into note-on/off events timed in seconds through its tempo
map and fed to ``pyfluidsynth`` directly, rendering the samples between events. This was
chosen over the ``fluidsynth -F`` command line because it needs no temporary MIDI/WAV files
or subprocess, the timing comes from our own tempo map (the same one the score and the
timemap use), the end of the music is known exactly for trimming, and a failure raises a
Python error instead of an exit code to parse.

Encoding goes through soundfile (libsndfile) in 65,536-frame chunks: one big ``sf.write`` of
a long OGG array segfaults Python (STACK_NOTES).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generation.music.notes import Piece, piece_from_midi

SAMPLE_RATE = 44100
RELEASE_SECONDS = 1.0  # kept after the last note ends so notes and reverb die away naturally
FADE_SECONDS = 0.05  # a short fade at the very end so the cut never clicks
CHUNK_FRAMES = 65536
DRUM_CHANNEL = 9  # MIDI channel 10, counted from zero
SYNTH_GAIN = 0.5
TARGET_PEAK = 0.89  # about -1 dBFS
# Peak level per dynamic marking: a piece is brought to a common level, except that the
# mood's dynamics stay audible (pp sits about 9 dB under ff).
# A pp solo line leaves FluidSynth 30 dB under full scale; 16-bit samples keep over 50 dB
# of signal above their noise even after this much gain.
MAX_BOOST = 32.0
DYNAMICS_PEAK = {"pp": 0.32, "p": 0.4, "mp": 0.5, "mf": 0.63, "f": 0.79, "ff": 0.89}

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)

_FORMATS = {
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "wav": ("WAV", "PCM_16"),
}


class SoundfontMissing(RuntimeError):
    """No General MIDI soundfont could be found."""


@dataclass(frozen=True)
class AudioResult:
    path: Path
    format: str
    duration_seconds: float  # length of the written audio
    music_seconds: float  # end of the last note, from the tempo map
    rms: float  # root mean square of the written samples, full scale = 1.0
    peak: float
    render_seconds: float  # wall time spent synthesising
    encode_seconds: float  # wall time spent encoding


def find_soundfont(explicit: str | os.PathLike | None = None) -> Path:
    """The soundfont to use: ``explicit``, else ``$SOUNDFONT_PATH``, else FluidR3_GM, else
    TimGM6mb. Raises ``SoundfontMissing`` with what was tried."""
    tried: list[str] = []
    for candidate in (explicit, os.environ.get("SOUNDFONT_PATH"), *SOUNDFONT_CANDIDATES):
        if not candidate:
            continue
        tried.append(str(candidate))
        if Path(candidate).is_file():
            return Path(candidate)
    raise SoundfontMissing(
        "No General MIDI soundfont found (tried: " + ", ".join(tried) + "). Install "
        "fluid-soundfont-gm or set SOUNDFONT_PATH to an .sf2 file."
    )


def _channel_for(part_index: int, is_drum: bool, pitched_index: int) -> int:
    """Drums on channel 10; pitched parts on the other channels, in order.

    FluidSynth is created with 64 channels so up to 60 pitched parts each keep their own
    program; channels 9, 25, 41, 57 are drum channels in FluidSynth and are skipped.
    """
    if is_drum:
        return DRUM_CHANNEL
    channels = [c for c in range(64) if c % 16 != DRUM_CHANNEL]
    return channels[pitched_index % len(channels)]


_synths: dict[tuple[str, int], list] = {}  # key -> [synth, soundfont id, frames rendered]
FLUID_BLOCK = 64  # FluidSynth renders in blocks of 64 frames and applies events between them
FLUSH_FRAMES = 2 * SAMPLE_RATE  # silence rendered before each render to empty the reverb
_synths_lock = threading.Lock()


@contextmanager
def _synth(sf_path: Path, samplerate: int):
    """A FluidSynth with the soundfont loaded, kept for the process (loading FluidR3_GM
    takes about 0.4 s, a third of a short render) and used by one render at a time.

    Each use starts from ``system_reset`` (all voices off, controllers and programs back to
    their defaults) and two seconds of silence (the reverb's tail), so a render never hears
    the last one. It is not bit-identical to a fresh synth's render: FluidSynth's reverb and
    chorus are modulated by oscillators whose phase carries on; the music is the same.
    """
    import fluidsynth

    key = (str(sf_path), samplerate)
    with _synths_lock:
        if key not in _synths:
            synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=samplerate, channels=64)
            sfid = synth.sfload(str(sf_path))
            if sfid < 0:
                synth.delete()
                raise SoundfontMissing(f"FluidSynth could not load the soundfont {sf_path}")
            _synths[key] = [synth, sfid, 0]
        synth, sfid, rendered = _synths[key]
        synth.system_reset()
        # system_reset silences the voices but not the reverb's delay lines: let the last
        # render's tail die away (silence renders at about 50x real time). Then start on a
        # block boundary, as a fresh synth does: otherwise this render's events fall at
        # other points inside FluidSynth's 64-frame blocks than on a new synth.
        partial = FLUSH_FRAMES + (-(rendered + FLUSH_FRAMES)) % FLUID_BLOCK
        synth.get_samples(partial)
        counting = _CountingSynth(synth)
        try:
            yield counting, sfid
        finally:
            synth.system_reset()
            _synths[key][2] = rendered + partial + counting.frames


class _CountingSynth:
    """Passes calls to the synth and counts the frames it renders."""

    def __init__(self, synth) -> None:
        self._synth = synth
        self.frames = 0

    def get_samples(self, n: int):
        self.frames += n
        return self._synth.get_samples(n)

    def __getattr__(self, name: str):
        return getattr(self._synth, name)


def synthesize(
    piece: Piece,
    soundfont: str | os.PathLike | None = None,
    samplerate: int = SAMPLE_RATE,
    dynamics: str | None = None,
) -> tuple[np.ndarray, float]:
    """Render ``piece`` to a float32 stereo array (frames, 2) in [-1, 1], peaking at
    ``DYNAMICS_PEAK[dynamics]`` (TARGET_PEAK without dynamics).

    Returns ``(samples, music_seconds)``. The audio lasts until the last note ends plus
    ``RELEASE_SECONDS``, minus trailing silence inside that release.
    """
    sf_path = find_soundfont(soundfont)
    # events: (frame, order, kind, channel, pitch, velocity); offs sort before ons at the
    # same frame so a repeated note re-strikes instead of being cut by its own release
    events: list[tuple[int, int, str, int, int, int]] = []
    programs: list[tuple[int, int, int]] = []  # (channel, bank, program)
    pitched = 0
    for i, part in enumerate(piece.parts):
        channel = _channel_for(i, part.is_drum, pitched)
        if part.is_drum:
            programs.append((channel, 128, 0))
        else:
            pitched += 1
            programs.append((channel, 0, int(part.program) & 127))
        for n in part.notes:
            start = int(round(piece.beat_to_seconds(n.onset) * samplerate))
            end = int(round(piece.beat_to_seconds(n.onset + n.duration) * samplerate))
            end = max(end, start + 1)
            pitch = min(127, max(0, int(n.pitch)))
            vel = min(127, max(1, int(n.velocity)))
            events.append((start, 1, "on", channel, pitch, vel))
            events.append((end, 0, "off", channel, pitch, 0))
    events.sort()
    music_seconds = piece.duration_seconds
    end_frame = int(round(music_seconds * samplerate))
    total_frames = end_frame + int(RELEASE_SECONDS * samplerate)

    blocks: list[np.ndarray] = []
    with _synth(sf_path, samplerate) as (synth, sfid):
        for channel, bank, program in programs:
            synth.program_select(channel, sfid, bank, program)
        now = 0
        for frame, _, kind, channel, pitch, vel in events:
            if frame > now:
                blocks.append(synth.get_samples(frame - now))
                now = frame
            if kind == "on":
                synth.noteon(channel, pitch, vel)
            else:
                synth.noteoff(channel, pitch)
        if total_frames > now:
            blocks.append(synth.get_samples(total_frames - now))

    raw = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)
    audio = raw.astype(np.float32).reshape(-1, 2) / 32768.0
    audio = _trim_release(audio, end_frame, samplerate)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 0:
        # bring every render to the level of its dynamics; never boost noise wildly
        audio *= min(DYNAMICS_PEAK.get(dynamics or "", TARGET_PEAK) / peak, MAX_BOOST)
    fade = min(len(audio), int(FADE_SECONDS * samplerate))
    if fade:
        audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return audio, music_seconds


def _trim_release(audio: np.ndarray, end_frame: int, samplerate: int) -> np.ndarray:
    """Cut silence after the music: keep everything up to the last note's end, then the
    release only as long as it is audible (above about -60 dBFS)."""
    if len(audio) <= end_frame:
        return audio
    tail = np.abs(audio[end_frame:]).max(axis=1)
    loud = np.nonzero(tail > 1e-3)[0]
    keep = end_frame + (int(loud[-1]) + 1 if loud.size else 0)
    keep = max(keep, min(len(audio), end_frame + int(0.1 * samplerate)))
    return audio[:keep]


def encode(
    audio: np.ndarray, out_path: str | Path, fmt: str = "ogg", samplerate: int = SAMPLE_RATE
) -> Path:
    """Write float samples (frames, channels) as ``fmt`` ("ogg", "mp3" or "wav") in chunks."""
    import soundfile as sf

    if fmt not in _FORMATS:
        raise ValueError(f"unknown audio format {fmt!r}; use one of {sorted(_FORMATS)}")
    container, subtype = _FORMATS[fmt]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    channels = audio.shape[1] if audio.ndim == 2 else 1
    with sf.SoundFile(
        str(out_path),
        mode="w",
        samplerate=samplerate,
        channels=channels,
        format=container,
        subtype=subtype,
    ) as f:
        for start in range(0, len(audio), CHUNK_FRAMES):
            f.write(audio[start : start + CHUNK_FRAMES])
    return out_path


def render_audio(
    piece_or_midi_path: Piece | str | os.PathLike | bytes,
    out_path: str | Path,
    soundfont: str | os.PathLike | None = None,
    fmt: str = "ogg",
    dynamics: str | None = None,
) -> AudioResult:
    """Synthesise a Piece (or a MIDI file path / MIDI bytes) and encode it to ``out_path``.

    The audio lasts from beat 0 to the last note's end plus up to ``RELEASE_SECONDS`` of
    release; drum parts play on MIDI channel 10; its peak level follows ``dynamics`` (pp..ff,
    see DYNAMICS_PEAK). Raises ``SoundfontMissing`` when no soundfont is available and
    ``ValueError`` for an unknown format.
    """
    if isinstance(piece_or_midi_path, Piece):
        piece = piece_or_midi_path
    else:
        piece = piece_from_midi(piece_or_midi_path)
    t0 = time.perf_counter()
    audio, music_seconds = synthesize(piece, soundfont, dynamics=dynamics)
    t1 = time.perf_counter()
    path = encode(audio, out_path, fmt)
    t2 = time.perf_counter()
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return AudioResult(
        path=path,
        format=fmt,
        duration_seconds=len(audio) / SAMPLE_RATE,
        music_seconds=music_seconds,
        rms=rms,
        peak=float(np.abs(audio).max()) if audio.size else 0.0,
        render_seconds=t1 - t0,
        encode_seconds=t2 - t1,
    )
