"""Backdoor Lab: the reusable code behind the notebooks, one module per idea.

data (MNIST), triggers (poisoning), models, training, metrics, plots, widgets,
experiments (one call per configuration) and runtime (device and threads).
"""
