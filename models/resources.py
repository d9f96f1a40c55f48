"""Files shipped with the toolbox: the bundled models (``pretrained/``) and the data in ``assets/``.

In the repository they sit at the top (``pretrained/``, ``assets/``, beside ``models/`` and
``toolbox/``). The wheel puts them inside the packages that read them, as ``models/pretrained/``
and ``toolbox/assets/`` (setup.py maps the folders), where ``importlib.resources`` finds them. A
source checkout (editable install, or PYTHONPATH) has no such package folder and uses the top-level
one, so both layouts read the same files.
"""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the repository, when running from a checkout


def shipped_dir(package: str, name: str) -> Path:
    """The folder `name` shipped with `package` ("models" -> "pretrained", "toolbox" -> "assets").

    Installed from a wheel: ``<package>/<name>`` inside site-packages. From a source checkout:
    ``<repository>/<name>``. The returned folder may be missing (a broken install); callers name the
    file they looked for when they report it.
    """
    inside = importlib.resources.files(package) / name
    if isinstance(inside, Path) and inside.is_dir():
        return inside
    source = SOURCE_ROOT / name
    if not source.is_dir() and not isinstance(inside, Path):  # a zipped install: unsupported, say so
        log.warning("%s is not a folder on disk (zipped install?); bundled files cannot be read", inside)
    return source if source.is_dir() else Path(str(inside))
