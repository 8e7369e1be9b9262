"""newsclean: a nightly Luigi pipeline from raw scraped news dumps to clean, unique articles.

The package is laid out as the data's path:

- ``decoding``    bytes -> text, per line (UTF-8, BOMs, UTF-16, Windows-1252 fallback)
- ``readers``     a night's files -> raw articles or rejections (``.txt``, ``.jsonl``, ``.gz``)
- ``segment``     a seed-layout dump -> its articles
- ``encoding``    mojibake repair with ftfy, encoding fixes only
- ``boilerplate`` widget markers, captions, repeated headline and other removable lines
- ``dedup``       exact and MinHash-LSH near-duplicate detection with a keep policy
- ``tasks``       the Luigi chain (orchestration only)
"""

__version__ = "0.1.0"
