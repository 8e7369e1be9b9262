"""Where the default settings and rules that ship with the package are.

``config/luigi.cfg`` (the ``[pipeline]`` settings, exit codes, logging) and
``config/boilerplate.toml`` (the cleaning rules) are package data: in an installed
wheel they sit in the package (``pipeline/config/``); in a source checkout or an
editable install they are the project's own ``config/``. Either way they are found
without the working folder, so a night behaves the same whatever the install and
wherever it is started. Only the standard library is imported here.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The folder whose config/ holds the shipped files: the package in a wheel, the project
# root in a checkout.
ROOT = PACKAGE_DIR if (PACKAGE_DIR / "config" / "luigi.cfg").is_file() else PACKAGE_DIR.parent
CONFIG = ROOT / "config" / "luigi.cfg"
RULES = ROOT / "config" / "boilerplate.toml"


def resolve(path: Path | str) -> Path:
    """A setting's file path: absolute as given; relative, from the working folder when
    the file is there, else from the shipped files' root (``config/boilerplate.toml``
    is the shipped rules file wherever the night runs).

    >>> resolve("config/boilerplate.toml") == RULES or Path("config/boilerplate.toml").exists()
    True
    """
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    shipped = ROOT / path
    return shipped if shipped.exists() else path
