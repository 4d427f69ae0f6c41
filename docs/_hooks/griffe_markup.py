"""A Griffe extension that lets mkdocstrings render StreamSynth's docstrings, which are written for Sphinx-style
readers, as Markdown. It changes nothing in the code: only the docstring text that Griffe hands to mkdocstrings.

- Sphinx roles (``:class:`~streamsynth.x.Y```, ``:func:`f```, ``:mod:`...```) become cross-references to the
  API pages (optional ones: a target that no page documents renders as plain code, not as a warning).
- Doctest blocks (``>>>`` lines and their output) become ``pycon`` code blocks; as prose, their ``[...]`` output
  would read as Markdown reference links.
- reST literal blocks (a paragraph ending in ``::`` followed by an indented block) become fenced code blocks.

Loaded by mkdocstrings-python (``extensions:`` in ``mkdocs.yml``); builds run from the repository root.
"""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc):`(~?)([^`]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _language(block: str) -> str:
    """``python`` if the block compiles as Python, ``toml`` if it parses as TOML, else ``text``."""
    try:
        compile(block, "<docstring>", "exec")
        return "python"
    except (SyntaxError, ValueError):
        pass
    try:
        import tomllib

        if tomllib.loads(block):
            return "toml"
    except Exception:  # noqa: BLE001 - any parse failure means "not TOML"
        pass
    return "text"


def literal_blocks(text: str) -> str:
    """reST ``paragraph::`` + indented block -> ``paragraph:`` + a fenced block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and not line.lstrip().startswith(">>>"):
            base = _indent(line)
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j > i + 1 and j < len(lines) and _indent(lines[j]) > base:
                k = j
                while k < len(lines) and (not lines[k].strip() or _indent(lines[k]) > base):
                    k += 1
                while k > j and not lines[k - 1].strip():
                    k -= 1
                body = textwrap.dedent("\n".join(lines[j:k]))
                stem = line.rstrip()[:-2].rstrip()
                pad = " " * base
                if stem.strip():
                    out.append(stem + ":")
                out += ["", f"{pad}```{_language(body)}", *[(pad + b) if b else "" for b in body.split("\n")],
                        f"{pad}```"]
                i = k
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def doctest_blocks(text: str) -> str:
    """``>>>`` lines, their ``...`` continuations and output (up to a blank line) -> a ``pycon`` fence."""
    lines = text.split("\n")
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and line.lstrip().startswith(">>>"):
            base = _indent(line)
            k = i
            while k < len(lines) and lines[k].strip() and _indent(lines[k]) >= base:
                k += 1
            pad = " " * base
            if out and out[-1].strip():
                out.append("")
            out += [f"{pad}```pycon", *lines[i:k], f"{pad}```"]
            if k < len(lines) and lines[k].strip():
                out.append("")
            i = k
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _target(obj: griffe.Object, target: str) -> str:
    """The full path of a role's target, resolved in ``obj``'s scope when it is not already one."""
    target = re.sub(r"\s+", "", target).removesuffix("()")
    if target.startswith("streamsynth."):
        return target
    head, _, rest = target.partition(".")
    try:
        full = obj.resolve(head)
    except Exception:  # noqa: BLE001 - unresolvable: keep the name as written
        return target
    return f"{full}.{rest}" if rest else full


def roles(obj: griffe.Object, text: str) -> str:
    """Sphinx roles -> optional autorefs cross-references (outside fenced blocks)."""

    def replace(match: re.Match) -> str:
        short, raw = match.group(1), re.sub(r"\s+", "", match.group(2)).removesuffix("()")
        identifier = _target(obj, raw)
        title = raw.rsplit(".", 1)[-1] if short else raw
        return (f'<autoref identifier="{html.escape(identifier)}" optional>'
                f"<code>{html.escape(title)}</code></autoref>")

    parts = re.split(r"(^\s*```.*?^\s*```)", text, flags=re.M | re.S)
    return "".join(p if i % 2 else ROLE.sub(replace, p) for i, p in enumerate(parts))


def convert(obj: griffe.Object, text: str) -> str:
    return roles(obj, doctest_blocks(literal_blocks(text)))


class SphinxMarkup(griffe.Extension):
    """Rewrite every docstring of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg, set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = convert(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)
