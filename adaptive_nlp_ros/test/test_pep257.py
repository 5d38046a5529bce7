"""ament_pep257 over the whole adaptive_nlp_ros package (ament's docstring convention)."""

from pathlib import Path

from ament_pep257.main import main
import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    rc = main(argv=[str(PACKAGE_DIR)])
    assert rc == 0, 'Found code style errors / warnings'
