"""``python -m vaekit.demo`` at its edges: a busy port, an address that is not this machine's,
provider names, and bounds on what the server keeps; each one line that works with
``make demo`` (``DEMO_ARGS="--port N"``), before any model is loaded."""

from __future__ import annotations

import socket

import pytest
from vaekit.demo import __main__ as cli


@pytest.fixture
def busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_busy_port_names_a_free_one_and_the_make_spelling(busy_port, tmp_path, capsys):
    code = cli.main(["--port", str(busy_port), "--models", str(tmp_path / "not-loaded")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"port {busy_port} on 127.0.0.1 is in use by another program: pass --port " in err
    assert 'make demo DEMO_ARGS="--port ' in err, "the fix works with make demo"
    assert "GRADIO_SERVER_PORT" not in err and "not-loaded" not in err, "checked before the models"
    free = int(err.split("pass --port ")[1].split()[0])
    assert not cli.bind_problem("127.0.0.1", free), "the port offered is free"


@pytest.mark.parametrize("host, words", [
    ("999.1.1.1", "is not an address or a name this machine can resolve"),
    ("192.0.2.1", "is not an address of this machine"),  # TEST-NET-1: never a local address
])
def test_a_bad_host_is_one_line_with_the_usual_addresses(host, words, capsys):
    assert cli.main(["--host", host]) == 2
    err = capsys.readouterr().err
    assert words in err and "127.0.0.1" in err and "0.0.0.0" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["--concurrency", "1000"], "--concurrency must be at most 64, got 1000"),
    (["--sessions", "1000000000"], "--sessions must be at most 100000, got 1000000000"),
    (["--port", "0"], "--port must be 1-65535, got 0"),
])
def test_server_bounds_are_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_args(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_providers_cpu_is_taken_as_the_runtime_setting(exported, monkeypatch, capsys, free_port_number):
    """``--providers cpu`` (the name the error used to offer and then refuse) serves on CPU;
    ``cpu`` inside a list says how to write it."""
    import vaekit.demo.app as app

    served = {}
    monkeypatch.setattr(app, "launch", lambda a, **kw: served.update(kw))
    folder = str(exported["mnist-tiny"])
    port = str(free_port_number())
    assert cli.main(["--models", folder, "--providers", "cpu", "--port", port]) == 0
    assert "CPUExecutionProvider" in capsys.readouterr().out and served["port"] == int(port)
    assert cli.main(["--models", folder, "--providers", "cpu,CUDAExecutionProvider", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "'cpu' names a whole provider setting, not one entry of a list: pass providers='cpu'" in err
