"""
Where trained artifacts live, what the folder holds, and how a missing one is reported.

The folder is named by ``ADAPTIVE_NLP_ARTIFACTS``; the repository's ``bin/`` wrappers and
make targets point it at ``.artifacts/`` in the checkout, and an installed package without
it uses the per-user cache directory. ``manifest.json`` records every file with its SHA-256,
so a truncated or corrupt file is caught at load time and named.
"""

import hashlib
import json
import os
import pathlib
from typing import Any, Dict, Iterable

ARTIFACTS_ENV = 'ADAPTIVE_NLP_ARTIFACTS'
MANIFEST = 'manifest.json'
FORMAT_VERSION = 1
BUILD_COMMAND = ('adaptive-nlp artifacts --ensure --artifacts {directory}   (the shipped '
                 'corpus; your own: adaptive-nlp train --data FILE --out {directory}; from a '
                 'checkout: make artifacts)')

# Layout of the folder, relative paths.
BACKBONE_DIR = 'text/backbone'
EXIT_HEADS = 'text/exit_heads.pt'
ONNX_LAYER = 'text/onnx/layer{layer}_{precision}.onnx'
TFIDF_MODEL = 'text/tfidf_logreg.npz'
STOP_DETECTOR = 'text/stop_detector.npz'
WORD_TAGGER = 'text/word_tagger.npz'
TEXT_REPORT = 'text/training_report.json'
POOL_TABLE = 'text/pool.json'
MOE_GATE = 'text/moe_gate.json'
IMAGE_DIR = 'image/branchynet'
COST_PROFILE = 'cost_profile.json'


class ArtifactError(RuntimeError):
    """An artifact that is missing or unusable; the message names it and how to rebuild it."""

    def __init__(self, directory: pathlib.Path, relative_path: str, problem: str,
                 remedy: str = ''):
        self.directory = pathlib.Path(directory)
        self.relative_path = relative_path
        self.problem = problem
        super().__init__(f'{self.directory / relative_path}: {problem}. '
                         + (remedy or 'Rebuild with: '
                            + BUILD_COMMAND.format(directory=self.directory)))


def default_artifacts_dir() -> pathlib.Path:
    """``$ADAPTIVE_NLP_ARTIFACTS``, else the per-user cache directory."""
    configured = os.environ.get(ARTIFACTS_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return pathlib.Path(cache) / 'adaptive_nlp_ros' / 'artifacts'


def file_sha256(path: pathlib.Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: pathlib.Path, info: Dict[str, Any]) -> Dict[str, Any]:
    """Record every file under ``directory`` with its hash, plus ``info``; returns the manifest."""
    directory = pathlib.Path(directory)
    files = {str(path.relative_to(directory)): file_sha256(path)
             for path in sorted(directory.rglob('*'))
             if path.is_file() and path.name != MANIFEST}
    manifest = {'format_version': FORMAT_VERSION, **info, 'files': files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + '\n')
    return manifest


def read_manifest(directory: pathlib.Path) -> Dict[str, Any]:
    """Return the folder's manifest, or an ArtifactError saying the folder was never built."""
    directory = pathlib.Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(directory, MANIFEST, 'no trained artifacts here')
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(directory, MANIFEST, f'unreadable ({error})') from None
    if manifest.get('format_version') != FORMAT_VERSION:
        raise ArtifactError(directory, MANIFEST,
                            f'format version {manifest.get("format_version")} is not '
                            f'{FORMAT_VERSION}')
    return manifest


def verify_files(directory: pathlib.Path, manifest: Dict[str, Any],
                 relative_paths: Iterable[str]) -> None:
    """Check that each file (or every file under each folder) exists and matches its hash."""
    directory = pathlib.Path(directory)
    recorded: Dict[str, str] = manifest.get('files', {})
    for relative in relative_paths:
        wanted = [name for name in recorded
                  if name == relative or name.startswith(relative.rstrip('/') + '/')]
        if not wanted and relative == IMAGE_DIR:
            # A complete folder (``artifacts --ensure`` finds nothing to rebuild): say why.
            raise ArtifactError(directory, relative, 'not built: these artifacts were trained '
                                'with --no-images', 'Train again without --no-images to add '
                                f'the image model: adaptive-nlp train --data FILE --out '
                                f'{directory}')
        if not wanted:
            raise ArtifactError(directory, relative, 'not listed in the manifest')
        for name in wanted:
            path = directory / name
            if not path.is_file():
                raise ArtifactError(directory, name, 'missing')
            if file_sha256(path) != recorded[name]:
                raise ArtifactError(directory, name,
                                    'corrupt (its content does not match the manifest)')
