"""Accuracy against estimated energy for every strategy at several battery levels."""

import pathlib
from typing import Dict

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first


def plot_pareto(results: Dict[float, dict], out: pathlib.Path) -> None:
    """One panel per battery level; baselines hollow, adaptive strategies filled."""
    batteries = sorted(results, reverse=True)
    figure, axes = plt.subplots(1, len(batteries), figsize=(5 * len(batteries), 4.6),
                                sharey=True, squeeze=False)
    names = list(next(iter(results.values()))['strategies'])
    colors = {name: plt.cm.tab20(i % 20) for i, name in enumerate(names)}
    for axis, battery in zip(axes[0], batteries):
        strategies = results[battery]['strategies']
        for name, row in strategies.items():
            if row['accuracy'] is None:
                continue
            baseline = name in ('full', 'oracle') or name.startswith('static:')
            axis.scatter(row['mean_energy_mj'], row['accuracy'], s=60 if not baseline else 40,
                         color=colors[name], marker='o' if not baseline else 's',
                         facecolors='none' if baseline else colors[name], label=name)
        axis.set_title(f'battery {battery:.2f}  (budget '
                       f'{results[battery]["budget_mj"]:.1f} mJ/command)')
        axis.set_xlabel('mean energy per command, mJ (estimate)')
        axis.set_xscale('log')
        axis.grid(True, alpha=0.3)
    axes[0][0].set_ylabel('accuracy')
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc='lower center', ncol=min(6, len(labels)), fontsize=7)
    figure.tight_layout(rect=(0, 0.14, 1, 1))
    figure.savefig(out, dpi=110)
    plt.close(figure)
