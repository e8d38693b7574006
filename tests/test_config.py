"""URL values -> valid control values, with a note whenever something was changed."""

import pytest

from rnnviz.config import DEFAULT, PARAMS, parse_param, url_value


@pytest.mark.parametrize("name,raw,value", [
    ("cell", "gru", "gru"), ("cell", "GRU", "gru"), ("cell", "RNN (ReLU)", "rnn-relu"),
    ("hidden", "12", 12), ("radius", "1.25", 1.25), ("present", "true", True), ("present", "0", False),
    ("text", "abc", "abc"), ("length", "7.0", 7),
])
def test_valid_values_are_read_without_a_note(name, raw, value):
    assert parse_param(name, raw) == (value, None)


@pytest.mark.parametrize("name,raw,value,note", [
    ("cell", "foo", "lstm", "cell=foo is not one of"),
    ("hidden", "100000", 64, "hidden=100000 is outside 1–64; using 64"),
    ("hidden", "-3", 1, "outside 1–64; using 1"),
    ("hidden", "abc", 8, "hidden=abc is not a number; using 8"),
    ("radius", "nan", 1.0, "not a finite number"),
    ("radius", "9", 2.0, "outside 0.1–2; using 2"),
    ("present", "maybe", False, "not true or false"),
    ("text", "x" * 10_000, "x" * 500, "text had 10,000 characters; kept the first 500"),
    ("text", "   ", DEFAULT.text, "text was empty"),
])
def test_bad_values_are_clamped_or_replaced_with_a_note(name, raw, value, note):
    got, message = parse_param(name, raw)
    assert got == value and note in message


def test_every_default_round_trips_through_the_url():
    for name, param in PARAMS.items():
        assert parse_param(name, url_value(param, param.default)) == (param.default, None)


def test_long_raw_values_are_shortened_in_notes():
    _, note = parse_param("cell", "z" * 300)
    assert len(note) < 120
