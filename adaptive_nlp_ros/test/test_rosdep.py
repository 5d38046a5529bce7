"""
rosdep resolves every key of both package.xml files, as the README's ROS route needs.

The real ``rosdep`` (requirements-dev.txt) runs offline against the rosdistro snapshot in
``../shared/fixtures/rosdistro`` beside the checkout (its base.yaml and python.yaml rules and
the humble / jazzy / kilted package lists): ``rosdep install --from-paths ... --ignore-src
--simulate`` for each distribution on its Ubuntu, the command a user runs but printing
instead of installing. The workspace's own packages come from source (``--ignore-src``).
Without the snapshot the test skips with the reason (on CI it fails).
"""

import os
from pathlib import Path
import shutil
import subprocess

from conftest import require
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
ROSDISTRO = REPOSITORY.parent / 'shared' / 'fixtures' / 'rosdistro'
PACKAGES = [str(REPOSITORY / 'adaptive_nlp_ros'), str(REPOSITORY / 'adaptive_nlp_ros_msgs')]
DISTRIBUTIONS = [('humble', 'ubuntu:jammy'), ('jazzy', 'ubuntu:noble'),
                 ('kilted', 'ubuntu:noble')]
ROSDEP_TIMEOUT_S = 120.0


def rosdep(env, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``rosdep ARGUMENTS`` with the offline sources."""
    return subprocess.run(['rosdep', *arguments], env=env, capture_output=True, text=True,
                          timeout=ROSDEP_TIMEOUT_S, stdin=subprocess.DEVNULL)


@pytest.fixture(scope='module')
def rosdep_env(tmp_path_factory):
    """Return an environment whose rosdep reads the snapshot only; its cache is updated."""
    require(ROSDISTRO.is_dir(), f'the rosdistro snapshot is not at {ROSDISTRO} (a checkout '
            'beside shared/ has it)')
    require(shutil.which('rosdep'), 'rosdep is not installed (requirements-dev.txt has it)')
    home = tmp_path_factory.mktemp('rosdep')
    sources = home / 'sources.list.d'
    sources.mkdir()
    (sources / '20-default.list').write_text(
        f'yaml file://{ROSDISTRO}/rosdep/base.yaml\n'
        f'yaml file://{ROSDISTRO}/rosdep/python.yaml\n')
    env = {'PATH': os.environ['PATH'], 'ROSDEP_SOURCE_PATH': str(sources),
           'ROS_HOME': str(home / 'ros'), 'ROS_PYTHON_VERSION': '3',
           'ROSDISTRO_INDEX_URL': f'file://{ROSDISTRO}/index-v4.yaml'}
    updated = rosdep(env, 'update')
    assert updated.returncode == 0, updated.stdout + updated.stderr
    for distribution, _ in DISTRIBUTIONS:
        assert f'Add distro "{distribution}"' in updated.stdout, updated.stdout
    return env


@pytest.mark.parametrize('distribution, os_name', DISTRIBUTIONS)
def test_rosdep_install_resolves_every_key(rosdep_env, distribution, os_name):
    keys = rosdep(rosdep_env, 'keys', '--from-paths', *PACKAGES, '--ignore-src')
    assert keys.returncode == 0, keys.stderr
    assert {'rclpy', 'launch_ros', 'lifecycle_msgs', 'python3-numpy'} <= set(keys.stdout.split())
    assert 'adaptive_nlp_ros_msgs' not in keys.stdout.split()          # from source
    install = rosdep(rosdep_env, 'install', '--simulate', '--from-paths', *PACKAGES,
                     '--ignore-src', '-y', f'--rosdistro={distribution}', f'--os={os_name}')
    assert install.returncode == 0, install.stdout + install.stderr
    assert 'ERROR' not in install.stderr, install.stderr
    resolved = rosdep(rosdep_env, 'resolve', *keys.stdout.split(),
                      f'--rosdistro={distribution}', f'--os={os_name}')
    assert resolved.returncode == 0, resolved.stderr
    assert f'ros-{distribution}-rclpy' in resolved.stdout
