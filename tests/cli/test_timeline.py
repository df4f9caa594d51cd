"""The demo's pure pieces: the sequence picture and the verdict over step results."""

from __future__ import annotations

from cae_sdk.cli._demo.timeline import (
    Beat,
    StepResult,
    StepStatus,
    Timeline,
    sequence_picture,
    verdict,
)


def test_sequence_picture_draws_arrows_both_ways_and_notes():
    beats = [
        Beat(1, 0.0, "client", "API", "GET /data", "200"),
        Beat(2, 5.0, "API", "client", "401", ""),
        Beat(2, 6.0, "API", "API", "watermark"),
        Beat(2, 7.0, "client", "nobody", "ignored"),
    ]
    picture = sequence_picture(beats, ["client", "API"], width=16).splitlines()
    assert picture[0].split() == ["client", "API"]
    assert picture[3].strip() == "|---GET /data-->|"
    assert picture[4].strip() == "|<-----200------|"
    assert picture[6].startswith("-- step 2")
    assert picture[7].strip() == "|<-----401------|"
    assert picture[8].endswith("|  (watermark)")
    assert not any("ignored" in line for line in picture)


def test_long_labels_are_cut_to_fit():
    picture = sequence_picture([Beat(1, 0, "a", "b", "x" * 50)], ["a", "b"], width=10)
    arrow = picture.splitlines()[3]
    assert "~>" in arrow and len(arrow) <= 20


def test_verdict_fails_only_for_steps_that_ran():
    steps = [
        StepResult(1, "a", StepStatus.PASSED, ""),
        StepResult(2, "b", StepStatus.UNAVAILABLE, "needs ssf"),
    ]
    assert verdict(steps) == (True, [], [2])
    steps.append(StepResult(3, "c", StepStatus.FAILED, "x"))
    assert verdict(steps) == (False, [3], [2])


def test_timeline_json_shape():
    timeline = Timeline(10.0)
    timeline.beats.append(Beat(1, timeline.at_ms(10.25), "a", "b", "go"))
    timeline.steps.append(StepResult(1, "t", StepStatus.PASSED, "ok", {"m": 1.5}))
    data = timeline.to_dict()
    assert data["beats"][0]["at_ms"] == 250.0
    assert data["steps"][0] == {
        "number": 1,
        "title": "t",
        "status": "passed",
        "detail": "ok",
        "measurements": {"m": 1.5},
    }
