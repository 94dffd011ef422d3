"""Benchmarks of the exported VAE graphs: ONNX Runtime, vaekit.runtime, OpenVINO and PyTorch.

``python -m benchmarks.run`` (``make bench``) measures every model x part x backend x batch
and writes ``benchmarks/results/`` (pytest-benchmark JSON, ``REPORT.md``, a log-log plot).
Plain ``pytest`` collects the same benchmarks in smoke mode: tiny batch lists, each case run
once with ``--benchmark-disable``, checking that every backend computes the same images.
"""
