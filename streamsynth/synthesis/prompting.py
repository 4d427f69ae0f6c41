"""Prompts for LLM agents and the parsing of completions back into samples.

Shared by every LLM agent so that comparisons differ in strategy only, not in formatting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from streamsynth.generation.prompts import Message
from streamsynth.tasks.spec import LABEL_KEY, Sample

SYSTEM_PROMPT = "You write realistic, varied example texts for training text classifiers. Answer with the text only."

_PREAMBLE = re.compile(
    r"^\s*(sure|certainly|of course|here('s| is| are)|okay|ok)\b[^\n]*?(:|\n)", re.IGNORECASE
)
_QUOTES = "\"'“”‘’«»`"
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")


def task_brief(observation: Mapping[str, Any]) -> str:
    """The instruction and the label descriptions, as one block of text."""
    lines = [str(observation["instruction"]).strip(), "", "Labels:"]
    for lbl, desc in zip(observation["labels"], observation["label_descriptions"]):
        lines.append(f"- {lbl}: {desc}")
    return "\n".join(lines)


def format_fields(sample: Mapping[str, str], fields: Sequence[str]) -> str:
    """A sample's text as the model should write it: the text itself for one field, ``Field: value`` lines otherwise.

    >>> format_fields({"premise": "A man sleeps.", "hypothesis": "He rests."}, ["premise", "hypothesis"])
    'Premise: A man sleeps.\\nHypothesis: He rests.'
    """
    if len(fields) == 1:
        return sample[fields[0]]
    return "\n".join(f"{f.capitalize()}: {sample[f]}" for f in fields)


def output_format_hint(fields: Sequence[str]) -> str:
    if len(fields) == 1:
        return "Write only the text, nothing else."
    return "Use exactly this format, one line each:\n" + "\n".join(f"{f.capitalize()}: ..." for f in fields)


def label_prompt(
    observation: Mapping[str, Any],
    label: str,
    *,
    examples: Sequence[Mapping[str, str]] = (),
    attributes: Mapping[str, str] | None = None,
    system: str = SYSTEM_PROMPT,
) -> list[Message]:
    """A chat prompt asking for one new sample of ``label``, optionally with in-context examples and attribute
    values (e.g. ``{"length": "short", "style": "sarcastic"}``)."""
    fields = list(observation["fields"])
    desc = dict(zip(observation["labels"], observation["label_descriptions"]))[label]
    parts = [str(observation["instruction"]).strip()]
    if examples:
        parts.append("Examples:")
        for ex in examples:
            parts.append(f"[{ex[LABEL_KEY]}] {format_fields(ex, fields)}")
    request = f'Write one new example with the label "{label}" ({desc}).'
    if attributes:
        request += " It should have these properties: " + "; ".join(f"{k}: {v}" for k, v in attributes.items()) + "."
    parts.append(request)
    parts.append(output_format_hint(fields))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def clean_text(text: str) -> str:
    """Strip chatty preambles, surrounding quotes and everything after the first blank line.

    >>> clean_text('Sure! Here is a review:\\n"A tender, funny film."\\n\\nI hope this helps.')
    'A tender, funny film.'
    """
    text = text.strip()
    text = _PREAMBLE.sub("", text, count=1).strip()
    text = text.split("\n\n", 1)[0].strip()
    text = re.sub(r"^(text|review|example|sample|answer|output|tweet|question|snippet)\s*:\s*", "", text, flags=re.I)
    text = text.strip().strip(_QUOTES).strip()
    return re.sub(r"\s+", " ", text)


def fit_length(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars``, at the last sentence end when there is one.

    >>> fit_length("One. Two three. Four five six.", 20)
    'One. Two three.'
    """
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    return head[: ends[-1]].strip() if ends else head.rsplit(" ", 1)[0].strip()


def parse_completion(completion: str, fields: Sequence[str], label: str, max_chars: int) -> Sample | None:
    """Turn a completion into a sample of ``label``; ``None`` when a field cannot be found.

    >>> parse_completion("Premise: A dog runs.\\nHypothesis: An animal moves.", ["premise", "hypothesis"],
    ...                  "entailment", 100)
    {'premise': 'A dog runs.', 'hypothesis': 'An animal moves.', 'label': 'entailment'}
    >>> parse_completion("  ", ["text"], "positive", 100) is None
    True
    """
    if len(fields) == 1:
        text = fit_length(clean_text(completion), max_chars)
        return {fields[0]: text, LABEL_KEY: label} if text else None
    sample: Sample = {}
    for f in fields:
        m = re.search(rf"(?im)^\W*{re.escape(f)}\W*:\s*(.+)$", completion)
        if not m:
            return None
        value = fit_length(clean_text(m.group(1)), max_chars)
        if not value:
            return None
        sample[f] = value
    sample[LABEL_KEY] = label
    return sample
