"""``python -m vaekit.demo [--models DIR ...] [--host H] [--port P] [--share] [--web DIR]``

Serves exported model folders (or checkpoint folders with an ``onnx/`` subfolder) in a
Gradio app. With no ``--models`` it serves every ``checkpoints/*/onnx`` folder found under
the current directory, else under the repository next to this package.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from vaekit.format import CONTRACT_FILE, ONNX_SUBFOLDER

REPO_ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 256  # as vaekit.demo.server.SESSIONS (not imported here: that pulls in Gradio)


def default_model_dirs(cwd: Path | None = None) -> list[Path]:
    """Every ``checkpoints/*/onnx`` folder holding a ``vaekit.json``, searched in ``cwd``
    first and then in the repository root next to the package."""
    for root in (cwd or Path.cwd(), REPO_ROOT):
        found = sorted(p.parent for p in (root / "checkpoints").glob(f"*/{ONNX_SUBFOLDER}/{CONTRACT_FILE}"))
        if found:
            return found
    return []


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m vaekit.demo",
        description="Serve exported vaekit models in a browser app (ONNX Runtime, no torch).",
    )
    p.add_argument("--models", nargs="+", metavar="DIR", default=None,
                   help="export folders or checkpoint folders with onnx/ "
                        "(default: every checkpoints/*/onnx)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true",
                   help="also open a public gradio.live link (off by default; needs internet)")
    p.add_argument("--providers", default="auto",
                   help="ONNX Runtime providers: 'auto' or a comma-separated list "
                        "such as CPUExecutionProvider")
    p.add_argument("--concurrency", type=int, default=4,
                   help="requests computed at the same time (default 4)")
    p.add_argument("--sessions", type=int, default=SESSIONS,
                   help=f"visitor sessions whose state is kept in memory (default {SESSIONS})")
    p.add_argument("--web", metavar="DIR", default=None,
                   help="static browser page served at /web (default: web/ of the repository, "
                        "when it holds an index.html)")
    args = p.parse_args(argv)
    if not 0 < args.port < 65536:
        p.error(f"--port must be 1-65535, got {args.port}")
    if args.concurrency < 1:
        p.error(f"--concurrency must be >= 1, got {args.concurrency}")
    if args.sessions < 1:
        p.error(f"--sessions must be >= 1, got {args.sessions}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.models is None:
        dirs = default_model_dirs()
        if not dirs:
            print(
                f"error: no exported models found (looked for checkpoints/*/{ONNX_SUBFOLDER}/{CONTRACT_FILE} in "
                f"{Path.cwd()} and {REPO_ROOT}).\n"
                "Export a checkpoint first: python -m vaekit.export checkpoints/<name>\n"
                "(`make demo` does this for the shipped checkpoints), or pass --models DIR.",
                file=sys.stderr,
            )
            return 2
    else:
        dirs = [Path(d) for d in args.models]
    providers = args.providers if args.providers == "auto" else [
        s.strip() for s in args.providers.split(",") if s.strip()
    ]

    from .app import build_app, launch, load_models

    try:
        models = load_models(dirs, providers=providers)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for m in models.values():
        print(f"serving {m.choice_label()}  ({m.folder})")
    app = build_app(models)
    web = Path(args.web) if args.web else REPO_ROOT / "web"
    launch(app, host=args.host, port=args.port, share=args.share,
           concurrency=args.concurrency, sessions=args.sessions, web_dir=web,
           web_models={m.name: m.folder for m in models.values() if m.folder is not None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
