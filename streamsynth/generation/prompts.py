"""How prompts become model input: chat messages checked, rendered with the tokenizer's chat template (or as plain
text for models without one) and encoded. Every backend (transformers, vLLM) feeds a model these ids, so a learner
trains on exactly the ids it sampled from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""
Prompt = Union[str, Sequence[Message]]
"""A prompt: chat messages, or a plain string."""


#: Roles a chat message may have.
ROLES = ("system", "user", "assistant")


def check_messages(messages: Sequence[Message]) -> list[Message]:
    """Validate a chat prompt: a non-empty list of ``{"role": system|user|assistant, "content": str}``."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise TypeError(f"a chat prompt must be a non-empty list of messages, got {type(messages).__name__}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise TypeError(f"message {i} must be a dict with keys 'role' and 'content', got {message!r}")
        if message["role"] not in ROLES:
            raise ValueError(f"message {i} has role {message['role']!r}; roles are {', '.join(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise TypeError(f"message {i} content must be a str, got {type(message.get('content')).__name__}")
    return list(messages)


def render_plain(messages: Sequence[Message]) -> str:
    """Plain-text rendering of a chat, for models without a chat template (base models).

    Each message becomes ``Role: content``, separated by blank lines, and the text ends with an open
    ``Assistant:`` turn. A final assistant message is left open instead, so the model continues it.

    >>> render_plain([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}])
    'System: Be brief.\\n\\nUser: Hi!\\n\\nAssistant:'
    >>> render_plain([{"role": "user", "content": "Name a fruit."}, {"role": "assistant", "content": "A"}])
    'User: Name a fruit.\\n\\nAssistant: A'
    """
    turns = [f"{m['role'].capitalize()}: {m['content']}" for m in check_messages(messages)]
    if messages[-1]["role"] != "assistant":
        turns.append("Assistant:")
    return "\n\n".join(turns)


def render_prompt(tokenizer: Any, prompt: Prompt) -> tuple[str, bool]:
    """``(text, add_special_tokens)`` for one prompt: plain strings as they are; chat messages through the
    tokenizer's chat template (which writes its own special tokens, so none are added), or :func:`render_plain`
    when it has none. A last assistant message is continued, not closed (a prefilled answer)."""
    if isinstance(prompt, str):
        return prompt, True
    messages = check_messages(prompt)
    if not getattr(tokenizer, "chat_template", None):
        return render_plain(messages), True
    open_turn = messages[-1]["role"] == "assistant"
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=not open_turn, continue_final_message=open_turn
    )
    return text, False


def encode_prompts(tokenizer: Any, prompts: Sequence[Prompt]) -> list[list[int]]:
    """Token ids of each prompt rendered by :func:`render_prompt` (every backend feeds a model these ids, so a
    chat template's BOS is never doubled)."""
    ids = []
    for prompt in prompts:
        text, special = render_prompt(tokenizer, prompt)
        ids.append(list(tokenizer(text, add_special_tokens=special)["input_ids"]))
    return ids
