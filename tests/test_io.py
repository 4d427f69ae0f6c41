"""Tests of atomic file writing and the JSON / JSONL helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamsynth.io import atomic_open, read_jsonl, write_json, write_jsonl, write_text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- atomic_open ----------------------------------------------------------------------------------------------------


def test_atomic_open_writes_and_replaces(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with atomic_open(path) as fh:
        fh.write("new content é")
        assert path.read_text(encoding="utf-8") == "old"  # not visible until the block ends
    assert path.read_text(encoding="utf-8") == "new content é"
    assert leftovers(tmp_path) == []


def test_atomic_open_on_exception_keeps_old_content_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(path) as fh:
            fh.write("half-written")
            raise RuntimeError("boom")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_open_on_exception_creates_nothing_when_the_file_did_not_exist(tmp_path):
    path = tmp_path / "fresh.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(path) as fh:
            fh.write("x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_open_temp_file_lives_next_to_the_target(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_open(path) as fh:
        during = leftovers(tmp_path)
        fh.write("x")
    assert len(during) == 1 and during[0].startswith(".out.txt.")
    assert leftovers(tmp_path) == []


def test_atomic_open_creates_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "c.txt"
    with atomic_open(path) as fh:
        fh.write("deep")
    assert path.read_text(encoding="utf-8") == "deep"


def test_atomic_open_binary_mode(tmp_path):
    path = tmp_path / "blob.bin"
    with atomic_open(str(path), "wb") as fh:
        fh.write(b"\x00\xff\x10")
    assert path.read_bytes() == b"\x00\xff\x10"


def test_write_text_is_atomic(tmp_path):
    path = tmp_path / "t.txt"
    write_text(path, "line 1\nligne 2 — ü\n")
    assert path.read_text(encoding="utf-8") == "line 1\nligne 2 — ü\n"


# --- write_json -----------------------------------------------------------------------------------------------------


def test_write_json_exact_text_with_numpy_values_and_paths(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "arr": np.array([[1, 2], [3, 4]]),
        "p": Path("/tmp/x"),
        "s": "héllo",
    })
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert '"s": "héllo"' in text  # ensure_ascii=False
    assert text.startswith('{\n  "i": 3,')  # indent=2
    assert json.loads(text) == {"i": 3, "f": 0.5, "b": True, "arr": [[1, 2], [3, 4]], "p": "/tmp/x", "s": "héllo"}


def test_write_json_unserialisable_value_keeps_old_file(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {"ok": 1})
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"ok": 1}
    assert leftovers(tmp_path) == []


# --- write_jsonl / read_jsonl ---------------------------------------------------------------------------------------


def test_jsonl_round_trip_with_numpy_and_unicode(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [
        {"text": "Très bien 😊", "label": "positive", "score": np.float64(0.25)},
        {"text": "line\nbreak inside", "n": np.int32(7), "v": np.array([0.5, 1.5])},
        {},
    ]
    write_jsonl(path, rows)
    raw = path.read_text(encoding="utf-8")
    assert raw.count("\n") == 3  # one line per row; the newline inside the text is escaped
    assert "Très bien 😊" in raw
    assert read_jsonl(path) == [
        {"text": "Très bien 😊", "label": "positive", "score": 0.25},
        {"text": "line\nbreak inside", "n": 7, "v": [0.5, 1.5]},
        {},
    ]


def test_jsonl_round_trip_with_unicode_line_separators(tmp_path):
    # U+2028 and U+0085 are written raw (ensure_ascii=False); reading by file lines must not split on them
    path = tmp_path / "rows.jsonl"
    rows = [{"text": "a\u2028b\u0085c", "label": "x"}]
    write_jsonl(path, rows)
    assert read_jsonl(path) == rows


def test_write_jsonl_empty_and_from_generator(tmp_path):
    path = tmp_path / "empty.jsonl"
    write_jsonl(path, [])
    assert path.read_text(encoding="utf-8") == ""
    assert read_jsonl(path) == []
    write_jsonl(path, ({"i": i} for i in range(3)))
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_write_jsonl_failure_mid_way_keeps_old_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"a": 1}])
    with pytest.raises(TypeError, match="not JSON serializable: set"):
        write_jsonl(path, [{"a": 2}, {"b": {1, 2}}])
    assert read_jsonl(path) == [{"a": 1}]
    assert leftovers(tmp_path) == []


def test_read_jsonl_skips_blank_lines_and_handles_crlf(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\n{"a": 1}\r\n   \n\t\n{"b": 2}\n\n')
    assert read_jsonl(path) == [{"a": 1}, {"b": 2}]


def test_read_jsonl_last_line_without_newline(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}', encoding="utf-8")
    assert read_jsonl(str(path)) == [{"a": 1}, {"b": 2}]


def test_read_jsonl_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"b": oops}\n', encoding="utf-8")
    with pytest.raises(ValueError) as exc:
        read_jsonl(path)
    assert str(exc.value) == f"{path}:3: invalid JSON (Expecting value); each line must be one JSON object"
    assert isinstance(exc.value.__cause__, json.JSONDecodeError)


@pytest.mark.parametrize(("line", "typename"),
                         [("[1, 2]", "list"), ('"text"', "str"), ("3", "int"), ("null", "NoneType")])
def test_read_jsonl_non_object_names_file_line_and_type(tmp_path, line, typename):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad\.jsonl:2: expected a JSON object, got {typename}$"):
        read_jsonl(path)


def test_read_jsonl_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "nope.jsonl")


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from streamsynth.io import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
