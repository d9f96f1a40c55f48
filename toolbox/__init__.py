"""sv2tts-toolbox: the desktop app (Qt) and the `sv2tts` command line."""
