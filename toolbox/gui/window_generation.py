"""Generation and outputs for :class:`~toolbox.gui.main_window.MainWindow` (a mixin, to keep files small).

Synthesize / vocode requests go to the model worker; results stream back as signals: mels are drawn,
audio chunks are appended to the current :class:`Clip` and fed to the player as they arrive.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from models.audio import enhance
from toolbox.audio_io import StartGate
from toolbox.gui.outputs import write_clip
from toolbox.gui.session import Clip
from toolbox.gui.tasks import run_task

log = logging.getLogger(__name__)


class GenerationMixin:
    """Needs the MainWindow attributes: models, player, generate_panel, spectrograms, outputs, status,
    voice, mels, job, job_mode, clip, add_utterance, generation_finished."""

    _gate: StartGate | None = None

    # -- generation -----------------------------------------------------------------------------------
    def start_generation(self, mode: str) -> int:
        gp = self.generate_panel
        if self.job and self.job_mode:
            return 0  # one job at a time
        voice = self.voice
        if mode != "vocode" and (voice is None or voice.embedding is None):
            self.status.error("Choose a voice first (record, load a file or pick a point on the map)")
            return 0
        if mode == "vocode" and not self.mels:
            return 0
        text = gp.text.toPlainText().strip()
        if mode != "vocode" and not text:
            self.status.error("Type some text to synthesize")
            return 0
        if mode != "vocode":
            from models.quality import unsupported_scripts

            scripts = unsupported_scripts(text)
            if scripts:
                self.status.info("The text has letters the synthesizer cannot speak ("
                                 + ", ".join(s.title() for s in scripts)
                                 + "): they are transliterated and read as English")
        speaker = voice.speaker if voice is not None else "?"
        self.clip = None
        if mode in ("both", "vocode"):
            self._clip_count += 1
            self.clip = Clip(name=f"clip {self._clip_count}", speaker=speaker, text=text)
            self.outputs.add_clip(self.clip)
            if self.player.available:
                self._gate = StartGate()  # fed by the worker's progress: start without later gaps
                self.player.start_stream(self._gate)
        self.job_mode = mode
        gp.show_progress(0.0, 0.0)
        self.job = self.models.generate(mode=mode, text=text,
                                        embedding=voice.embedding if voice is not None else None,
                                        mels=list(self.mels), seed=gp.seed, vocoder=gp.model("vocoder"))
        self._update_actions()
        return self.job

    def stop_generation(self) -> None:
        if self.job_mode:
            self.models.cancel(self.job)
        self.player.stop()

    def _on_mels(self, job: int, mels: list) -> None:
        if job != self.job:
            return
        self.mels = list(mels)
        gap = np.full((80, 12), -4.0, np.float32)
        parts = []
        for m in mels:
            parts += [m, gap]
        whole = np.concatenate(parts[:-1], axis=1) if parts else np.zeros((80, 0), np.float32)
        self.spectrograms.generated.show_mel(whole, f"{len(mels)} sentence(s)")
        if self.clip is not None:
            self.clip.mels = self.mels

    def _on_audio(self, job: int, chunk: np.ndarray) -> None:
        if job != self.job or self.clip is None:
            return
        self.clip.chunks.append(chunk)
        self.player.feed(chunk)

    def _on_progress(self, job: int, fraction: float, rtf: float) -> None:
        if job == self.job:
            self.generate_panel.show_progress(fraction, rtf)
            if self._gate is not None:
                self._gate.progress(fraction)

    def _on_finished(self, job: int, outcome: str) -> None:
        if job != self.job:
            return
        self.job_mode = ""
        self.player.end_stream()
        clip = self.clip
        if clip is not None:
            clip.complete = True
            if outcome != "done":
                clip.name += f" ({outcome})"
            elif clip.chunks and self.generate_panel.enhance_check.isChecked():
                clip.chunks = [enhance(clip.wav)]  # webrtcvad on a few seconds of audio: milliseconds
            self.outputs.refresh_clip(clip)
            if outcome == "done" and clip.chunks:
                self.add_utterance(clip.wav, f"{clip.speaker} generated {clip.name}", clip.speaker,
                                   kind="generated")
        if outcome != "done":
            self.generate_panel.progress.setFormat(outcome)
        self._update_actions()
        self.generation_finished.emit(job, outcome)

    def _update_actions(self) -> None:
        have_voice = self.voice is not None and self.voice.embedding is not None
        self.generate_panel.set_running(bool(self.job_mode), have_voice, bool(self.mels))
        self.play_button.setEnabled(self.player.available and self.voice is not None
                                    and self.voice.wav is not None)
        self.outputs.can_save_profile = have_voice
        self.outputs._update_buttons()

    # -- outputs --------------------------------------------------------------------------------------
    def _export(self, clip: Clip, path: Path) -> None:
        wav = clip.wav
        run_task(lambda: write_clip(path, wav), lambda p: self.status.info(f"Saved {p}"),
                 lambda msg: self.status.error(f"Export failed: {msg}"))

    def _save_profile(self, name: str) -> None:
        if self.voice is None or self.voice.embedding is None:
            return
        try:
            self.outputs.profiles.save(name, self.voice.embedding, self.voice.speaker, self.voice.name)
        except (OSError, ValueError) as e:
            self.status.error(f"Cannot save the voice: {e}")
            return
        self.outputs.refresh_profiles()
        self.outputs.select_profile(name)
        self.status.info(f"Saved the voice {name!r}")

    def _use_profile(self, name: str) -> None:
        try:
            u = self.outputs.profiles.load(name)
        except (OSError, ValueError, KeyError) as e:
            self.status.error(f"Cannot load the voice {name!r}: {e}")
            return
        self.utterances[u.uid] = u
        self._add_voice_item(u)
        self.set_voice(u)
        self.request_projection()
