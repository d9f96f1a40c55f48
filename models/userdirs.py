"""The per-user folders of the toolbox, all under one application name (platformdirs conventions).

Linux: ``~/.cache/sv2tts`` (models), ``~/.local/share/sv2tts`` (voice profiles),
``~/.local/state/sv2tts/log``; macOS: ``~/Library/Caches/sv2tts``, ``~/Library/Application
Support/sv2tts``, ``~/Library/Logs/sv2tts``; Windows: ``%LOCALAPPDATA%\\sv2tts\\...``. The XDG
variables (``XDG_CACHE_HOME`` ...) are honoured on Linux; ``SV2TTS_MODELS_DIR`` overrides the model
cache (models.store).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "sv2tts"
LEGACY_CACHE_NAME = "sv2tts-toolbox"  # the model cache's name before 0.1.0 settled on one name


def cache_dir() -> Path:
    """The user cache folder; a model cache left under the old name is moved here once."""
    import platformdirs

    path = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    legacy = Path(platformdirs.user_cache_dir(LEGACY_CACHE_NAME, appauthor=False))
    if not path.exists() and legacy.is_dir():
        try:
            os.replace(legacy, path)
            log.info("moved the model cache %s to %s", legacy, path)
        except OSError as e:
            log.warning("could not move the old model cache %s to %s (%s); models there will be "
                        "downloaded again", legacy, path, e)
    return path


def data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
