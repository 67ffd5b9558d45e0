"""``report.html``: one self-contained page per run folder.

The page needs nothing but itself to be read: the PNGs of the run folder are inlined as
``data:`` URIs, the style sheet is inline, and there is no script and no external
reference of any kind, so it opens the same offline, attached to a mail or years later.
It shows the verdict, the CLI tables, the plots, the configuration, the versions, the
machine and the exact command that reproduces the run.
"""

from __future__ import annotations

import base64
import html
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.files import atomic_write_text, dumps

PLOTS = (
    ("loss_vs_epoch.png", "train loss against epoch"),
    ("loss_vs_time.png", "train loss against steady training seconds"),
    ("scaled_difference.png", "scaled step difference to the reference against the tolerance"),
)
"""The PNGs the page shows, in order, when the run folder has them."""

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 90%; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; }
.ok { color: #060; } .fail { color: #a00; }
img { max-width: 100%; border: 1px solid #ddd; margin: .3em 0; }
"""


def _e(x: Any) -> str:
    if isinstance(x, float):
        return html.escape(format(x, ".6g"))
    return html.escape("-" if x is None else str(x))


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _kv(d: dict[str, Any]) -> str:
    return _table([{"key": k, "value": v} for k, v in d.items()], ("key", "value"))


def _run_cells(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row with its baseline and known divergence as text."""
    b, d = row.get("baseline"), row.get("divergence")
    return {
        **row,
        "baseline": f"{b['scaled_diff']:.2e} at step {b['step']} ({b['reference']} float32 "
        "vs float64)"
        if b
        else "-",
        "known divergence": f"{'declared' if d['status'] == 'xfail' else 'STALE'}: "
        f"{d['entry']} # {d['reason']} ({d['where']})"
        if d
        else "-",
    }


def render(report: dict[str, Any], tables: str, folder: Path) -> str:
    """The page's HTML for ``report`` (a ``report.json`` document) and ``folder``'s PNGs."""
    s = report["summary"]
    ok = bool(s["ok"])
    failed = [r for r in s["rows"] if r["verdict"] != "agrees" and not r["reference"]]
    declared = [r for r in s["rows"] if (r.get("divergence") or {}).get("status") == "xfail"]
    verdict = (
        f"OK: every target agrees with {s['reference']}"
        + (
            " (declared divergences: "
            + ", ".join(f"{r['target']} {r['mode']}" for r in declared)
            + ")"
            if declared
            else ""
        )
        if ok
        else "FAIL: " + ", ".join(f"{r['target']} {r['mode']} ({r['verdict']})" for r in failed)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>harness compare {_e(report['run_id'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>harness compare {_e(report['run_id'])}</h1>",
        f'<p id="verdict" class="{"ok" if ok else "fail"}"><strong>{_e(verdict)}</strong> '
        f"(exit code {_e(s['exit_code'])})</p>",
        f"<h2>Command</h2><pre>{_e(shlex.join(report['command']))}</pre>",
        f"<h2>Tables</h2><pre>{_e(tables)}</pre>",
    ]
    columns = (
        "target", "mode", "verdict", "final_train_loss", "final_test_acc", "steps_to_target",
        "max_rel_diff", "baseline", "first_diverging_step", "nonfinite_step", "nonfinite_in",
        "known divergence", "summary",
    )  # fmt: skip
    parts.append("<h2>Runs</h2>" + _table([_run_cells(r) for r in s["rows"]], columns))
    images = []
    for name, alt in PLOTS:
        png = folder / name
        if png.is_file():
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            images.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
                f"<figcaption>{_e(name)}: {_e(alt)}</figcaption></figure>"
            )
    parts.append("<h2>Plots</h2>" + ("".join(images) or "<p>no plots (--no-plots)</p>"))
    cfg = {k: v for k, v in report["config"].items() if k != "seeds"}
    parts += [
        "<h2>Configuration</h2>" + _kv(cfg),
        "<h3>Seeds</h3>" + _kv(report["config"]["seeds"]),
        "<h3>Target loss</h3>" + _kv(report["target_loss"]),
        f"<h3>Workloads</h3><pre>{_e(dumps(report['workloads']))}</pre>",
        "<h2>Versions</h2>" + _kv(report["versions"]),
        "<h2>Machine</h2>" + _kv(report["machine"]),
        f"<p>started {_e(report['started_utc'])}, finished {_e(report['finished_utc'])}; "
        "every number is in report.json beside this page.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write(report: dict[str, Any], tables: str, folder: Path) -> None:
    """Write ``folder/report.html`` (after the PNGs, which it inlines)."""
    atomic_write_text(Path(folder) / "report.html", render(report, tables, Path(folder)))
