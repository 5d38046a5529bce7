"""
The models a controller answers with, loaded once: text always, images when they load.

A missing or unusable text model is fatal (the error names the file and the command that
rebuilds it); an unusable image model is a reported problem, and image commands are then
rejected with ``model_unavailable``.
"""

from dataclasses import dataclass, field
import pathlib
import time
from typing import Any, List, Optional

import numpy as np

from .. import artifacts
from ..battery.energy_budget import EnergyBudgetModel


@dataclass
class ControllerEngines:
    """The loaded models: text always, images when their artifacts load."""

    text: Any                            # inference.engine.TextEngine (or a test's stand-in)
    image: Any = None                    # inference.image_engine.ImageEngine, or None
    problems: List[str] = field(default_factory=list)
    directory: Optional[pathlib.Path] = None
    load_s: float = 0.0

    def set_budget_model(self, budget: EnergyBudgetModel) -> None:
        """Give both engines a new budget model."""
        self.text.set_budget_model(budget)
        if self.image is not None:
            self.image.set_budget_model(budget)


def load_controller_engines(directory: Optional[pathlib.Path] = None,
                            budget: EnergyBudgetModel = EnergyBudgetModel(),
                            threads: int = 1, warm_up: bool = True) -> ControllerEngines:
    """
    Load the text engine (fatal on failure) and the image engine (a problem on failure).

    :raises artifacts.ArtifactError: when the text models cannot be loaded; its message names
        the file and the command that rebuilds it.
    """
    from ..inference.engine import load_text_engine
    from ..inference.image_branchynet import BranchyNetClassifier
    from ..inference.image_engine import ImageEngine

    start = time.perf_counter()
    folder = pathlib.Path(directory) if directory else artifacts.default_artifacts_dir()
    text = load_text_engine(folder, budget, threads=threads)
    problems = list(text.models.problems)
    image = None
    try:
        manifest = artifacts.read_manifest(folder)
        artifacts.verify_files(folder, manifest, [artifacts.IMAGE_DIR])
        image = ImageEngine(BranchyNetClassifier.load(folder / artifacts.IMAGE_DIR),
                            text.profile, budget)
    except artifacts.ArtifactError as error:
        problems.append(f'image model unavailable: {error}')
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        problems.append(f'image model unavailable: {folder / artifacts.IMAGE_DIR}: {error}. '
                        'Rebuild with: ' + artifacts.BUILD_COMMAND.format(directory=folder))
    engines = ControllerEngines(text, image, problems, folder)
    if warm_up:
        _warm_up(engines)
    engines.load_s = time.perf_counter() - start
    return engines


def _warm_up(engines: ControllerEngines) -> None:
    """Run each path once so the first real command does not pay for lazy initialisation."""
    text = engines.text
    resources = text.resources(1.0)
    for name in ('full', 'early_exit'):
        text.infer('warm up', text.strategy(name), resources)
    if engines.image is not None:
        engines.image.infer(np.zeros((8, 8), dtype=np.uint8), engines.image.strategy('full'),
                            resources)
