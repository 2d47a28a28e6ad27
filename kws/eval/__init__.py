"""Accuracy evaluation shared by training and bench: benchmark streams and their scoring."""
