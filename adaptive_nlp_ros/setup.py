"""ament_python package of adaptive_nlp_ros: core engine, ROS 2 nodes and the adaptive-nlp tool."""

import glob
import os

from setuptools import find_packages, setup

package_name = 'adaptive_nlp_ros'


def share_files(folder: str, pattern: str = '*'):
    """Install every file of a folder (recursively) under share/<package>/<folder>."""
    entries = {}
    for path in glob.glob(os.path.join(folder, '**', pattern), recursive=True):
        if os.path.isfile(path):
            target = os.path.join('share', package_name, os.path.dirname(path))
            entries.setdefault(target, []).append(path)
    return sorted(entries.items())


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['data/*.jsonl', 'data/*.yaml']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        *share_files('launch'),
        *share_files('config'),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='adaptive_nlp_ros maintainers',
    maintainer_email='maintainers@adaptive-nlp-ros.invalid',
    description='Energy-aware adaptive inference for robot text and image commands.',
    license='Apache-2.0',
    extras_require={'test': ['pytest', 'hypothesis']},
    entry_points={
        'console_scripts': [
            'battery_node = adaptive_nlp_ros.nodes.battery_node:main',
            'controller_node = adaptive_nlp_ros.nodes.controller_node:main',
            'command_player = adaptive_nlp_ros.nodes.command_player:main',
            'expert_server = adaptive_nlp_ros.nodes.expert_server:main',
            'adaptive-nlp = adaptive_nlp_ros.cli:main',
        ],
    },
)
