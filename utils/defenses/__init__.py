"""Defenses against data-poisoning backdoors, one module per idea.

- `reserve`: the small set of trusted clean images a defender is assumed to hold
- `activations`: finding poisoned training samples (activation clustering, spectral signatures)
- `spectre`: spectral signatures after a robust estimate of each class's clean covariance (SPECTRE)
- `whitened_spectral`: spectral signatures on activations whitened with the clean reserve
- `neural_cleanse`: reverse-engineering a trigger from a finished model
- `strip`: catching triggered inputs at run time
- `fine_pruning`: removing the backdoor by pruning dormant neurons and fine-tuning
- `neurons`: the neurons of the course's network that the pruning repairs act on
- `anp`: adversarial neuron pruning, the neurons a small perturbation turns into a backdoor
- `clp`: channel Lipschitzness pruning, with no data
- `ibau`: unlearning the worst universal perturbation (implicit hypergradient)
- `abl`: anti-backdoor learning, a model trained anew that unlearns what it fitted first
- `matrix`: every defense against one attack and on a clean model, and the verdict rule of
  the matrix of notebooks 08 and 10
"""
