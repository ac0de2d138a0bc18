import csv
import random

import pytest

from metad2a.errors import InvalidArchError
from metad2a.space import (
    NUM_CELLS,
    all_archs,
    arch_to_index,
    format_cell,
    from_naslib,
    index_to_arch,
    parse,
    to_naslib,
)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_parse_format_round_trip_all():
    archs = all_archs()
    assert len(archs) == NUM_CELLS == 15625
    assert len(set(archs)) == 15625
    for a in archs[::97]:
        assert format_cell(parse(a)) == a


def test_parse_known():
    assert parse(BEST) == ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3")


def test_naslib_round_trip_and_known_ids():
    # e01=conv3x3(2), e02=conv3x3(2), e03=skip(0), e12=conv3x3(2), e13=conv3x3(2), e23=conv3x3(2)
    assert to_naslib(BEST) == (2, 2, 0, 2, 2, 2)
    assert from_naslib((2, 2, 0, 2, 2, 2)) == BEST
    for a in all_archs()[::31]:
        assert from_naslib(to_naslib(a)) == a


@pytest.mark.parametrize(
    "bad, token",
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|conv~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "conv~1"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~2|+|skip_connect~0|nor_conv_3x3~1|none~2|", "nor_conv_3x3~2"),
        ("|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_3x3"),
    ],
)
def test_malformed_names_bad_token(bad, token):
    with pytest.raises(InvalidArchError) as e:
        parse(bad)
    assert repr(token) in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", ["", "hello", "|none~0|+|none~0|none~1|", 42, "|none~0|+|none~0|+|none~0|none~1|none~2|"])
def test_malformed_structure(bad):
    with pytest.raises(InvalidArchError):
        parse(bad)


def test_bad_naslib_tuple():
    with pytest.raises(InvalidArchError, match="0..4"):
        from_naslib((0, 1, 2, 3, 4, 5))


def test_index_agrees_with_shared_table(shared_data):
    table = shared_data / "nb201" / "nb201_test_accuracy.csv"
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15625
    for r in rows:
        assert index_to_arch(int(r["index"])) == r["arch"]
        assert arch_to_index(r["arch"]) == int(r["index"])
    # string <-> tuple <-> index round trip on a sample
    for i in random.Random(0).sample(range(15625), 200):
        assert arch_to_index(from_naslib(to_naslib(index_to_arch(i)))) == i


def test_index_out_of_range():
    with pytest.raises(InvalidArchError, match="0..15624"):
        index_to_arch(15625)
