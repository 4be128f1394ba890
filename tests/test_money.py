"""Tests for tui_billing.money (integer-cents helpers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_billing import money
from tui_billing.money import (
    MAX_CENTS,
    MoneyError,
    cents_to_decimal,
    format_cents,
    parse_cents,
    split_cents,
)

cents_in_range = st.integers(min_value=-MAX_CENTS, max_value=MAX_CENTS)


# ---------------------------------------------------------------- parse_cents


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("125", 12500),
        ("125.5", 12550),
        ("125.50", 12550),
        ("125.", 12500),
        ("$1,250.00", 125000),
        ("1,250", 125000),
        ("1,234,567.89", 123456789),
        ("9,999,999.99", 999999999),
        (" 12 ", 1200),
        ("\t12.3\n", 1230),
        (".50", 50),
        (".5", 50),
        ("$.05", 5),
        ("0", 0),
        ("0.00", 0),
        ("007.10", 710),
        ("0.29", 29),  # 0.29 * 100 == 28.999999999999996 in float
        ("1.13", 113),  # 1.13 * 100 == 112.99999999999999 in float
        ("10000000", MAX_CENTS),
        ("$10,000,000.00", MAX_CENTS),
    ],
)
def test_parse_accepts(text: str, expected: int) -> None:
    assert parse_cents(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("-5", -500), ("-5.00", -500), ("-$5.00", -500), ("$-5", -500), ("-.05", -5),
     ("-$10,000,000.00", -MAX_CENTS)],
)
def test_parse_negative_when_allowed(text: str, expected: int) -> None:
    assert parse_cents(text, allow_negative=True) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12.345", "at most two decimals (cents)"),
        ("0.001", "at most two decimals (cents)"),
        ("abc", "only contain digits"),
        ("12a", "only contain digits"),
        ("1e3", "only contain digits"),
        ("1 250", "a space"),
        ("+5", "only contain digits"),
        ("1,25.00", "commas must group thousands"),
        ("12,50", "commas must group thousands"),
        ("1,2345", "commas must group thousands"),
        ("0,125", "commas must group thousands"),
        (",125", "commas must group thousands"),
        ("1,", "commas must group thousands"),
        ("1.000,00", "commas must group thousands"),
        ("1.2.3", "more than one decimal point"),
        ("..5", "more than one decimal point"),
        (".", "not an amount"),
        ("$", "not an amount"),
        ("-", "not an amount"),
        ("$$5", "only contain digits"),
        ("--5", "only contain digits"),
        ("5-", "only contain digits"),
        ("10000000.01", "over the $10,000,000.00 ceiling"),
        ("$20,000,000.00", "over the $10,000,000.00 ceiling"),
        ("9" * 5000, "over the $10,000,000.00 ceiling"),
        ("-5", "negative"),
        ("-$5.00", "negative"),
        ("١٢٣", "digits 0-9"),  # Arabic-Indic
        ("۱۲۳", "digits 0-9"),  # Extended Arabic-Indic (Persian)
        ("１２３", "digits 0-9"),  # full width
        ("12.٥٠", "digits 0-9"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(MoneyError) as info:
        parse_cents(text)
    assert fragment in str(info.value)


def test_parse_zero_rules() -> None:
    with pytest.raises(MoneyError, match="more than zero"):
        parse_cents("0.00", allow_zero=False)
    with pytest.raises(MoneyError, match="more than zero"):
        parse_cents("-0", allow_zero=False, allow_negative=True)
    # "-0" is zero, not a negative amount.
    assert parse_cents("-0.00") == 0
    assert parse_cents("0.01", allow_zero=False) == 1


def test_parse_rejects_non_text() -> None:
    with pytest.raises(MoneyError):
        parse_cents(12.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        parse_cents(None)  # type: ignore[arg-type]


def test_money_error_is_value_error() -> None:
    assert issubclass(MoneyError, ValueError)


def test_parse_never_calls_float(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_float(*_a: object) -> float:
        raise AssertionError("float() used in money parsing")

    monkeypatch.setattr(money, "float", no_float, raising=False)
    assert parse_cents("$1,234,567.89") == 123456789
    assert "Decimal" not in vars(money)


@given(cents_in_range)
def test_format_parse_round_trip(cents: int) -> None:
    for text in (
        format_cents(cents),
        format_cents(cents, symbol=True),
        format_cents(cents, commas=False),
        format_cents(cents, commas=False, symbol=True),
        cents_to_decimal(cents),
    ):
        assert parse_cents(text, allow_negative=True) == cents


@given(st.integers(min_value=MAX_CENTS + 1, max_value=10**30), st.booleans())
def test_parse_refuses_over_ceiling(cents: int, negative: bool) -> None:
    value = -cents if negative else cents
    with pytest.raises(MoneyError, match="ceiling"):
        parse_cents(format_cents(value), allow_negative=True)


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=3),
)
def test_parse_never_accepts_three_decimals(whole: int, frac: int, extra: int) -> None:
    text = f"{whole}.{frac:03d}" + "0" * extra
    with pytest.raises(MoneyError, match="at most two decimals"):
        parse_cents(text, allow_negative=True)


@given(st.text())
def test_random_text_only_raises_money_error(text: str) -> None:
    try:
        value = parse_cents(text, allow_negative=True)
    except MoneyError:
        return
    assert isinstance(value, int) and abs(value) <= MAX_CENTS


@given(st.text(alphabet="0123456789,.$- ", max_size=20))
def test_amountish_text_only_raises_money_error(text: str) -> None:
    try:
        value = parse_cents(text, allow_negative=True)
    except MoneyError:
        return
    assert isinstance(value, int) and abs(value) <= MAX_CENTS
    # Whatever was accepted is re-printable and re-parses to itself.
    assert parse_cents(format_cents(value), allow_negative=True) == value


@given(st.characters(categories=["Nd"]).filter(lambda c: not c.isascii()))
def test_non_ascii_digits_refused(digit: str) -> None:
    with pytest.raises(MoneyError):
        parse_cents(digit * 3)
    with pytest.raises(MoneyError):
        parse_cents("1" + digit + ".00")


# ---------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("cents", "kwargs", "expected"),
    [
        (125000, {}, "1,250.00"),
        (-500, {}, "-5.00"),
        (125000, {"symbol": True}, "$1,250.00"),
        (-500, {"symbol": True}, "-$5.00"),
        (125000, {"commas": False}, "1250.00"),
        (0, {}, "0.00"),
        (5, {}, "0.05"),
        (-5, {}, "-0.05"),
        (MAX_CENTS, {"symbol": True}, "$10,000,000.00"),
        (123456789012, {}, "1,234,567,890.12"),  # totals may exceed the ceiling
    ],
)
def test_format_cents(cents: int, kwargs: dict[str, bool], expected: str) -> None:
    assert format_cents(cents, **kwargs) == expected


@pytest.mark.parametrize(
    ("cents", "expected"),
    [(125000, "1250.00"), (-5, "-0.05"), (0, "0.00"), (100, "1.00"), (-123456, "-1234.56")],
)
def test_cents_to_decimal(cents: int, expected: str) -> None:
    assert cents_to_decimal(cents) == expected


@pytest.mark.parametrize("bad", [1.5, 100.0, "100", None, True])
def test_format_refuses_non_int(bad: object) -> None:
    with pytest.raises(TypeError):
        format_cents(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cents_to_decimal(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- split_cents


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (1000, 3, [334, 333, 333]),
        (-1000, 3, [-334, -333, -333]),
        (100, 1, [100]),
        (2, 4, [1, 1, 0, 0]),
        (0, 3, [0, 0, 0]),
        (1000, [1, 2], [333, 667]),
        (100, [1, 1, 1], [34, 33, 33]),
        (5, [0, 1, 1], [0, 3, 2]),
        (1000, [50, 30, 20], [500, 300, 200]),
        (-101, [1, 1], [-51, -50]),
        (10, [0, 0, 7], [0, 0, 10]),
    ],
)
def test_split_examples(total: int, weights: list[int] | int, expected: list[int]) -> None:
    assert split_cents(total, weights) == expected


@given(st.integers(-10**12, 10**12), st.integers(1, 200))
def test_equal_split_sums_and_is_even(total: int, n: int) -> None:
    parts = split_cents(total, n)
    assert len(parts) == n
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1
    # Never mixes signs.
    assert all(p >= 0 for p in parts) or all(p <= 0 for p in parts)


@given(
    st.integers(-10**12, 10**12),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
)
def test_weighted_split_sums_and_is_proportional(total: int, weights: list[int]) -> None:
    parts = split_cents(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    w_sum = sum(weights)
    for part, w in zip(parts, weights, strict=False):
        # Each part is within one cent of its exact share.
        assert abs(part * w_sum - total * w) < w_sum
        if w == 0:
            assert part == 0


@given(st.integers(-10**9, 10**9), st.lists(st.integers(0, 1000), min_size=1, max_size=10))
def test_split_sign_symmetry(total: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        return
    assert split_cents(-total, weights) == [-p for p in split_cents(total, weights)]


@pytest.mark.parametrize("weights", [0, -2, [], [0, 0], [1, -1], [3, -1]])
def test_split_refuses_bad_weights(weights: list[int] | int) -> None:
    with pytest.raises(MoneyError):
        split_cents(100, weights)


@pytest.mark.parametrize(
    ("total", "weights"), [(1.5, 2), (100, 2.0), (100, [1.0, 1]), (100, True), (True, 2)]
)
def test_split_refuses_non_int(total: object, weights: object) -> None:
    with pytest.raises(TypeError):
        split_cents(total, weights)  # type: ignore[arg-type]


def test_split_does_not_mutate_weights() -> None:
    weights = [1, 2, 3]
    split_cents(100, weights)
    assert weights == [1, 2, 3]
