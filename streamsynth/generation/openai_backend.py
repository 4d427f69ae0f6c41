"""``openai``: any OpenAI-compatible endpoint (an API model, ``vllm serve``, a ``llama.cpp`` server, Ollama).

Requests go through the official ``openai`` client (``pip install 'streamsynth[openai]'``): chat completions, or
plain completions (``chat=False``) for models without a chat template, whose messages are then joined into one
prompt. The client retries 408/409/429/5xx answers and connection errors with exponential backoff and honours
``Retry-After`` (``max_retries``); a request that still fails raises :class:`EndpointError` naming the endpoint,
the model and the status, so a run never continues with a silently missing completion.

``concurrency`` requests are in flight at once (a thread pool over the synchronous client). Completions are kept
in a persistent **cache** (``diskcache``, under ``<cache>/completions/`` by default) keyed by the endpoint's URL and
model, the prompt, the sampling settings and the request's seed, so an interrupted or repeated run does not pay
twice for the same completions (``cache=False`` turns it off); a call that fails keeps the completions of its
other requests in the cache. Token usage of the answers is summed in
``prompt_tokens`` / ``completion_tokens`` (:meth:`usage`). The API key
is read from the environment variable ``api_key_env`` (``OPENAI_API_KEY``) and is never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from streamsynth.config import check_int, check_number
from streamsynth.errors import StreamSynthError
from streamsynth.generation.base import GenerationBackend, GenerationStats, Prompt, SamplingParams


class EndpointError(StreamSynthError):
    """An OpenAI-compatible endpoint failed a request after its retries, or answered without text."""


def request_seed(seed: int | None, index: int) -> int | None:
    """The seed of the ``index``-th prompt of a call seeded with ``seed`` (None stays None): repeated prompts in one
    call get different completions, and a call is reproducible where the server honours seeds.

    >>> request_seed(7, 0), request_seed(7, 1), request_seed(None, 3)
    (7, 8, None)
    """
    return None if seed is None else (int(seed) + index) % 2**31


def as_messages(prompt: Prompt) -> list[dict[str, str]]:
    """A prompt as chat messages (a plain string becomes one user message)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]


def as_text(prompt: Prompt) -> str:
    """A prompt as one plain-completion text: the messages' contents, separated by blank lines.

    >>> as_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}])
    'Be brief.\\n\\nSay hi.\\n\\n'
    """
    return "".join(m["content"] + "\n\n" for m in as_messages(prompt))


def cache_key(base_url: str, model: str, chat: bool, prompt: Prompt, params: SamplingParams, seed: int | None) -> str:
    """SHA-256 of everything a completion depends on (never the API key)."""
    doc = {"url": base_url.rstrip("/"), "model": model, "chat": chat, "prompt": as_messages(prompt),
           "max_tokens": params.max_new_tokens, "temperature": params.temperature, "top_p": params.top_p,
           "stop": list(params.stop), "seed": seed}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


class OpenAIBackend(GenerationBackend):
    """Completions from an OpenAI-compatible endpoint. See the module docstring.

    Args:
        model: the endpoint's model name (``--model``).
        base_url: the endpoint, e.g. ``http://127.0.0.1:8000/v1`` (``--base-url``); default: the OpenAI API.
        api_key_env: environment variable holding the key (servers without keys accept any value; unset: "EMPTY").
        concurrency: requests in flight at once.
        timeout: seconds per request.
        max_retries: retries of a failed request (the client's exponential backoff, ``Retry-After`` honoured).
        chat: chat completions (default) or plain completions.
        cache: a folder for the completion cache, True for ``<cache>/completions``, False for none.
    """

    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 120.0, max_retries: int = 5, chat: bool = True,
                 cache: bool | str | os.PathLike[str] = True, **unused: Any) -> None:
        try:
            import openai
        except ImportError:
            raise StreamSynthError("the openai backend needs the openai client: pip install 'streamsynth[openai]'"
                                   ) from None
        self.model_name = str(model)
        self.base_url = str(base_url or "https://api.openai.com/v1")
        self.concurrency = check_int("concurrency", concurrency, 1)
        self.chat = bool(chat)
        self.requests = 0
        """Requests answered by the endpoint (completions from the cache are not requests)."""
        self.cached = 0
        """Completions served from the cache."""
        key = os.environ.get(api_key_env) or "EMPTY"
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key,
                                     timeout=check_number("timeout", timeout, low_open=True),
                                     max_retries=check_int("max_retries", max_retries, 0))
        self._openai = openai
        self._lock = threading.Lock()
        self._cache = self._open_cache(cache)

    @staticmethod
    def _open_cache(cache: bool | str | os.PathLike[str]) -> Any:
        if cache is False:
            return None
        import diskcache

        if cache is True:
            from streamsynth.paths import cache_dir

            cache = cache_dir() / "completions"
        return diskcache.Cache(str(Path(cache)))

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams = SamplingParams(), *,
                 seed: int | None = None, progress: bool = False) -> list[str]:
        if isinstance(prompts, (str, dict)):
            raise TypeError("generate() takes a list of prompts; wrap a single prompt in a list")
        started = time.perf_counter()
        prompts = list(prompts)
        seeds = [request_seed(seed, i) for i in range(len(prompts))]
        keys = [cache_key(self.base_url, self.model_name, self.chat, p, params, s) for p, s in zip(prompts, seeds)]
        out: list[str | None] = [None] * len(prompts)
        if self._cache is not None:
            for i, k in enumerate(keys):
                out[i] = self._cache.get(k)
        todo = [i for i, text in enumerate(out) if text is None]
        self.cached += len(prompts) - len(todo)
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(len(todo), 1))) as pool:
            futures = {pool.submit(self._request, prompts[i], params, seeds[i]): i for i in todo}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    out[i] = future.result()
                except BaseException as exc:  # keep what the other requests bring, then fail
                    failure = failure or exc
                    continue
                if self._cache is not None:  # each completion as it arrives: a failed call keeps the others
                    self._cache.set(keys[i], out[i])
        if failure is not None:
            raise failure
        self.completions += len(prompts)
        self.last_stats = GenerationStats(len(prompts), 0, time.perf_counter() - started)
        return [str(text) for text in out]

    def _request(self, prompt: Prompt, params: SamplingParams, seed: int | None) -> str:
        """One completion (the client retries); an error names the endpoint, the model and the status."""
        openai = self._openai
        sampling: dict[str, Any] = {"model": self.model_name, "max_tokens": params.max_new_tokens,
                                    "temperature": params.temperature, "top_p": params.top_p}
        if seed is not None:
            sampling["seed"] = seed
        if params.stop:
            sampling["stop"] = list(params.stop)
        where = f"endpoint {self.base_url} (model {self.model_name!r})"
        try:
            if self.chat:
                answer = self._client.chat.completions.create(messages=as_messages(prompt), **sampling)
                text = answer.choices[0].message.content if answer.choices else None
            else:
                answer = self._client.completions.create(prompt=as_text(prompt), **sampling)
                text = answer.choices[0].text if answer.choices else None
        except openai.APIStatusError as exc:
            raise EndpointError(f"{where} answered HTTP {exc.status_code} after the client's retries: "
                                f"{str(exc)[:300]}; check the URL, the model name and the key") from exc
        except openai.APIConnectionError as exc:
            raise EndpointError(f"{where} cannot be reached ({exc}); is the server running?") from exc
        if text is None:
            raise EndpointError(f"{where} answered without text (a refusal or a tool call?); this backend needs "
                                "plain text completions")
        usage = getattr(answer, "usage", None)
        with self._lock:  # requests finish on the pool's threads
            self.requests += 1
            if usage is not None:  # tokens as the endpoint counts them (cached completions cost none)
                self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
                self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        return text

    @property
    def has_chat_template(self) -> bool:
        return self.chat

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
