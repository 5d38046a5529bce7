"""The release rule's fit on dev: the layer and thresholds that keep every dev stop."""

from adaptive_nlp_ros.core.training.safety_release import (
    ExitStopScores, fit_safety_release, MARGIN, rule_at)
import numpy as np

STOPS = np.array([True, True, True, False, False, False, False, False])


def scores(first_action, any_action) -> ExitStopScores:
    """Return scores for eight commands (three stops first) at the given layers."""
    return ExitStopScores(np.array(first_action, dtype=float).T,
                          np.array(any_action, dtype=float).T)


# layer 1: a non-stop scores as high as the stops; layer 2 separates them; layer 3 too.
FIRST = [[0.9, 0.05, 0.3, 0.9, 0.01, 0.01, 0.01, 0.01],
         [0.9, 0.01, 0.6, 0.02, 0.01, 0.01, 0.01, 0.01],
         [0.95, 0.01, 0.7, 0.01, 0.01, 0.01, 0.01, 0.01]]
ANY = [[0.9, 0.4, 0.3, 0.9, 0.2, 0.1, 0.1, 0.1],
       [0.9, 0.8, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1],
       [0.95, 0.9, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1]]


def test_every_stop_keeps_a_score_at_least_twice_a_threshold():
    both = scores(FIRST, ANY)
    for layer in (1, 2, 3):
        label_threshold, action_threshold = rule_at(both, layer, STOPS)
        first, anywhere = both.first_action[:, layer - 1], both.any_action[:, layer - 1]
        covered = ((first >= label_threshold / MARGIN) | (anywhere >= action_threshold / MARGIN))
        assert covered[STOPS].all()


def test_the_earliest_layer_that_releases_enough_non_stops_is_chosen():
    flagged = [True] * 8
    rule, report = fit_safety_release(scores(FIRST, ANY), STOPS, flagged)
    assert rule.layer == 2                   # layer 1 keeps the non-stop scoring 0.9
    assert rule.label_probability == MARGIN * 0.6 and rule.action_probability == MARGIN * 0.8
    assert report['dev_non_stops_kept'] == 0.0
    assert report['kept_by_layer']['1'] > 0.0


def test_unflagged_non_stops_do_not_count_as_kept():
    flagged = [True, True, True, False, True, True, True, True]     # the 0.9 one not flagged
    rule, _ = fit_safety_release(scores(FIRST, ANY), STOPS, flagged)
    assert rule.layer == 1


def test_no_stop_on_dev_means_no_rule():
    rule, report = fit_safety_release(scores(FIRST, ANY), [False] * 8, [True] * 8)
    assert rule is None and report == {}
