"""The capstone challenge: given a model and a few clean images, is the model backdoored?

- `population`: populations of small models drawn from a seed, about half backdoored, and
  the clean images a detector receives
- `scoring`: running a detector over a population; ROC-AUC, cross-entropy, target labels
- `baselines`: two detectors from the course (a patch scan, Neural Cleanse) and calibration

`python -m utils.challenge score DETECTOR.py` scores a detector (see __main__).
"""
