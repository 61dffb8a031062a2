"""Anti-backdoor learning, ABL (Li et al., 2021): train a clean model from poisoned data, by
isolating the samples it learns first and unlearning them.

ABL rests on one assumption: a backdoor is learnt *faster* than the clean task, so that early
in training the poisoned samples reach a lower loss than clean ones. It trains in three
phases:

1. isolation: a few epochs with the local gradient ascent loss (LGA)

       L_LGA = sign(L - gamma) * L

   on each batch's cross-entropy L: below gamma the step goes uphill, which holds the clean
   loss near gamma while the quickly learnt backdoor's falls below it; then the share of
   training samples with the lowest loss (1%) is set aside as the suspected poison;
2. training the same model on the rest;
3. unlearning: gradient *ascent* on the cross-entropy of the isolated samples.

As the authors' code (backdoor_isolation.py, backdoor_unlearning.py of bboylyg/ABL), with
its LGA option (the paper's loss; the code's default is flooding, |L - gamma| + gamma): the
LGA loss of the batch's mean cross-entropy, 1% isolated by the loss of the isolation model,
the unlearning by SGD (lr 5e-4, momentum 0.9, Nesterov, weight decay 1e-4) on the isolated
samples in batches of 128. Deviations, the first two measured on BadNets, seed 0:
- Adam (lr 0.005) for the isolation, not SGD with lr 0.1: SmallCNN has no batch
  normalisation, and SGD at 0.1 left it at chance (10% clean accuracy);
- gamma 0.1, not 0.5: MNIST's clean loss falls far below CIFAR-10's, and held at 0.5 the
  model learnt no backdoor at all (3% ASR at 86% clean accuracy), so nothing could be
  isolated;
- 5 isolation epochs (the paper 20, the code 10), so that ABL fits a minute on two cores
  (benchmarks/abl_isolation.py follows the isolation to 20 epochs);
- phase 2 is the lab's training (two epochs, Adam with a one-cycle rate, no augmentation)
  where the authors go on with the isolation's SGD for 60 epochs with crops, flips and
  Cutout;
- 5 epochs of ascent with a fresh SGD (the authors' loop of 5 only tests in its first, so 4,
  with the momentum of phase 2's optimizer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..cache import stored
from ..data import ImageSet
from ..models import SmallCNN
from ..runtime import configure_threads, pick_device
from ..training import TrainingConfig, fit, predict_logits, to_model_input


@dataclass(frozen=True)
class AblSettings:
    isolation_epochs: int = 5
    isolation_lr: float = 0.005  # Adam
    gamma: float = 0.1  # the loss LGA holds the clean samples at
    isolated_share: float = 0.01  # of the training set, set aside as suspected poison
    unlearning_epochs: int = 5
    unlearning_lr: float = 5e-4  # SGD, as the authors
    batch_size: int = 128

    def __post_init__(self):
        for name in ("isolation_epochs", "unlearning_epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("isolation_lr", "gamma", "unlearning_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.isolated_share < 1:
            raise ValueError(f"isolated_share must be in (0, 1), got {self.isolated_share!r}")


@dataclass
class AblResult:
    model: nn.Module  # trained by ABL's three phases
    isolated: torch.Tensor  # indices of the training samples set aside as suspected poison


def lga_loss(loss: torch.Tensor, gamma: float) -> torch.Tensor:
    """Local gradient ascent: the loss itself above gamma, its negative below (a step uphill)."""
    return torch.sign(loss - gamma) * loss


def lowest_loss(model: nn.Module, data: ImageSet, share: float) -> torch.Tensor:
    """The indices of the `share` of `data` that `model` fits best (lowest cross-entropy)."""
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    losses = F.cross_entropy(predict_logits(model, data.images), data.labels, reduction="none")
    return losses.argsort()[: max(1, int(share * len(losses)))]


def _steps(
    model, optimizer, data: ImageSet, epochs: int, batch_size: int, seed: int, loss_of, after=None
):
    """`epochs` of optimizer steps on the loss `loss_of(cross-entropy)` of shuffled batches, on
    the model's device; after(epoch, model) is called at the end of each epoch."""
    order, device = torch.Generator().manual_seed(seed), next(model.parameters()).device
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(data.labels), generator=order).split(batch_size):
            configure_threads()
            x, y = to_model_input(data.images[batch].to(device)), data.labels[batch].to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss_of(loss).backward()
            optimizer.step()
        model.eval()
        if after is not None:
            after(epoch, model)


def isolate(
    poisoned: ImageSet, config: TrainingConfig, settings: AblSettings, after_epoch=None
) -> tuple[nn.Module, torch.Tensor]:
    """Phase 1: a fresh SmallCNN trained with the LGA loss, and the indices of the share of
    `poisoned` it fits best. after_epoch(epoch, model), if given, sees the model after each
    epoch (benchmarks/abl_isolation.py follows the isolation so)."""
    model = SmallCNN(seed=config.seed).to(pick_device(), memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.isolation_lr)
    _steps(
        model,
        optimizer,
        poisoned,
        settings.isolation_epochs,
        settings.batch_size,
        config.seed,
        lambda loss: lga_loss(loss, settings.gamma),
        after_epoch,
    )
    return model, lowest_loss(model, poisoned, settings.isolated_share)


def unlearn(model: nn.Module, suspects: ImageSet, settings: AblSettings, seed: int) -> None:
    """Phase 3, in place: gradient ascent on the cross-entropy of the suspected poison."""
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=settings.unlearning_lr,
        momentum=0.9,
        weight_decay=1e-4,
        nesterov=True,
    )
    _steps(
        model,
        optimizer,
        suspects,
        settings.unlearning_epochs,
        settings.batch_size,
        seed,
        lambda loss: -loss,
    )


def _record(result: AblResult) -> dict:
    return {"weights": result.model.state_dict(), "isolated": result.isolated}


def _restore(record: dict) -> AblResult:
    model = SmallCNN(seed=0).to(memory_format=torch.channels_last)
    model.load_state_dict(record["weights"])
    return AblResult(model.eval(), record["isolated"])


@stored(record=_record, restore=_restore)
def abl(
    poisoned: ImageSet,
    config: TrainingConfig = TrainingConfig(),
    settings: AblSettings = AblSettings(),
) -> AblResult:
    """A SmallCNN trained by ABL's three phases on the poisoned training set (phase 2 with
    `config`), and the samples it isolated.

    Stored like a trained model: asked again for the same data and settings, it returns at
    once.
    """
    model, isolated = isolate(poisoned, config, settings)
    rest = torch.ones(len(poisoned.labels), dtype=torch.bool)
    rest[isolated] = False
    fit(model, ImageSet(poisoned.images[rest], poisoned.labels[rest]), config, progress=False)
    suspects = ImageSet(poisoned.images[isolated], poisoned.labels[isolated])
    unlearn(model, suspects, settings, config.seed)
    return AblResult(model.cpu(), isolated)
