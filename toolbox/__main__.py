"""`python -m toolbox` launches the desktop toolbox."""

from toolbox.cli import main

raise SystemExit(main(["toolbox", *__import__("sys").argv[1:]]))
