"""Your detector for the capstone challenge (notebook 09): is this model backdoored?

Score it on the training population, whose answers are known, from the course's folder:

    python -m utils.challenge score notebooks/my_detector.py --population train

Your instructor scores it on a test population made from a seed only they hold.
"""

from utils.challenge.baselines import patch_scan


def detect(model, clean_images):
    """The probability that `model` is backdoored, and the label you suspect.

    `model` takes float images in [0, 1] of shape [N, 1, 28, 28] (utils.training.predict
    takes the uint8 images as they are); `clean_images` is an ImageSet of 20 clean test
    images of each digit (clean_images.images, clean_images.labels). Return a probability
    in [0, 1], or a pair (probability, target label 0-9).

    This starting point returns the patch scan's share itself as the probability: a ranking
    that was never calibrated. Improve on it.
    """
    share, label = patch_scan(model, clean_images)
    return share, label
