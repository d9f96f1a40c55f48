"""Maps the repository's top-level data folders into the packages that read them (see models/resources.py):
pretrained/ -> models/pretrained/ (every file: the manifest names what is bundled) and assets/ ->
toolbox/assets/. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["models", "models.*", "toolbox", "toolbox.*"]),
              "models.pretrained", "toolbox.assets"],
    package_dir={"models.pretrained": "pretrained", "toolbox.assets": "assets"},
    package_data={"models.pretrained": ["*"],
                  "models.text": ["data/*.json.gz"],  # the letter-to-sound rules (python -m models.text.lts)
                  "toolbox.assets": ["README.md", "known_speakers.npz", "eval_sentences.txt", "sv2tts.desktop",
                                     "sv2tts.svg"]},
    include_package_data=False,  # not the README's screenshot
    data_files=[("share/applications", ["assets/sv2tts.desktop"]),
                ("share/icons/hicolor/scalable/apps", ["assets/sv2tts.svg"])],
)
