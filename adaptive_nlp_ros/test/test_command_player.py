"""command_player in its own process: waits for a subscriber, plays in order, exits."""

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

RELIABLE_100 = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)

SCENARIO = """
name: tiny
interval_s: 0.05
commands:
  - {text: "go to the kitchen", label: navigate}
  - {image: {digit: 3}}
  - {text: "stop", label: stop}
  - {image: {pixels: [[0, 255, 0], [255, 0, 255]]}, label: digit_1}
  - {text: "K\\u00fcche \\U0001F373"}
"""


def test_player_publishes_the_scenario_then_exits(ros_domain, tmp_path):
    path = tmp_path / 'tiny.yaml'
    path.write_text(SCENARIO)
    texts = ros_domain.collect(String, 'text_command', RELIABLE_100)
    images = ros_domain.collect(Image, 'image_command', RELIABLE_100)
    process = ros_domain.start_node('command_player', parameters={
        'scenario': str(path), 'time_scale': 2.0})
    ros_domain.wait_for_publishers(texts.subscription)
    ros_domain.wait_for_publishers(images.subscription)
    ros_domain.spin_until(lambda: len(texts) == 3 and len(images) == 2, 15.0,
                          'the whole scenario')
    assert [message.data for message in texts.messages] == \
        ['go to the kitchen', 'stop', 'K\u00fcche \U0001F373']
    first, second = images.messages
    assert (first.encoding, first.height, first.width, first.step, len(first.data)) == \
        ('mono8', 8, 8, 8, 64)
    assert (second.height, second.width, bytes(second.data)) == (2, 3, bytes([0, 255, 0,
                                                                              255, 0, 255]))
    assert process.wait_exit() == 0, process.describe()
    assert 'played all 5 commands' in process.stderr


def test_player_without_subscribers_gives_up_with_status_1(ros_domain, tmp_path):
    path = tmp_path / 'tiny.yaml'
    path.write_text(SCENARIO)
    process = ros_domain.start_node('command_player', parameters={
        'scenario': str(path), 'wait_for_controller_s': 1.0})
    assert process.wait_exit(timeout_s=15.0) == 1, process.describe()
    assert 'nobody subscribed' in process.stderr


def test_player_refuses_a_broken_scenario(ros_domain, tmp_path):
    path = tmp_path / 'broken.yaml'
    path.write_text('commands: [{text: hi, image: {digit: 1}}]')
    process = ros_domain.start_node('command_player', parameters={'scenario': str(path)})
    assert process.wait_exit() == 1, process.describe()
    assert 'exactly one of' in process.stderr and 'Traceback' not in process.stderr
