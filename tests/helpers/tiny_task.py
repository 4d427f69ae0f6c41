"""A tiny hand-made 2-label task (sport vs food) with disjoint vocabularies, for fast TaskScorer tests."""

from __future__ import annotations

from streamsynth.rewards.embeddings import HashingEmbedder
from streamsynth.rewards.scorer import TaskScorer
from streamsynth.tasks.spec import InMemorySource, Task

SPORT = [
    "the striker scored a late goal in the football match",
    "our team won the match with a goal from the striker",
    "the goalkeeper saved a penalty in the football final",
    "the referee stopped the match after a foul on the striker",
    "the team trained for the football league final",
    "a late penalty goal won the league for the team",
    "the coach praised the goalkeeper after the football match",
    "the striker missed a penalty in the league match",
    "fans cheered as the team scored another goal",
    "the football league final ended with a late goal",
    "the referee gave the striker a yellow card in the match",
    "the team celebrated the league title after the final",
]
FOOD = [
    "simmer the tomato sauce with garlic and basil",
    "bake the bread dough until the crust is golden",
    "chop the garlic and fry it in olive oil",
    "season the tomato soup with salt and pepper",
    "knead the bread dough and let it rise",
    "toss the pasta with olive oil garlic and basil",
    "roast the pepper with salt and olive oil",
    "stir the pasta sauce with fresh basil leaves",
    "the soup needs more salt pepper and garlic",
    "slice the golden bread and serve it with soup",
    "fry the onion in olive oil before the sauce",
    "boil the pasta in salted water then add the sauce",
]


def rows(texts: list[str], label: str) -> list[dict[str, str]]:
    return [{"text": t, "label": label} for t in texts]


JUDGE = rows(SPORT[:6], "sport") + rows(FOOD[:6], "food")
DEV = rows(SPORT[6:9], "sport") + rows(FOOD[6:9], "food")
TEST = rows(SPORT[9:], "sport") + rows(FOOD[9:], "food")


def tiny_task() -> Task:
    return Task(
        name="sport-or-food",
        instruction="Write one sentence about sport or about cooking.",
        labels={"sport": "about a sport", "food": "about cooking food"},
        source=InMemorySource(tuple(JUDGE + DEV + TEST), name="24 hand-written sentences"),
        min_chars=5,
        max_chars=200,
    )


def tiny_scorer(dim: int = 256, seed: int = 0) -> TaskScorer:
    return TaskScorer(tiny_task(), JUDGE, DEV, HashingEmbedder(dim), seed=seed)


def templated_task(min_chars: int = 10) -> Task:
    """Sport or cooking again, 180 templated sentences per label (subject x verb x object, 20 to 44 characters):
    enough for the env's splits, and easy for the hashing judge to tell apart."""
    import itertools

    sport = (("the striker", "our team", "the goalkeeper", "the coach", "the referee", "the fans"),
             ("scored", "won", "missed", "saved", "praised", "lost"),
             ("a late goal", "the league final", "a penalty", "the match", "the cup"))
    food = (("the cook", "my mother", "the chef", "the baker", "our host", "the waiter"),
            ("baked", "stirred", "salted", "served", "chopped", "roasted"),
            ("the bread", "the soup", "the garlic", "the pasta", "the pepper"))
    data = [{"text": " ".join(p) + ".", "label": lbl} for lbl, parts in (("sport", sport), ("food", food))
            for p in itertools.product(*parts)]
    return Task(
        name="sport-or-food-templated",
        instruction="Write one sentence about sport or about cooking.",
        labels={"sport": "about a sport", "food": "about cooking food"},
        source=InMemorySource(tuple(data), name="360 templated sentences"),
        attributes={"tone": ("calm", "excited")},
        min_chars=min_chars,
        max_chars=120,
    )
