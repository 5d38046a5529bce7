"""ament_flake8 over the whole adaptive_nlp_ros package (ament's configuration)."""

from pathlib import Path

from ament_flake8.main import main_with_errors
import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    rc, errors = main_with_errors(argv=[str(PACKAGE_DIR)])
    assert rc == 0, \
        'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(errors)
