"""The global random generator behind initialisation and dropout."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed crnn's global generator (used by modules created without their
    own ``seed=``/``generator=``), like torch.manual_seed. Returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def global_generator() -> np.random.Generator:
    return _generator
