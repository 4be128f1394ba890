"""Tests for tui_billing.codes (ICD-10-CM, CPT/HCPCS, modifiers, POS, NPI)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_billing import codes
from tui_billing.codes import (
    COMMON_ICD10,
    KNOWN_MODIFIERS,
    POS_CODES,
    CodeError,
    Icd10,
    icd10_description,
    icd10_format_ok,
    npi_check_digit,
    npi_is_valid,
    validate_icd10,
    validate_modifier,
    validate_npi,
    validate_pos,
    validate_procedure_code,
)

# simple_icd_10_cm 1.5 loads its data with deprecated importlib.resources
# calls; that noise is not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def icd_loaded() -> None:
    """Load ICD-10-CM once for the module, from several threads at once (the
    load must happen once and every caller must see the same tables)."""
    results: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            codes.warm_icd10()
            results.append(validate_icd10("E11.9"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 6 and len(set(results)) == 1
    assert codes.icd10_ready()


# ---------------------------------------------------------------- lazy import


def test_module_import_and_format_check_do_not_load_icd() -> None:
    script = (
        "import sys\n"
        "from tui_billing import codes\n"
        "assert codes.icd10_format_ok('e11.9')\n"
        "codes.validate_npi('1234567893'); codes.validate_pos('11')\n"
        "codes.validate_procedure_code('99213'); codes.validate_modifier('25')\n"
        "assert 'simple_icd_10_cm' not in sys.modules\n"
        "assert not codes.icd10_ready()\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=60)


def test_no_textual_or_db_imports() -> None:
    source = (REPO / "tui_billing" / "codes.py").read_text()
    money_source = (REPO / "tui_billing" / "money.py").read_text()
    for text in (source, money_source):
        assert "import textual" not in text and "from textual" not in text
        assert "peewee" not in text


# ---------------------------------------------------------------- ICD-10-CM


def test_icd10_result_type() -> None:
    result = validate_icd10("E11.9")
    assert result == Icd10(
        code="E119",
        dotted="E11.9",
        description="Type 2 diabetes mellitus without complications",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.code = "X"  # type: ignore[misc]


@pytest.mark.parametrize("text", ["E11.9", "E119", "e11.9", "e119", "  E11.9 ", "\tE119\n"])
def test_icd10_dot_case_spaces(text: str) -> None:
    assert validate_icd10(text).code == "E119"
    assert validate_icd10(text).dotted == "E11.9"


@pytest.mark.parametrize(
    ("text", "code", "dotted"),
    [
        ("I10", "I10", "I10"),  # three-character billable category
        ("R42", "R42", "R42"),
        ("Z23", "Z23", "Z23"),
        ("B20", "B20", "B20"),  # block and category share the name B20
        ("F32.A", "F32A", "F32.A"),  # letter in the 5th position
        ("C4A.0", "C4A0", "C4A.0"),  # letter in the 3rd position
        ("O9A.211", "O9A211", "O9A.211"),
        ("S52.521A", "S52521A", "S52.521A"),  # 7th-character extension
        ("s52521a", "S52521A", "S52.521A"),
        ("S01.00XA", "S0100XA", "S01.00XA"),  # placeholder X
        ("T36.0X1A", "T360X1A", "T36.0X1A"),  # X in the middle
        ("W55.01XA", "W5501XA", "W55.01XA"),
        ("T50.901A", "T50901A", "T50.901A"),
        ("M54.50", "M5450", "M54.50"),
        ("qa0.0101", "QA00101", "QA0.0101"),  # letter in the 2nd position (new in 2026)
    ],
)
def test_icd10_billable(text: str, code: str, dotted: str) -> None:
    result = validate_icd10(text)
    assert (result.code, result.dotted) == (code, dotted)
    assert result.description


def test_icd10_extension_description() -> None:
    assert validate_icd10("S01.00XA").description == (
        "Unspecified open wound of scalp, initial encounter"
    )
    assert icd10_description("s0100xd").endswith("subsequent encounter")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("E11", "E11 is a category, not billable; e.g. E11.9"),
        ("e11.", "E11 is a category, not billable; e.g. E11.9"),
        ("B99", "B99 is a category, not billable; e.g. B99.9"),
        ("S52.521", "S52.521 is a subcategory, not billable; e.g. S52.521A"),
        ("S01.00", "S01.00 is a subcategory, not billable; e.g. S01.00XA"),
        ("E11.6", "E11.6 is a subcategory, not billable; e.g. E11.69"),
        # an X that is a level of the code set, not a placeholder (S01.00X is not a heading)
        ("H21.1X", "H21.1X is a subcategory, not billable; e.g. H21.1X9"),
    ],
)
def test_icd10_category_refused(text: str, message: str) -> None:
    with pytest.raises(CodeError) as info:
        validate_icd10(text)
    assert str(info.value) == message


def test_icd10_category_example_is_billable() -> None:
    for category in ("S52", "T36", "M54", "Z00", "O30", "J45"):
        with pytest.raises(CodeError) as info:
            validate_icd10(category)
        example = str(info.value).split("e.g. ")[1]
        assert validate_icd10(example).dotted == example
        assert example.startswith(category)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("E99.99", "E99.99 is not an ICD-10-CM code"),
        ("E11.9X", "E11.9X is not an ICD-10-CM code"),
        ("S01.00X", "S01.00X is not an ICD-10-CM code"),  # placeholder without extension
        ("S52.521Z", "S52.521Z is not an ICD-10-CM code"),  # bad 7th character
        ("T40.21XA", "T40.21XA is not an ICD-10-CM code"),
        ("EE1.9", "EE1.9 is not an ICD-10-CM code"),
    ],
)
def test_icd10_unknown(text: str, message: str) -> None:
    with pytest.raises(CodeError) as info:
        validate_icd10(text)
    assert str(info.value) == message


def test_icd10_missing_placeholder_hint() -> None:
    with pytest.raises(CodeError, match=r"did you mean S01\.00XA\?"):
        validate_icd10("S01.00A")
    with pytest.raises(CodeError, match=r"did you mean W55\.01XA\?"):
        validate_icd10("w5501a")


@pytest.mark.parametrize(
    "text",
    [
        "", "  ", "E", "E1", "1", "22", "A00-A09", "C00-C96", "E.119", "E1.19",
        "E11..9", "E11.9.", "E11 9", "E11.90000", "11.9E", "E11-9",
        "ｅ11.9", "Е11.9",  # full width e; Cyrillic capital Ie
        "E١١.9",  # Arabic-Indic digits
    ],
)
def test_icd10_bad_shape(text: str) -> None:
    assert not icd10_format_ok(text)
    with pytest.raises(CodeError):
        validate_icd10(text)


def test_icd10_non_ascii_lookalikes_refused() -> None:
    # str.upper() maps these onto ASCII letters; they must still be refused.
    for text in ("ı10", "ſ52.521a"):
        assert text.upper().isascii()
        assert not icd10_format_ok(text)
        with pytest.raises(CodeError):
            validate_icd10(text)


def test_icd10_chapters_and_blocks_refused() -> None:
    # The library treats chapters ("1".."22") and blocks ("C00-C96") as valid
    # items, and some blocks as leaves; they must never pass as billable.
    cm = codes._icd()
    assert cm.is_valid_item("C00-C96") and cm.is_leaf("C00-C96")
    assert cm.is_valid_item("1")
    for text in ("C00-C96", "1", "I10-I1A"):
        with pytest.raises(CodeError):
            validate_icd10(text)


def test_icd10_every_code_in_the_library() -> None:
    """Exhaustive: every leaf with a code shape is accepted (and round-trips);
    every non-leaf code is refused as a (sub)category."""
    cm = codes._icd()
    accepted = refused = 0
    for dotted in set(cm.get_all_codes(with_dots=True)):
        if not icd10_format_ok(dotted):
            assert "-" in dotted or dotted.isdigit(), dotted  # blocks/chapters
            continue
        if cm.is_leaf(dotted):
            result = validate_icd10(dotted)
            assert result.dotted == dotted
            assert validate_icd10(result.code) == result
            accepted += 1
        else:
            with pytest.raises(CodeError, match="not billable") as info:
                validate_icd10(dotted)
            example = str(info.value).split("e.g. ")[1]
            assert example.startswith(dotted) and cm.is_leaf(example), (dotted, example)
            refused += 1
    assert accepted > 70_000
    assert refused > 15_000


def test_common_icd10_all_billable() -> None:
    assert 40 <= len(COMMON_ICD10) <= 60
    assert len(set(COMMON_ICD10)) == len(COMMON_ICD10)
    for dotted in COMMON_ICD10:
        assert validate_icd10(dotted).dotted == dotted, dotted
    assert {"I10", "E11.9", "J06.9", "Z00.00", "M54.50"} <= set(COMMON_ICD10)


def test_icd10_description() -> None:
    assert icd10_description("i10") == "Essential (primary) hypertension"
    with pytest.raises(CodeError):
        icd10_description("E11")


@given(st.text(max_size=12))
@settings(max_examples=300)
def test_icd10_random_text_only_raises_code_error(text: str) -> None:
    ok = icd10_format_ok(text)
    try:
        result = validate_icd10(text)
    except CodeError:
        return
    assert ok
    assert result.code == text.strip().upper().replace(".", "")


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9]{2}\.?[A-Za-z0-9]{0,4}", fullmatch=True))
@settings(max_examples=300)
def test_icd10_codeish_text_only_raises_code_error(text: str) -> None:
    try:
        validate_icd10(text)
    except CodeError:
        pass


# ---------------------------------------------------------------- procedures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("99213", "99213"),
        (" 99213 ", "99213"),
        ("00100", "00100"),
        ("3074f", "3074F"),  # Category II
        ("0042T", "0042T"),  # Category III
        ("0001U", "0001U"),  # PLA
        ("0002M", "0002M"),  # MAAA
        ("0001A", "0001A"),  # vaccine administration
        ("G0439", "G0439"),
        ("j1100", "J1100"),
        ("A4253", "A4253"),
        ("D0120", "D0120"),  # dental range of HCPCS
        ("V2020", "V2020"),
        ("U0003", "U0003"),
        ("M1146", "M1146"),
    ],
)
def test_procedure_ok(text: str, expected: str) -> None:
    assert validate_procedure_code(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("9921", "not a procedure code"),
        ("992130", "not a procedure code"),
        ("ABCDE", "not a procedure code"),
        ("G043", "not a procedure code"),
        ("1234X", "must end in F, T, U, M or A"),
        ("1234B", "must end in F, T, U, M or A"),
        ("I1234", "never start with I"),
        ("O1234", "digit 0"),
        ("W1234", "never start with W"),
        ("Z1234", "never start with Z"),
        ("F1234", "never start with F"),
        ("N1234", "never start with N"),
        ("99213-25", "modifiers go in their own fields"),
        ("99213 25", "modifiers go in their own fields"),
        ("９９２１３", "plain letters"),
        ("٩٩٢١٣", "plain letters"),
    ],
)
def test_procedure_refused(text: str, fragment: str) -> None:
    with pytest.raises(CodeError) as info:
        validate_procedure_code(text)
    assert fragment in str(info.value)


@given(st.from_regex(r"[0-9]{5}", fullmatch=True))
def test_any_five_digits_is_cpt(text: str) -> None:
    assert validate_procedure_code(text) == text


@given(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), st.from_regex(r"[0-9]{4}", fullmatch=True))
def test_hcpcs_letters(letter: str, digits: str) -> None:
    code = letter + digits
    if letter in "ABCDEGHJKLMPQRSTUV":
        assert validate_procedure_code(code.lower()) == code
    else:
        with pytest.raises(CodeError):
            validate_procedure_code(code)


@given(st.text(max_size=10))
def test_procedure_random_text(text: str) -> None:
    try:
        result = validate_procedure_code(text)
    except CodeError:
        return
    assert len(result) == 5 and result.isascii() and result.isalnum()


# ---------------------------------------------------------------- modifiers


def test_known_modifiers_are_valid() -> None:
    for mod in ("25", "59", "76", "77", "91", "26", "TC", "LT", "RT", "50", "51",
                "GA", "GY", "GZ", "XE", "XS", "XP", "XU", "95", "GT", "FS", "KX", "QW"):
        assert mod in KNOWN_MODIFIERS
    for mod, text in KNOWN_MODIFIERS.items():
        assert validate_modifier(mod) == mod
        assert text and len(text) < 80


@pytest.mark.parametrize(("text", "expected"), [("lt", "LT"), (" 25 ", "25"), ("ZZ", "ZZ"), ("u1", "U1")])
def test_modifier_ok(text: str, expected: str) -> None:
    assert validate_modifier(text) == expected


@pytest.mark.parametrize("text", ["", "2", "255", "-25", "L T", "L-", "２５", "ıT"])
def test_modifier_refused(text: str) -> None:
    with pytest.raises(CodeError):
        validate_modifier(text)


@given(st.text(max_size=4))
def test_modifier_random_text(text: str) -> None:
    try:
        result = validate_modifier(text)
    except CodeError:
        return
    assert len(result) == 2 and result.isascii() and result.isalnum() and result == result.upper()


# ---------------------------------------------------------------- place of service

UNASSIGNED_POS = (
    [28, 29, 30] + list(range(35, 41)) + list(range(43, 49)) + [59, 63, 64]
    + list(range(67, 71)) + list(range(73, 81)) + list(range(82, 99))
)


def test_pos_table() -> None:
    assert all(len(k) == 2 and k.isdigit() for k in POS_CODES)
    assert len(POS_CODES) == 52
    expected = {f"{n:02d}" for n in range(1, 100)} - {f"{n:02d}" for n in UNASSIGNED_POS}
    assert set(POS_CODES) == expected
    for code in ("02", "10", "11", "12", "19", "20", "21", "22", "23", "31", "32", "81", "99"):
        assert code in POS_CODES


@pytest.mark.parametrize(("text", "expected"), [("11", "11"), ("9", "09"), ("09", "09"), (" 2 ", "02"), ("99", "99")])
def test_pos_ok(text: str, expected: str) -> None:
    assert validate_pos(text) == expected


@pytest.mark.parametrize("n", UNASSIGNED_POS + [0])
def test_pos_unassigned(n: int) -> None:
    with pytest.raises(CodeError, match="not an assigned CMS code"):
        validate_pos(str(n))


@pytest.mark.parametrize("text", ["", "011", "1a", "-1", "11.0", "١١", "office"])
def test_pos_bad_shape(text: str) -> None:
    with pytest.raises(CodeError):
        validate_pos(text)


# ---------------------------------------------------------------- NPI


def _reference_check_digit(first9: str) -> int:
    """CMS's documented shortcut: double alternate digits of the 9-digit
    stem from the right, add 24 for the 80840 prefix."""
    total = 24
    for i, ch in enumerate(reversed(first9)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def test_npi_known() -> None:
    assert npi_check_digit("123456789") == 3
    assert validate_npi("1234567893") == "1234567893"
    assert validate_npi(" 1234567893 ") == "1234567893"
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("1234567890")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("123456789", "exactly 10 digits, not 9"),
        ("12345678930", "exactly 10 digits, not 11"),
        ("123456789X", "10 digits, nothing else"),
        ("1234-567893", "10 digits, nothing else"),
        ("3234567893", "starts with 1 or 2"),
        ("1234567890", "check digit"),
        ("１２３４５６７８９３", "plain letters"),
    ],
)
def test_npi_refused(text: str, fragment: str) -> None:
    with pytest.raises(CodeError) as info:
        validate_npi(text)
    assert fragment in str(info.value)
    assert not npi_is_valid(text)


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"])
def test_npi_check_digit_needs_nine_digits(bad: str) -> None:
    with pytest.raises(CodeError):
        npi_check_digit(bad)


nine_digit_stems = st.tuples(
    st.sampled_from("12"), st.from_regex(r"[0-9]{8}", fullmatch=True)
).map("".join)


@given(nine_digit_stems)
def test_npi_generated_stems_validate(stem: str) -> None:
    check = npi_check_digit(stem)
    assert check == _reference_check_digit(stem)
    npi = stem + str(check)
    assert validate_npi(npi) == npi
    assert npi_is_valid(npi)


@given(nine_digit_stems, st.integers(0, 9), st.integers(1, 9))
def test_npi_single_digit_change_fails(stem: str, position: int, delta: int) -> None:
    npi = stem + str(npi_check_digit(stem))
    changed = npi[:position] + str((int(npi[position]) + delta) % 10) + npi[position + 1:]
    assert changed != npi
    assert not npi_is_valid(changed)


@given(st.text(max_size=12))
def test_npi_random_text(text: str) -> None:
    assert isinstance(npi_is_valid(text), bool)


def test_code_error_is_value_error() -> None:
    assert issubclass(CodeError, ValueError)


def test_billable_cache_round_trip(tmp_path, monkeypatch):
    """The cache files hold the library's billable codes and headings; a later start validates from them alone."""
    from tui_billing import codes

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(codes, "_tables", {})
    built = codes._table("billable")
    path = codes._cache_path()
    assert path.exists() and path.parent.parent == tmp_path
    assert codes._cache_path("headings").exists()  # one build writes both files
    assert built["E119"] == "Type 2 diabetes mellitus without complications"
    assert "E11" not in built and "C00-C96" not in built and "QA00101" in built
    headings = codes._table("headings")
    assert headings["E11"] == "E119" and headings["S0100"] == "S0100XA"
    assert "S0100X" not in headings and "E119" not in headings and "C00-C96" not in headings

    monkeypatch.setattr(codes, "_tables", {})
    monkeypatch.setattr(codes, "_build_tables", lambda: pytest.fail("rebuilt despite the cache"))
    monkeypatch.setattr(codes, "_icd", lambda: pytest.fail("the whole code set loaded"))
    assert codes.validate_icd10("s52.521a").dotted == "S52.521A"
    # refusals explain themselves from the cached headings, never by loading the code set
    with pytest.raises(codes.CodeError, match=r"E11 is a category, not billable; e\.g\. E11\.9$"):
        codes.validate_icd10("E11")
    with pytest.raises(codes.CodeError, match=r"did you mean S01\.00XA\?"):
        codes.validate_icd10("S01.00A")


@pytest.mark.parametrize("text", ["{not json", "[]"])
def test_unreadable_cache_is_rebuilt(tmp_path, monkeypatch, text):
    from tui_billing import codes

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = codes._cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    monkeypatch.setattr(codes, "_tables", {})
    assert codes.validate_icd10("I10").description.startswith("Essential")
    assert json.loads(path.read_text())["I10"]
