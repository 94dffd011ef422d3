"""The server's pieces: the cache sweeper and the /web mount, alone and in a started server."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from vaekit.demo.server import CacheSweeper, mount_web


def test_the_sweeper_deletes_old_files_it_knows_and_keeps_the_rest(tmp_path):
    def file(name: str) -> str:
        (tmp_path / name).write_bytes(b"x")
        return str(tmp_path / name)

    old, young, kept = file("old.png"), file("young.png"), file("kept.png")
    registered = {old, young, kept, str(tmp_path / "gone.png")}
    component = SimpleNamespace(keep_in_cache={kept})
    app = SimpleNamespace(blocks={1: component}, temp_file_sets=[registered])
    sweeper = CacheSweeper(app, every=1, age=0.5)
    time.sleep(0.6)
    (tmp_path / "young.png").write_bytes(b"y")  # used again just now: young
    assert sweeper.sweep() == 1
    assert not os.path.exists(old) and os.path.exists(young) and os.path.exists(kept)
    assert registered == {young, kept}, "deleted and vanished files are forgotten"


def test_web_page_and_model_folders_are_served(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<html>vaekit web</html>")
    export = tmp_path / "mnist-z2" / "onnx"
    export.mkdir(parents=True)
    (export / "vaekit.json").write_text("{}")
    app = FastAPI()
    assert mount_web(app, web, {"mnist-z2": export})
    http = TestClient(app)
    assert "vaekit web" in http.get("/web/").text
    assert http.get("/web/models/mnist-z2/vaekit.json").json() == {}
    assert not mount_web(FastAPI(), tmp_path / "nothing"), "no index.html: nothing mounted"


def test_the_page_gets_the_list_of_models_with_their_precisions(tmp_path):
    """/web/models/index.json: what the page lists without ?model= and offers in its pickers."""
    import json
    import shutil
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    repo = Path(__file__).resolve().parents[2]
    app = FastAPI()
    models = {name: repo / "checkpoints" / name / "onnx" for name in ("celeba64", "mnist-z2")}
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "vaekit.json").write_text("{not json")
    shutil.copytree(repo / "web", tmp_path / "web", ignore=shutil.ignore_patterns("node_modules"))
    assert mount_web(app, tmp_path / "web", {**models, "broken": broken})
    listed = {m["name"]: m for m in TestClient(app).get("/web/models/index.json").json()}
    assert set(listed) == {"celeba64", "mnist-z2"}, "an unreadable contract is left out, not fatal"
    assert listed["celeba64"]["precisions"] == ["fp32"]
    assert listed["mnist-z2"]["precisions"] == ["fp32", "fp16", "int8"]
    assert listed["mnist-z2"]["url"] == "/web/models/mnist-z2/" and listed["mnist-z2"]["latent_dim"] == 2
    contract = json.loads((models["mnist-z2"] / "vaekit.json").read_text())
    assert TestClient(app).get("/web/models/mnist-z2/vaekit.json").json() == contract


@pytest.mark.slow
def test_the_page_is_there_as_soon_as_the_server_answers(tmp_path, monkeypatch, free_port_number):
    """A client that polls the server until /config answers (CI's runtime-only check, a
    supervisor's health probe) must then find /web: the page is mounted before the server
    listens, not after launch() returns. A slow mount makes the old race certain."""
    import gradio as gr
    from vaekit.demo import server

    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<html>vaekit web</html>")
    real_mount = server.mount_web

    def slow_mount(*args, **kwargs):
        time.sleep(1.0)
        return real_mount(*args, **kwargs)

    monkeypatch.setattr(server, "mount_web", slow_mount)
    port = free_port_number()
    seen: list[int] = []

    def poll():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2).close()
            except OSError:
                time.sleep(0.02)
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/", timeout=5) as r:
                    seen.append(r.status)
            except urllib.error.HTTPError as e:
                seen.append(e.code)
            return

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with gr.Blocks() as app:
        gr.Markdown("page")
    try:
        server.launch(app, port=port, prevent_thread_lock=True, quiet=True, web_dir=web)
        poller.join(timeout=60)
    finally:
        app.close()
    assert seen == [200], f"/web answered {seen} right after /config did"
