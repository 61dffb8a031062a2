"""Defenses against data-poisoning backdoors, one module per idea.

- `reserve`: the small set of trusted clean images a defender is assumed to hold
- `activations`: finding poisoned training samples (activation clustering, spectral signatures)
- `neural_cleanse`: reverse-engineering a trigger from a finished model
- `strip`: catching triggered inputs at run time
- `fine_pruning`: removing the backdoor by pruning dormant neurons and fine-tuning
- `spectre`: spectral signatures on activations whitened with the clean reserve (after SPECTRE)
- `matrix`: every defense against one attack, and the verdict rule of notebook 06's matrix
- `report`: every defense of notebook 05 on one BadNets configuration (the seed benchmark)
"""
