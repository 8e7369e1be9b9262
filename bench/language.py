"""The language identifier: accuracy where the answer is known, and articles/s.

    python -m bench.language          # BBC and the mojibake cases (../shared/corpora)

Compares the pipeline's identifier (py3langid's model walked by a compiled loop) with
py3langid's own ``classify`` and, when installed, lingua (``pip install lingua-language-detector``;
not a dependency: its wheel is 96 MB). Accuracy: every BBC article is English; the
mojibake cases are repaired as the pipeline repairs them and compared with the language
a person reads in them (the table below, also used by the tests). Speed: BBC articles/s,
each text cut to what the pipeline reads (``SAMPLE_CHARS``). Results go to
bench/results/language.json.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from typing import Callable

import orjson

from bench.common import CORPORA, machine, save
from pipeline.io.parallel import MAX_CHUNK
from pipeline.language import SAMPLE_CHARS, Identifier
from pipeline.repair import repair

# The mojibake cases whose language a person can tell (a sentence, or a script of one
# language), by their label; each is repaired as the pipeline repairs it, then identified.
PERSON_CAN_TELL = {
    "in-the-wild": {
        "UTF-8 / MacRoman mix-up about smurfs": "fr", "UTF-8 / Windows-1251 Russian mixup about futbol": "ru",
        "Latin-1 / Windows-1252 mixup in German": "de",
        "Latin-1 / Windows-1252 mixup of the replacement character": "en",
        "Latin-1 / Windows-1252 mixup in Turkish": "tr", "Latin-1 / Windows-1252 mixup in German (issue #188)": "de",
        "Left quote is UTF-8, right quote is Latin-1, both encoded in Windows-1252": "it",
        "UTF-8 / Windows-1252 mixed up three times": "en", "UTF-8 / Codepage 437 mixup in Russian": "ru",
        "UTF-8 / Windows-1252 mixup in French": "fr", "UTF-8 / Windows-1250 mixup in French": "fr",
        "UTF-8 / Windows-1252 mixup in Vietnamese": "vi", "lossy UTF-8 / Windows-1250 mixup in Spanish": "es",
        "UTF-8 / sloppy Windows-1250 mixup in English": "en", "UTF-8 / ISO-8859-2 mixup in Czech": "cs",
        "UTF-8 / Windows-1252 mixup in mixed French and Arabic": "fr",
        "UTF-8 / sloppy Windows-1250 mixup in Romanian": "ro", "UTF-8 / Windows-1250 mixup in Slovak": "sk",
        "UTF-8 / Windows-1252 mixup in Spanish": "es",
        "UTF-8 / Windows-1252 followed by UTF-8 / Windows-1251": "en",
        "Inconsistent UTF-8 / Latin-1 mojibake": "en", "Inconsistent mojibake in Portuguese": "pt",
        "Handle Afrikaans 'n character": "af", "Handle Croatian single-codepoint digraphs": "hr",
        "French example containing non-breaking spaces": "fr",
        "English example in UTF-8 / Windows-1251 with a ligature": "en",
        "'à' remains its own word, even if spaces after it get coalesced into one": "fr",
        "Fix 'à' in inconsistent mojibake": "fr",
        "The Portuguese word 'às' does not become 'à s' due to the French fix": "pt",
        "This is why we require a space after the 's' in 'às'": "fr",
        "We can fix 'à' in windows-1251 sometimes as well": "fr",
        "'Ã quele' is the Portuguese word 'àquele', not 'à quele'": "pt",
        "A complex, lossy pile-up of mojibake in Portuguese": "pt",
        "UTF-8 / Windows-1252 mixup in Gaelic involving non-breaking spaces": "gd",
        "Three layers of UTF-8 / MacRoman mixup in French": "fr", "UTF-8 / MacRoman mixup in French": "fr",
        "Latvian UTF-8 / Windows-1257 mojibake": "lv", "Latvian UTF-8 / MacRoman mojibake": "lv",
        "Lithuanian UTF-8 / Windows-1257 mojibake": "lt", "Lithuanian UTF-8 / Windows-1250 mojibake": "lt",
        "Hebrew UTF-8 / Windows-1252 mojibake": "he",
    },
    "synthetic": {
        "Synthetic: Hebrew UTF-8 / Windows-1250 mojibake": "he", "Synthetic: Hebrew UTF-8 / MacRoman mojibake": "he",
        "Synthetic: Arabic UTF-8 / Windows-1252 mojibake": "ar", "Synthetic: Arabic UTF-8 / Windows-1250 mojibake": "ar",
        "Synthetic: Arabic UTF-8 / MacRoman mojibake": "ar",
        "Synthetic, negative: Be careful around curly apostrophes": "en",
    },
    "language-names": {
        "Messy language names: Greek": "el", "Messy language names: Hebrew": "he",
        "Messy language names: Tamil": "ta", "Messy language names: Thai": "th",
        "Messy language names: Korean": "ko", "Messy language names: Vietnamese": "vi",
    },
}
# Where the model and a person disagree: Spanish with its accented capital lost to
# U+FFFD reads as Aragonese.
KNOWN_MISSES = {"lossy UTF-8 / Windows-1250 mixup in Spanish": "an"}


def mojibake_cases() -> list[tuple[str, str, str]]:
    """(label, repaired text, the language a person reads) of every case in the table."""
    cases = []
    for name, labels in PERSON_CAN_TELL.items():
        by_label = {c["label"]: c for c in json.loads((CORPORA / "mojibake" / f"{name}.json").read_text(encoding="utf-8"))}
        cases += [(label, repair(by_label[label]["original"]).text, lang) for label, lang in labels.items()]
    return cases


def bbc_texts() -> list[str]:
    with gzip.open(CORPORA / "bbc" / "articles.jsonl.gz") as handle:
        return [orjson.loads(line)["text"] for line in handle]


def identifiers() -> dict[str, Callable[[str], str]]:
    """Name -> a function from text to an ISO 639-1 code."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ours = Identifier.shared()
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    found = {
        "pipeline": lambda text: ours.classify(text)[0],
        "py3langid": lambda text: reference.classify(text[:SAMPLE_CHARS])[0],
    }
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        return found
    detector = LanguageDetectorBuilder.from_all_languages().build()

    def lingua(text: str) -> str:
        language = detector.detect_language_of(text[:SAMPLE_CHARS])
        return language.iso_code_639_1.name.lower() if language else "zxx"

    found["lingua"] = lingua
    return found


def main() -> int:
    if not (CORPORA / "bbc").is_dir():
        print(f"needs {CORPORA} (the shared corpora)", file=sys.stderr)
        return 2
    cases, texts = mojibake_cases(), bbc_texts()
    results: dict = {"mojibake_cases": len(cases), "bbc_articles": len(texts), "identifiers": {}}
    for name, identify in identifiers().items():
        identify(texts[0])  # loads the model
        right = [identify(text) == lang for _, text, lang in cases]
        slice_ = texts if name != "lingua" else texts[:300]  # lingua: 0.01 s an article
        started = time.perf_counter()
        found = [identify(text) for text in slice_]
        seconds = time.perf_counter() - started
        results["identifiers"][name] = {
            "mojibake_right": sum(right),
            "mojibake_missed": {label: identify(text) for (label, text, lang), ok in zip(cases, right) if not ok},
            "bbc_english": sum(lang == "en" for lang in found),
            "bbc_measured": len(slice_),
            "articles_per_s": round(len(slice_) / seconds, 1),
        }
    # As the clean step reads them: a chunk's texts together (Identifier.classify_many).
    ours = Identifier.shared()
    started = time.perf_counter()
    found = [label for at in range(0, len(texts), MAX_CHUNK) for label, _ in ours.classify_many(texts[at:at + MAX_CHUNK])]
    seconds = time.perf_counter() - started
    answers = ours.classify_many([text for _, text, _ in cases])
    results["identifiers"]["pipeline, a chunk at once"] = {
        "mojibake_right": sum(label == lang for (label, _), (_, _, lang) in zip(answers, cases)),
        "bbc_english": sum(lang == "en" for lang in found), "bbc_measured": len(texts),
        "articles_per_s": round(len(texts) / seconds, 1),
    }
    path = save("language", results)
    print(f"machine: {machine()}")
    for name, figures in results["identifiers"].items():
        print(f"{name:26} mojibake {figures['mojibake_right']}/{len(cases)}, BBC English "
              f"{figures['bbc_english']}/{figures['bbc_measured']}, {figures['articles_per_s']:,} articles/s")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
