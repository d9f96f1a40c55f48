"""One module per `sv2tts` subcommand. Each exposes `register(subparsers)`, which adds its parser and
sets `func` (args -> exit code)."""
