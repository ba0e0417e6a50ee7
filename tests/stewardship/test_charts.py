"""Chart geometry: bars point the right way and scale to round axis maxima."""
from __future__ import annotations

from stewardship import charts


def test_axis_maxima_are_round_numbers():
    assert [charts.nice_max(v) for v in (0, 0.7, 3, 7, 13, 260)] == [1.0, 1.0, 5.0, 10.0, 20.0, 500.0]


def test_positive_weights_go_right_of_zero_and_negative_ones_left():
    chart = charts.explanation_chart({"prior_weight": -2, "match_weight": 4, "comparisons": [
        {"name": "name", "level": "exact", "weight": 5}, {"name": "city", "level": "else", "weight": 1 - 0}]})
    prior, name, city, total = chart["rows"]
    assert prior["x"] + prior["w"] == chart["zero"] and not prior["positive"]
    assert name["x"] == chart["zero"] and name["w"] > city["w"]
    assert total["label"] == "total match weight" and total["weight_text"] == "+4.00"


def test_no_explanation_means_no_chart():
    assert charts.explanation_chart(None) is None and charts.explanation_chart({"comparisons": []}) is None


def test_histogram_stacks_states_within_a_bin():
    chart = charts.histogram({0: {"no_match": 3}, 19: {"match": 1, "possible": 1}}, 20)
    top = chart["columns"][19]["parts"]
    assert [p["state"] for p in top] == ["possible", "match"] and top[1]["y"] < top[0]["y"]
