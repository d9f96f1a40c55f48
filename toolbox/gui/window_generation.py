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


def join_mels(mels: list[np.ndarray], gap_frames: int = 12) -> np.ndarray:
    """(80, T_i) mels -> one (80, sum T_i + gaps) mel with silent gaps, as drawn."""
    if not mels:
        return np.zeros((80, 0), np.float32)
    gap = np.full((mels[0].shape[0], gap_frames), -4.0, np.float32)
    parts = []
    for m in mels:
        parts += [m, gap]
    return np.concatenate(parts[:-1], axis=1)


class GenerationMixin:
    """Needs the MainWindow attributes: models, player, playback, generate_panel, spectrograms, outputs,
    status, voice, mels, job, job_mode, clip, add_utterance, generation_finished."""

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
        mels = list(self.mels)
        if mode == "vocode":
            selected = self.outputs.current_clip()
            if selected is not None and selected.mels:
                mels = list(selected.mels)
            if not mels:
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
            self.clip = Clip(name=f"clip {self._clip_count}", speaker=speaker, text=text,
                             voice=voice.name if voice is not None else "")
            if mode == "vocode":
                self.clip.mels = mels
            self.outputs.add_clip(self.clip)  # selects it: the generated panel follows
            if self.player.available:
                self._gate = StartGate()  # fed by the worker's progress: start without later gaps
                if self.player.start_stream(self._gate):
                    self.playback.playing_shown()  # the new clip is selected, so shown
        self.job_mode = mode
        self._job_mels = [] if mode != "vocode" else mels
        gp.show_progress(0.0, 0.0)
        self.job = self.models.generate(mode=mode, text=text,
                                        embedding=voice.embedding if voice is not None else None,
                                        mels=mels, seed=gp.seed, vocoder=gp.model("vocoder"),
                                        speed=gp.speed, pitch_shift=gp.pitch_shift, voice_match=gp.voice_match)
        self._update_actions()
        return self.job

    def stop_generation(self) -> None:
        """Stop at once: the worker is told to cancel (it stops at its next check, within one model
        step), and the window ends the job now without waiting for it."""
        self.player.stop()
        if not self.job_mode:
            return
        self.models.cancel(self.job)
        self.status.info("Stopping…")
        self._end_job(self.job, "cancelled")

    def _on_mel(self, job: int, index: int, mel: np.ndarray) -> None:
        if job != self.job or not self.job_mode:
            return
        self._job_mels.append(mel)
        self.mels = list(self._job_mels)
        if self.clip is not None:
            self.clip.mels = self.mels
            self._show_generated(self.clip)
        else:
            self.spectrograms.generated.show_mel(join_mels(self.mels),
                                                 f"{len(self.mels)} sentence(s), not vocoded")
            self.spectrograms.generated.show_embedding(None)

    def _on_sentence(self, job: int, index: int, total: int) -> None:
        if job == self.job and self.job_mode:
            self.generate_panel.show_sentence(index, total)

    def _on_audio(self, job: int, chunk: np.ndarray) -> None:
        if job != self.job or self.clip is None or not self.job_mode:
            return
        self.clip.chunks.append(chunk)
        self.player.feed(chunk)

    def _on_progress(self, job: int, fraction: float, rtf: float) -> None:
        if job == self.job and self.job_mode:
            self.generate_panel.show_progress(fraction, rtf)
            if self._gate is not None:
                self._gate.progress(fraction)

    def _on_finished(self, job: int, outcome: str) -> None:
        if job == self.job and self.job_mode:
            self._end_job(job, outcome)

    def _end_job(self, job: int, outcome: str) -> None:
        self.job_mode = ""
        self.player.end_stream()
        clip, self.clip = self.clip, None
        if clip is not None:
            clip.complete = True
            if outcome != "done" and not clip.chunks:
                self.outputs.remove_clip(clip)  # nothing to keep
                clip = None
            elif outcome != "done":
                clip.name += " (stopped)" if outcome == "cancelled" else f" ({outcome})"
            elif clip.chunks and self.generate_panel.enhance_check.isChecked():
                clip.chunks = [enhance(clip.wav)]  # webrtcvad on a few seconds of audio: milliseconds
        if clip is not None:
            self.outputs.refresh_clip(clip)
            self.playback.refresh()
            if outcome == "done" and clip.chunks:
                u = self.add_utterance(clip.wav, f"{clip.speaker} generated {clip.name}", clip.speaker,
                                       kind="generated")
                clip.utterance = u.uid
        self.generate_panel.show_outcome(outcome)
        self._update_actions()
        self.generation_finished.emit(job, outcome)

    def _show_generated(self, clip: Clip | None) -> None:
        """The generated panel shows `clip` (the selected one): its mels and, once known, its embedding."""
        view = self.spectrograms.generated
        self.playback.show_clip(clip)
        if clip is None:
            view.show_mel(None, "select a clip")
            view.show_embedding(None)
            return
        u = self.utterances.get(clip.utterance) if clip.utterance else None
        view.show_mel(join_mels(clip.mels) if clip.mels else None, f"{clip.name} · {clip.voice or clip.speaker}")
        view.show_embedding(u.embedding if u is not None else None)

    def _update_actions(self) -> None:
        have_voice = self.voice is not None and self.voice.embedding is not None
        self.generate_panel.set_running(bool(self.job_mode), have_voice, bool(self.mels))
        self.play_button.setEnabled(self.player.available and self.voice is not None
                                    and self.voice.wav is not None)
        self.outputs.can_save_profile = have_voice
        self.outputs._update_buttons()

    # -- outputs --------------------------------------------------------------------------------------
    def _replay(self, clip: Clip) -> None:
        self.playback.show_clip(clip)
        if self.player.play(clip.wav):
            self.playback.playing_shown()

    def _export(self, clip: Clip, path: Path, subtype: str = "PCM_16") -> None:
        wav = clip.wav
        run_task(lambda: write_clip(path, wav, subtype), lambda p: self.status.info(f"Saved {p}"),
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
