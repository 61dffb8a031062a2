"""Defenses against data-poisoning backdoors, one module per idea.

- `reserve`: the small set of trusted clean images a defender is assumed to hold
- `activations`: finding poisoned training samples (activation clustering, spectral signatures)
- `neural_cleanse`: reverse-engineering a trigger from a finished model
- `strip`: catching triggered inputs at run time
- `fine_pruning`: removing the backdoor by pruning dormant neurons and fine-tuning
"""
