from metad2a.space import all_archs, canonical_form, isomorphism_form, unique_cells, zero_unreachable


def test_counts():
    archs = all_archs()
    assert len({canonical_form(a) for a in archs}) == 6466
    assert len(unique_cells()) == 6466
    assert len({isomorphism_form(a) for a in archs}) == 8765
    assert len(unique_cells(isomorphism=True)) == 8765
    assert sum(zero_unreachable(a) == a for a in archs) == 9445


def test_isomorphic_pairs_share_form():
    # Swapping the two intermediate nodes when no edge joins them.
    a = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|"
    b = "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"
    assert isomorphism_form(a) == isomorphism_form(b)
    # The NB201 convention keeps zero terms, so it does not equate this swap: it is coarser
    # than isomorphism elsewhere (skip chains) but not a superset of it.
    assert canonical_form(a) != canonical_form(b)
    # A dead branch changes nothing.
    c = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
    d = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
    assert zero_unreachable(d) == c
    assert canonical_form(c) == canonical_form(d)
    assert isomorphism_form(c) == isomorphism_form(d)


def test_non_isomorphic_pairs_differ():
    a = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
    b = "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
    c = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    forms = {canonical_form(x) for x in (a, b, c)}
    assert len(forms) == 3
    assert len({isomorphism_form(x) for x in (a, b, c)}) == 3


def test_skip_chain_equivalent_to_direct_skip():
    # NB201 convention (not plain isomorphism): skip->skip equals a single skip.
    a = "|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
    b = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert canonical_form(a) == canonical_form(b)
    assert isomorphism_form(a) != isomorphism_form(b)
