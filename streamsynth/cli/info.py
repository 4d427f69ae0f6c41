"""``synth-agent info``: versions, compute device, offline resources found."""

from __future__ import annotations


def print_info() -> None:
    from rich.console import Console
    from rich.table import Table

    from streamsynth.evaluation.experiment import versions
    from streamsynth.generation import find_packaged_models
    from streamsynth.paths import cache_dir
    from streamsynth.tasks import list_tasks

    console = Console()
    t = Table(title="versions")
    t.add_column("package")
    t.add_column("version")
    for k, v in versions().items():
        t.add_row(k, v)
    console.print(t)
    import torch

    device = (f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available()
              else f"cpu ({torch.get_num_threads()} threads)")
    console.print(f"device: {device}")
    console.print(f"cache: {cache_dir()}")
    m = Table(title="offline models")
    m.add_column("model")
    m.add_column("found")
    for name, found in find_packaged_models().items():
        m.add_row(name, str(found) if found else "missing")
    try:
        from streamsynth.rewards.embeddings import packaged_minilm_path

        m.add_row("minilm (embeddings)", str(packaged_minilm_path()))
    except FileNotFoundError as exc:
        m.add_row("minilm (embeddings)", f"missing: {exc}")
    console.print(m)
    d = Table(title="offline datasets")
    d.add_column("task")
    d.add_column("data")
    for name, meta in list_tasks(check_data=True).items():
        if meta.get("offline"):
            d.add_row(name, str(meta.get("data", "")))
    console.print(d)
