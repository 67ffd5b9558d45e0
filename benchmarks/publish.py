"""``asv publish`` for a machine without internet: the same site, its scripts served locally.

asv 0.6's published page loads jQuery, flot, bootstrap and three small plugins from CDNs; with
no network it only shows ``error.html``. This runs ``asv publish`` and then rewrites every page
of the site to copies of those files kept in ``benchmarks/asv_offline/`` (from the npm
registry; ``sources.json`` records each one's origin, its SHA-256 and whether it is the CDN's
exact file by the page's own integrity hash)::

    python benchmarks/publish.py [--config asv.conf.json] [--no-publish]
    asv preview                  # or: python -m http.server -d results/html -b 127.0.0.1

The site must be served (``asv preview`` or any local web server), not opened as a file: its
scripts read ``index.json`` with XMLHttpRequest, which browsers refuse on ``file://``.

Exit codes: 0 site written and no page refers to the network; 1 a page still does (an asv
release that loads a file this does not know: the message names the URL); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = Path(__file__).resolve().parent / "asv_offline"
SUBDIR = "vendor"
"""Folder of the published site that receives the local copies."""

_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_DROP = re.compile(r'\s(?:integrity|crossorigin|referrerpolicy)="[^"]*"', re.IGNORECASE)


def sources() -> list[dict[str, object]]:
    """The vendored files: ``url`` (what asv's page loads), ``file``, ``sha256``, origin."""
    return list(json.loads((VENDOR / "sources.json").read_text())["files"])


def localize_page(text: str, mapping: dict[str, str]) -> str:
    """``text`` with every script / stylesheet URL in ``mapping`` pointed at its local copy.

    The integrity attributes go with the URL: three of the copies are not byte-identical to
    the CDN's (npm ships flot unminified, stupidtable 1.0.1 is not on npm), and a
    ``crossorigin`` request to the same origin would only add a CORS round for nothing.
    """

    def swap(m: re.Match[str]) -> str:
        tag = m.group(0)
        for url, local in mapping.items():
            if f'"{url}"' in tag:
                return _DROP.sub("", tag.replace(f'"{url}"', f'"{local}"'))
        return tag

    return _TAG.sub(swap, text)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        ref = a.get("src") if tag in ("script", "img") else None
        if tag == "link" and (a.get("rel") or "") in ("stylesheet", "icon", "shortcut icon"):
            ref = a.get("href")
        if ref:
            self.refs.append(ref)


def page_refs(text: str) -> list[str]:
    """Everything a page loads by itself: script and image sources, stylesheets, icons."""
    parser = _Refs()
    parser.feed(text)
    return parser.refs


def _is_remote(ref: str) -> bool:
    return ref.startswith(("http://", "https://", "//"))


def localize(site: Path) -> list[str]:
    """Rewrite the published ``site`` in place; return the problems left (empty when none).

    A problem is a page that still loads something over the network, or refers to a local
    file that is not there.
    """
    files = sources()
    (site / SUBDIR).mkdir(exist_ok=True)
    for f in files:
        shutil.copyfile(VENDOR / str(f["file"]), site / SUBDIR / str(f["file"]))
    mapping = {str(f["url"]): f"{SUBDIR}/{f['file']}" for f in files}
    problems: list[str] = []
    for page in sorted(site.glob("*.html")):
        text = localize_page(page.read_text(encoding="utf-8"), mapping)
        page.write_text(text, encoding="utf-8")
        for ref in page_refs(text):
            if _is_remote(ref):
                problems.append(f"{page.name} still loads {ref} (not in {VENDOR.name}/)")
            elif not (site / ref.split("?")[0].split("#")[0]).is_file():
                problems.append(f"{page.name} refers to {ref}, which is not in the site")
    return problems


def _html_dir(config: Path) -> Path:
    from asv.config import Config

    conf = Config.load(str(config))
    return (config.parent / conf.html_dir).resolve()  # asv reads it from the config's folder


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "asv.conf.json"), help="asv configuration")
    p.add_argument(
        "--no-publish", action="store_true", help="only rewrite an already published site"
    )
    args = p.parse_args(argv)
    config = Path(args.config)
    if not config.is_file():
        p.error(f"--config: no such file {config}")
    site = _html_dir(config)
    if not args.no_publish:
        proc = subprocess.run(
            [sys.executable, "-m", "asv", "publish", "--config", str(config.resolve())],
            cwd=config.parent,
            check=False,
        )
        if proc.returncode != 0:
            return proc.returncode
    elif not (site / "index.html").is_file():
        p.error(f"--no-publish: {site} holds no published site (run without --no-publish)")
    problems = localize(site)
    for line in problems:
        print(f"publish: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"offline asv site in {site}: serve it with `asv preview` (no network needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
