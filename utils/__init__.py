"""Backdoor Lab: the reusable code behind the notebooks, one module per idea.

Modules: data (MNIST as tensors), triggers (trigger specs and poisoning), models (the
small networks), training (fit and predict), model_store (trained models stored and
reused), metrics, specificity (the trigger moved or dimmed), plots, widgets (the panels),
experiments (one call per attack, and a notebook's results), tables (figures as text
tables), seeds (results over seeds), solutions (a solution's figures beside their range over
seeds), cache (files written whole, read safely, keyed by the code they depend on) and
runtime (device and threads).

Subpackages: attacks (BadNets, Blended, label-consistent, SIG, behind one interface),
defenses (one module per defense, and the attack-by-defense matrix), signs (the street-sign
attack), sweep (a notebook over a grid of parameters, locally, on Dask or in shards) and
challenge (the capstone: populations of models, detectors and their scores).
"""
