"""sv2tts-toolbox: the desktop app (Qt) and the `sv2tts` command line."""

__version__ = "0.1.0"  # the one version number: pyproject.toml reads it, `sv2tts --version` prints it
