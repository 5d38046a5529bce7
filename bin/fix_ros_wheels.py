#!/usr/bin/env python3
"""Repair what the ROS 2 PyPI wheels get wrong for building custom messages in this venv.

Symptom cured: colcon build of adaptive_nlp_ros_msgs fails with CMake errors about
"/opt/python/cp311-cp311/include/python3.11" (or a numpy include directory under it) not
existing. The message wheels' exported CMake files hard-code the directories of the machine
they were built on; they are rewritten here to this interpreter's include directory and
numpy's. Run by bin/bootstrap after every pip install; running it twice changes nothing.
"""

import pathlib
import re
import sys
import sysconfig

import numpy


def main(venv: str) -> int:
    """Rewrite the foreign include paths in every exported CMake file of the venv."""
    python_include = sysconfig.get_paths()['include']
    numpy_include = numpy.get_include()
    foreign_numpy = re.compile(r'/opt/python/[^/;"\s]+/lib/python3\.\d+/site-packages/numpy/_core/include')
    foreign_python = re.compile(r'/opt/python/[^/;"\s]+/include/python3\.\d+')
    changed = 0
    for cmake_file in pathlib.Path(venv, 'share').glob('*/cmake/*.cmake'):
        text = cmake_file.read_text()
        fixed = foreign_python.sub(python_include, foreign_numpy.sub(numpy_include, text))
        if fixed != text:
            cmake_file.write_text(fixed)
            changed += 1
    print(f'fix_ros_wheels: rewrote include paths in {changed} CMake files')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
