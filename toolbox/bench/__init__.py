"""Benchmarks run by `sv2tts bench TARGET`. Each module toolbox.bench.<target> exposes
`add_arguments(parser)` and `run(args) -> dict` (the JSON report)."""

TARGETS = ["cli", "encoder", "synthesizer", "vocoder", "gui"]
