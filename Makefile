# adaptive_nlp_ros: the two commands a newcomer runs are `make demo` and `make test`.
# Both create the environment when it is missing (bin/bootstrap), build the colcon workspace,
# and build the trained artifacts into .artifacts/ when they are missing.
SHELL := /bin/bash
ENV_RUN := bin/env-run
ARTIFACTS := .artifacts
# Unique per checkout so parallel test runs on one machine do not see each other's nodes.
TEST_DOMAIN_ID ?= $(shell echo $$(( $$(pwd | cksum | cut -d' ' -f1) % 100 + 100 )))
# Sources of the ROS 2 command-line and launch tools that bin/bootstrap installs into .venv for
# the tests that run them (ros2 launch, ros2 topic, launch_testing ...): ../shared/ros2_tools
# beside this checkout when it exists (CI has it); make test ADAPTIVE_NLP_ROS2_TOOLS=DIR for others.
ADAPTIVE_NLP_ROS2_TOOLS ?= $(if $(wildcard $(CURDIR)/../shared/ros2_tools/launch_ros),$(abspath $(CURDIR)/../shared/ros2_tools))
export ADAPTIVE_NLP_ROS2_TOOLS
# pytest-xdist workers for make test (one per core here; modules stay whole on one worker, and
# each worker draws ROS domain ids from its own share of the range). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
# Extra arguments for the demo, e.g. make demo DEMO_ARGS="--strategy early_exit"
DEMO_ARGS ?=
# Also record the demo's run to this (new) rosbag2 folder, e.g. make demo RECORD=demo_runs/bag
RECORD ?=

.PHONY: demo test bootstrap artifacts bench clean

bootstrap:
	@bin/bootstrap

artifacts: bootstrap
	@$(ENV_RUN) adaptive-nlp artifacts --ensure

demo: artifacts
	@$(ENV_RUN) adaptive-nlp demo $(DEMO_ARGS) $(if $(RECORD),--record "$(RECORD)")

test: artifacts
	@ROS_DOMAIN_ID=$(TEST_DOMAIN_ID) $(ENV_RUN) colcon --log-base log test \
	  --base-paths adaptive_nlp_ros_msgs adaptive_nlp_ros --build-base build --install-base install \
	  --packages-select adaptive_nlp_ros --return-code-on-test-failure \
	  --event-handlers console_direct+ summary+ \
	  --pytest-args -p no:cacheprovider -ra $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

bench: artifacts
	@$(ENV_RUN) python bench/run_all.py

clean:
	rm -rf build install log
