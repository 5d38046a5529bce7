"""bench/soak.py at a short setting: no crash, nothing lost, every invalid input refused."""

import json
from pathlib import Path
import subprocess
import sys

SOAK = Path(__file__).resolve().parents[2] / 'bench' / 'soak.py'
DURATION_S = 15


def test_short_soak_has_no_crash_and_accounts_for_every_command(ros_domain, tmp_path):
    out = tmp_path / 'soak.json'
    completed = subprocess.run(
        [sys.executable, str(SOAK), '--duration-s', str(DURATION_S), '--out', str(out)],
        env=ros_domain.env, capture_output=True, text=True, timeout=DURATION_S + 150)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(out.read_text())
    assert report['crashes'] == 0, report['processes']
    assert report['missing'] == 0 and report['duplicates'] == 0
    sent = report['commands_sent']
    assert sent > 10 * DURATION_S                               # the stream really ran
    assert report['answered'] + report['rejected'] + report['dropped'] == sent
    assert report['controller_counts'] == {'received': sent, 'answered': report['answered'],
                                           'rejected': report['rejected'],
                                           'dropped': report['dropped']}
    # Exactly the invalid inputs are rejected, each for its own reason; nothing valid is.
    sent_kinds, reasons = report['sent'], report['rejected_by_reason']
    invalid = {'empty_text': sent_kinds.get('empty_text', 0),
               'text_too_long': sent_kinds.get('long_text', 0),
               'not_utf8': sent_kinds.get('not_utf8', 0)}
    assert all(count > 0 for count in invalid.values()) and sent_kinds.get('bad_image', 0) > 0
    assert {reason: reasons.get(reason, 0) for reason in invalid} == invalid, reasons
    image_rejections = sum(count for reason, count in reasons.items()
                           if reason.startswith('image_'))
    assert image_rejections == sent_kinds['bad_image'], reasons
    assert report['rejected'] == sum(invalid.values()) + sent_kinds['bad_image'], reasons
    # battery_state is best effort at the controller (sensor data): counted, not exact
    assert 0 < sum(report['battery_ignored'].values()) <= report['sent']['bad_battery']
    for name, process in report['processes'].items():
        assert process['exit_status'] == 0 and not process['traceback'], (name, process)
        assert {'start', 'end', 'peak'} <= set(process['rss_mb']), (name, process)
    assert 'crashes 0' in completed.stdout
