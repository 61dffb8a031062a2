"""Backdoor Lab: the reusable code behind the notebooks, one module per idea.

data (MNIST), triggers (poisoning), models, training, metrics, plots, widgets,
experiments (one call per configuration), seeds (results over seeds), cache
(files written whole, read safely) and runtime (device and threads).
"""
