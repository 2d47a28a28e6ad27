"""Training: recordings (and synthetic speech) plus background -> .onnx + sidecar + report.

Needs the ``train`` extra (torch, scipy, matplotlib).  Nothing outside this package
imports it; the CLI loads it only when ``kws train`` runs.
"""
