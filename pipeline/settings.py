"""The ``[pipeline]`` settings, read from ``config/luigi.cfg``.

Luigi reads ``luigi.cfg`` from the working folder and ``LUIGI_CONFIG_PATH``; this
module adds the project's ``config/luigi.cfg`` (from the working folder, else
beside the package) between the two, so ``LUIGI_CONFIG_PATH`` still overrides it.
Every setting is also a command-line flag: ``raw_dir`` is ``--pipeline-raw-dir``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import luigi
from luigi.configuration import LuigiConfigParser

from pipeline.dedup import KEEP_POLICIES, DedupConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_NAME = Path("config") / "luigi.cfg"


def project_config_path() -> Path | None:
    """The project's luigi.cfg: the working folder's, else the one beside the package."""
    for candidate in (Path.cwd() / CONFIG_NAME, PROJECT_ROOT / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def register_project_config() -> None:
    """Put the project's luigi.cfg in Luigi's config path, below LUIGI_CONFIG_PATH."""
    path = project_config_path()
    if path is None:
        return
    paths = LuigiConfigParser._config_paths
    if str(path) in paths:
        return
    env_path = os.environ.get("LUIGI_CONFIG_PATH")
    position = paths.index(env_path) if env_path in paths else len(paths)
    paths.insert(position, str(path))
    LuigiConfigParser.reload()


register_project_config()


class pipeline(luigi.Config):  # noqa: N801  (the class name is the config section's)
    """Settings of the whole pipeline; each documented in config/luigi.cfg."""

    raw_dir = luigi.Parameter(default="samples", description="folder of night folders YYYY-MM-DD")
    out_dir = luigi.Parameter(default="out", description="where each night's outputs go")
    state_dir = luigi.Parameter(default="state", description="state kept across nights")
    processes = luigi.IntParameter(default=1, description="processes per task for CPU-bound stages")
    shard_bytes = luigi.IntParameter(default=8_000_000, description="bytes of raw files per shard task")
    shard_files = luigi.IntParameter(default=500, description="files per shard task")
    rules = luigi.Parameter(default="config/boilerplate.toml", description="boilerplate rules file")
    min_words = luigi.IntParameter(default=20, description="articles shorter after cleaning are rejected")
    threshold = luigi.FloatParameter(default=0.8, description="Jaccard similarity of near-duplicates")
    num_perm = luigi.IntParameter(default=128, description="MinHash permutations")
    shingle_size = luigi.IntParameter(default=5, description="words per shingle")
    minhash_seed = luigi.IntParameter(default=1, description="seed of the MinHash permutations")
    lsh_bands = luigi.IntParameter(default=0, description="LSH bands (0: chosen for the threshold)")
    lsh_rows = luigi.IntParameter(default=0, description="LSH rows per band (0: chosen)")
    lsh_recall = luigi.FloatParameter(default=0.99, description="chance a pair at the threshold is proposed")
    keep = luigi.ChoiceParameter(choices=KEEP_POLICIES, default="first", description="keep policy")
    history_days = luigi.IntParameter(default=0, description="earlier nights compared (0: all)")
    index_url = luigi.Parameter(default="", description="redis://host:port/db for a shared index")


@dataclass(frozen=True)
class NightPaths:
    """Where one night's files are."""

    date: str
    raw: Path
    out: Path

    @property
    def stages(self) -> Path:
        return self.out / "stages"

    def stage_file(self, stage: str, file: str, part: str) -> Path:
        """A per-file stage output: ``stages/<stage>/<file>.<part>``."""
        return self.stages / stage / f"{file}.{part}"


def night_paths(date: dt.date) -> NightPaths:
    cfg = pipeline()
    day = date.isoformat()
    return NightPaths(date=day, raw=Path(cfg.raw_dir) / day, out=Path(cfg.out_dir) / day)


def history_since(date: dt.date) -> str | None:
    """The first night tonight is compared with (None: every earlier night)."""
    days = pipeline().history_days
    return (date - dt.timedelta(days=days)).isoformat() if days > 0 else None


def rules_path() -> Path:
    """The boilerplate rules file: as given, else relative to the project root."""
    path = Path(pipeline().rules)
    if not path.is_absolute() and not path.exists():
        path = PROJECT_ROOT / path
    return path


def dedup_config() -> DedupConfig:
    cfg = pipeline()
    return DedupConfig(
        threshold=cfg.threshold,
        num_perm=cfg.num_perm,
        shingle_size=cfg.shingle_size,
        seed=cfg.minhash_seed,
        keep=cfg.keep,
        bands=cfg.lsh_bands,
        rows=cfg.lsh_rows,
        lsh_recall=cfg.lsh_recall,
    )
