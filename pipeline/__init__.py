"""newsclean: a nightly Luigi pipeline from raw scraped news dumps to clean, unique articles.

The package is laid out as the data's path:

- ``read``      a night's files -> articles or rejections (decode, segment, files, readers)
- ``repair``    mojibake repair with ftfy, encoding fixes only
- ``clean``     widget markers, captions, repeated headline, rules, site lines, classifier
- ``dedup``     exact and MinHash-LSH near-duplicates, the keep policy, the history of nights
- ``report``    a finished night for people: report.html, the inspector
- ``stages``, ``outputs``   what the tasks do, as plain functions
- ``tasks``     the Luigi chain (Luigi only); ``operate``: exit codes, checks, commands
"""

__version__ = "0.1.0"
