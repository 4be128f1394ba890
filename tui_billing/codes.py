"""Medical code sets: ICD-10-CM, CPT/HCPCS, modifiers, place of service, NPI.

Pure helpers (no UI, no database). Every ``validate_*`` function returns the
normalised code or raises :class:`CodeError` with a message a clerk can act on.

ICD-10-CM comes from the ``simple_icd_10_cm`` package. Importing it parses a
~10 MB XML file (about 1.5 s, 180 MB), so it is imported only to build a small
per-release cache of the billable codes, which answers every check and refusal
after that (~30 ms to load); a UI should call :func:`warm_icd10` from a
background thread at start-up.

No CPT descriptions appear here: CPT text is copyrighted by the AMA. Modifier
and place-of-service descriptions are short summaries in our own words.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .text import inert

__all__ = [
    "COMMON_ICD10",
    "CodeError",
    "Icd10",
    "KNOWN_MODIFIERS",
    "POS_CODES",
    "icd10_description",
    "icd10_format_ok",
    "icd10_ready",
    "npi_check_digit",
    "npi_is_valid",
    "validate_icd10",
    "validate_modifier",
    "validate_npi",
    "validate_pos",
    "validate_procedure_code",
    "warm_icd10",
]


class CodeError(ValueError):
    """A code was refused; the message tells the clerk what to fix."""


def _shown(text: str) -> str:
    """Clip user text for use inside an error message, with control characters made inert.

    The message is printed to terminals (import errors on stderr, inline field errors), so an
    escape sequence typed or imported as a "code" must not reach the terminal as one.
    """
    text = text if len(text) <= 30 else text[:27] + "..."
    return inert(text)


def _clean(code: object, what: str) -> str:
    """Strip and upper-case ``code``; refuse non-text and non-ASCII input.

    The ASCII check comes *before* ``upper()`` on purpose: ``str.upper`` maps
    some non-ASCII letters onto ASCII ones (``"ı".upper() == "I"``,
    ``"ſ".upper() == "S"``, ``"ﬁ".upper() == "FI"``), which would let lookalike
    text through.
    """
    if not isinstance(code, str):
        raise CodeError(f"{what} must be text, not {type(code).__name__}")
    text = code.strip()
    if not text:
        raise CodeError(f"{what} is empty")
    if not text.isascii():
        raise CodeError(
            f"'{_shown(text)}': {what} may only use plain letters A-Z and digits 0-9"
        )
    return text.upper()


# ---------------------------------------------------------------------------
# ICD-10-CM
# ---------------------------------------------------------------------------

_icd_lock = threading.Lock()
_icd_module: ModuleType | None = None

# A letter, then two letters-or-digits, then up to 4 letters-or-digits; the
# optional dot may only sit after the third character (a bare trailing dot,
# "E11.", is tolerated so the clerk gets the "category" message). ASCII only.
# The second character is usually a digit, but not always: the April 2026
# code set has category QA0 (genetic neurodevelopmental disorders, billable
# codes such as QA0.0101), so "letter, digit, ..." would refuse real codes.
_ICD10_RE = re.compile(r"[A-Z][A-Z0-9]{2}(?:\.?[A-Z0-9]{1,4}|\.)?")


def _icd() -> ModuleType:
    """Return the loaded ``simple_icd_10_cm`` module, loading it once.

    Thread-safe: concurrent callers wait for the single load.
    """
    global _icd_module
    module = _icd_module
    if module is not None:
        return module
    with _icd_lock:
        if _icd_module is None:
            # The package emits DeprecationWarnings (importlib.resources
            # read_text/open_text) while loading. They are ignored by Python's
            # default filters; we deliberately do not use
            # warnings.catch_warnings() here because it mutates process-wide
            # state and is not thread-safe (this runs in a worker thread).
            import simple_icd_10_cm

            _icd_module = simple_icd_10_cm
        return _icd_module


# The code set is kept in two small cache files per release, made from the library once:
# the billable codes with their descriptions (loaded at start, ~30 ms and ~15 MB, against
# ~1.5 s of CPU and ~180 MB to parse the library's XML), and the headings (categories and
# subcategories) with a billable code below each, which explain a refusal (a few ms to load).
_tables_lock = threading.Lock()
_tables: dict[str, dict[str, str]] = {}


def _code_set_key() -> str:
    """Names the installed code-set release (its data files' names and sizes) without importing it."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise ModuleNotFoundError("the ICD-10-CM code set (simple_icd_10_cm) is not installed", name="simple_icd_10_cm")
    folder = Path(next(iter(locations))) / "data"
    files = sorted(f"{p.name}:{p.stat().st_size}" for p in folder.iterdir() if p.suffix in (".xml", ".txt"))
    return hashlib.sha256("|".join(files).encode()).hexdigest()[:16]


def _cache_path(kind: str = "billable") -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tui-billing" / f"icd10cm-{kind}-{_code_set_key()}.json"


def _billable_example(cm: ModuleType, dotted: str) -> str | None:
    """A billable code below heading ``dotted``, preferring "unspecified" (…9) children and the
    initial-encounter (A) extension; None if none found."""
    node = dotted
    for _ in range(8):  # the tree is at most 4 levels below a category
        children = cm.get_children(node)
        if not children:
            return node
        pick = next((c for c in reversed(children) if c.endswith("9")), None)
        if pick is None:
            pick = next((c for c in children if c.endswith("A")), children[0])
        node = pick
    return None


def _build_tables() -> dict[str, dict[str, str]]:
    """Both tables from the library (flat codes): billable code -> description, heading -> example."""
    cm = _icd()
    billable: dict[str, str] = {}
    headings: dict[str, str] = {}
    for dotted in cm.get_all_codes(with_dots=True):
        flat = dotted.replace(".", "")
        if not _ICD10_RE.fullmatch(flat):
            continue  # chapters ("1") and blocks ("C00-C96") are never codes
        if cm.is_leaf(dotted):
            billable[flat] = cm.get_description(dotted)
        else:
            example = _billable_example(cm, dotted)
            headings[flat] = example.replace(".", "") if example else ""
    return {"billable": billable, "headings": headings}


def _load_table(kind: str) -> dict[str, str]:
    """One table from its cache file, or every table built from the library (and cached) once."""
    try:
        table = json.loads(_cache_path(kind).read_text(encoding="utf-8"))
        if not isinstance(table, dict):
            raise ValueError(f"{kind} cache is not a table")
        return table
    except (OSError, ValueError):
        tables = _build_tables()
        for name, table in tables.items():
            _write_cache(_cache_path(name), table)
        return tables[kind]


def _table(kind: str) -> dict[str, str]:
    """The ``billable`` table (flat code -> description) or the ``headings`` table (flat category
    or subcategory -> a billable flat code below it), loaded once."""
    table = _tables.get(kind)
    if table is None:
        with _tables_lock:
            table = _tables.get(kind)
            if table is None:
                table = _tables[kind] = _load_table(kind)
    return table


def _write_cache(path: Path, table: dict[str, str]) -> None:
    """Best effort: with no writable cache directory every start simply builds the table again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a second clerk's start never reads half a file
    except OSError as exc:
        warnings.warn(f"ICD-10-CM cache not written ({exc}); the next start loads the code set again",
                      RuntimeWarning, stacklevel=2)


def warm_icd10() -> None:
    """Load the ICD-10-CM tables now (~35 ms from the cache files; ~2 s the first time, which
    writes them). Safe to call from any thread, any number of times; later calls return at once."""
    _table("billable")
    _table("headings")  # small; loaded here so that no refusal ever has to build it


def icd10_ready() -> bool:
    """True once the billable codes are loaded (validation of a good code won't block)."""
    return "billable" in _tables


@dataclass(frozen=True, slots=True)
class Icd10:
    """A billable ICD-10-CM code.

    Attributes:
        code: Upper case, no dot (``"E119"``) — the form sent on claims.
        dotted: Display form (``"E11.9"``).
        description: Official short description from the code set.
    """

    code: str
    dotted: str
    description: str


def _icd_normalize(code: object) -> str:
    """Strip, upper-case and remove the dot (only allowed after 3 chars)."""
    text = _clean(code, "ICD-10-CM code")
    if not _ICD10_RE.fullmatch(text):
        raise CodeError(
            f"'{_shown(text)}' is not shaped like an ICD-10-CM code: a letter, "
            "then 2 to 6 letters or digits, with the dot after the third "
            "character (e.g. E11.9, S52.521A)"
        )
    return text.replace(".", "")


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def icd10_format_ok(code: str) -> bool:
    """Cheap shape check, no table load: a letter, two letters-or-digits
    (normally a digit then a letter-or-digit; QA0 is the one exception),
    then up to 4 letters-or-digits, optional dot after the third character.

    Any case and surrounding spaces are accepted (as in :func:`validate_icd10`).
    A ``True`` here does not mean the code exists.
    """
    try:
        _icd_normalize(code)
    except CodeError:
        return False
    return True


def validate_icd10(code: str) -> Icd10:
    """Validate a billable ICD-10-CM code.

    Accepts any case, with or without the dot, surrounding spaces:
    ``"e11.9"``, ``"E119"``, ``" E11.9 "``. Seventh-character codes such as
    ``S52.521A`` and codes with the X placeholder (``S01.00XA``, ``T36.0X1A``)
    are accepted when they exist.

    Only billable (leaf) codes pass. Categories and subcategories that need
    more characters are refused with an example of a billable code below them.
    Every answer comes from the cached tables: a refusal never loads the whole
    code set (that took ~1.5 s and ~180 MB, a freeze while a clerk typed E11 of E11.9).

    Raises:
        CodeError: unknown code, non-billable heading, or bad shape.
    """
    flat = _icd_normalize(code)
    dotted = _dotted(flat)
    table = _table("billable")
    description = table.get(flat)
    if description is not None:
        return Icd10(code=flat, dotted=dotted, description=description)
    headings = _table("headings")
    if flat not in headings:
        hint = ""
        # Common slip: 7th-character code typed without its X placeholder(s),
        # e.g. S01.00A for S01.00XA.
        if 4 <= len(flat) < 7:
            padded = flat[:-1].ljust(6, "X") + flat[-1]
            if padded in table:
                hint = f" (did you mean {_dotted(padded)}? the X is a placeholder)"
        raise CodeError(f"{dotted} is not an ICD-10-CM code{hint}")
    kind = "a category" if len(flat) == 3 else "a subcategory"
    example = headings[flat]
    # short, with the example last but inside 60 columns: it is what an 80-column status line keeps
    tail = f"e.g. {_dotted(example)}" if example else "it needs more characters"
    raise CodeError(f"{dotted} is {kind}, not billable; {tail}")


def icd10_description(code: str) -> str:
    """Description of a billable ICD-10-CM code (see :func:`validate_icd10`).

    Raises:
        CodeError: as :func:`validate_icd10`.
    """
    return validate_icd10(code).description


#: Common billable office diagnoses (dotted form), each checked by the tests
#: against the installed code set (April 2026).
COMMON_ICD10: tuple[str, ...] = (
    # Cardiometabolic
    "I10",      # essential hypertension
    "E11.9",    # type 2 diabetes without complications
    "E11.65",   # type 2 diabetes with hyperglycemia
    "E78.5",    # hyperlipidemia, unspecified
    "E78.00",   # pure hypercholesterolemia, unspecified
    "E66.9",    # obesity, unspecified
    "E03.9",    # hypothyroidism, unspecified
    "E55.9",    # vitamin D deficiency, unspecified
    "D64.9",    # anemia, unspecified
    # Respiratory / infections
    "J06.9",    # acute upper respiratory infection
    "J02.9",    # acute pharyngitis
    "J01.90",   # acute sinusitis, unspecified
    "J20.9",    # acute bronchitis
    "J45.909",  # asthma, uncomplicated
    "J44.9",    # COPD, unspecified
    "J30.9",    # allergic rhinitis
    "U07.1",    # COVID-19
    "B34.9",    # viral infection, unspecified
    "H66.90",   # otitis media, unspecified ear
    "H10.9",    # conjunctivitis
    "N39.0",    # urinary tract infection
    # Symptoms
    "R05.9",    # cough
    "R50.9",    # fever
    "R51.9",    # headache
    "R10.9",    # abdominal pain
    "R53.83",   # fatigue
    "R42",      # dizziness
    "R07.9",    # chest pain
    # GI
    "K21.9",    # GERD without esophagitis
    "K59.00",   # constipation
    # Mental health / neuro
    "F41.1",    # generalized anxiety disorder
    "F41.9",    # anxiety disorder, unspecified
    "F32.A",    # depression, unspecified
    "F90.9",    # ADHD, unspecified type
    "G47.00",   # insomnia
    "G43.909",  # migraine
    # Musculoskeletal / skin / injury
    "M54.50",   # low back pain
    "M54.2",    # neck pain
    "M25.561",  # right knee pain
    "M79.10",   # myalgia
    "M17.11",   # primary osteoarthritis, right knee
    "L30.9",    # dermatitis
    "S93.401A", # right ankle sprain, initial encounter
    # Encounters / status
    "Z00.00",   # adult exam, no abnormal findings
    "Z00.01",   # adult exam, abnormal findings
    "Z00.129",  # child exam, no abnormal findings
    "Z23",      # immunization
    "Z12.31",   # screening mammogram
    "Z79.4",    # long-term insulin use
    "Z79.899",  # other long-term drug therapy
)


# ---------------------------------------------------------------------------
# Procedure codes (CPT / HCPCS Level II)
# ---------------------------------------------------------------------------

# CPT (AMA). Besides Category I (5 digits), Category II (nnnnF) and
# Category III (nnnnT), CPT has Category I code families that end in a
# letter and are billed every day: PLA lab codes (nnnnU), MAAA codes
# (nnnnM) and vaccine product/administration codes (nnnnA). Refusing them
# would block real claims, so they are accepted.
_CPT_SUFFIXES = {
    "F": "CPT Category II",
    "T": "CPT Category III",
    "U": "CPT proprietary laboratory analysis",
    "M": "CPT multianalyte assay",
    "A": "CPT vaccine administration",
}

# HCPCS Level II: one letter + 4 digits. Only the letters CMS actually assigns
# are accepted: A B C D E G H J K L M P Q R S T U V. D is the dental (CDT)
# range, which HCPCS includes, so it is accepted (oral surgeons may bill it).
# Refused: F, N (never assigned), I and O (never used: easily confused with
# 1 and 0), W-Z (never assigned; the old local "level III" codes that used
# them were retired under HIPAA).
_HCPCS_LETTERS = frozenset("ABCDEGHJKLMPQRSTUV")

_PROC_RE = re.compile(r"[0-9]{5}|[0-9]{4}[A-Z]|[A-Z][0-9]{4}")


def validate_procedure_code(code: str) -> str:
    """Validate the shape of a CPT or HCPCS Level II code.

    Accepted (after strip + upper-case):

    * CPT Category I: 5 digits (``99213``);
    * CPT 4 digits + F (Category II), T (Category III), U (PLA), M (MAAA),
      A (vaccine administration): ``3074F``, ``0042T``, ``0001U``;
    * HCPCS Level II: an assigned letter + 4 digits (``G0439``, ``J1100``).

    Only the shape is checked: no code list is shipped (CPT is licensed).

    Returns:
        The normalised code.

    Raises:
        CodeError: with the reason.
    """
    text = _clean(code, "Procedure code")
    if "-" in text or " " in text:
        head = re.split(r"[- ]", text, maxsplit=1)[0]
        if _PROC_RE.fullmatch(head):
            raise CodeError(
                f"'{_shown(text)}': enter the procedure code ({head}) alone; "
                "modifiers go in their own fields"
            )
    if not _PROC_RE.fullmatch(text):
        raise CodeError(
            f"'{_shown(text)}' is not a procedure code: expected 5 digits "
            "(CPT, e.g. 99213), 4 digits + F/T/U/M/A (e.g. 3074F, 0042T) "
            "or a letter + 4 digits (HCPCS, e.g. G0439)"
        )
    first, last = text[0], text[-1]
    if first.isalpha():
        if first not in _HCPCS_LETTERS:
            extra = ""
            if first in "IO":
                extra = f" (did you type the letter {first} for the digit {'1' if first == 'I' else '0'}?)"
            raise CodeError(
                f"{text}: HCPCS codes never start with {first}{extra}"
            )
        return text
    if last.isalpha() and last not in _CPT_SUFFIXES:
        raise CodeError(
            f"{text}: a 4-digit CPT code must end in F, T, U, M or A, not {last}"
        )
    return text


# ---------------------------------------------------------------------------
# Modifiers
# ---------------------------------------------------------------------------

#: Frequently used CPT/HCPCS modifiers, described in our own words.
KNOWN_MODIFIERS: dict[str, str] = {
    "22": "Unusually extensive procedure",
    "24": "Unrelated visit during a postoperative period",
    "25": "Separate, significant visit on the same day as a procedure",
    "26": "Professional (interpretation) part only",
    "TC": "Technical (equipment/staff) part only",
    "27": "Several outpatient hospital visits the same day",
    "33": "Preventive service",
    "50": "Done on both sides of the body",
    "51": "Several procedures in the same session",
    "52": "Service cut short / reduced",
    "53": "Procedure stopped before completion",
    "57": "Visit at which the decision for surgery was made",
    "59": "Separate procedure or service (distinct from others that day)",
    "76": "Repeated by the same clinician",
    "77": "Repeated by another clinician",
    "78": "Unplanned return to the operating room",
    "79": "Unrelated procedure during a postoperative period",
    "80": "Assistant surgeon",
    "91": "Repeated lab test for a new result",
    "93": "Audio-only telehealth",
    "95": "Real-time audio-video telehealth",
    "GT": "Telehealth via interactive audio and video (older payer usage)",
    "XE": "Separate encounter",
    "XS": "Separate organ or structure",
    "XP": "Separate practitioner",
    "XU": "Unusual service that does not overlap the main one",
    "LT": "Left side",
    "RT": "Right side",
    "E1": "Upper left eyelid",
    "E2": "Lower left eyelid",
    "E3": "Upper right eyelid",
    "E4": "Lower right eyelid",
    "FA": "Left hand, thumb",
    "F5": "Right hand, thumb",
    "TA": "Left foot, great toe",
    "T5": "Right foot, great toe",
    "LC": "Left circumflex coronary artery",
    "LD": "Left anterior descending coronary artery",
    "RC": "Right coronary artery",
    "GA": "Waiver of liability (ABN) on file",
    "GX": "Voluntary notice of non-coverage given",
    "GY": "Not a covered benefit (statutorily excluded)",
    "GZ": "Expected to be denied; no ABN on file",
    "GC": "Done partly by a resident under a teaching physician",
    "GE": "Done by a resident without a teaching physician present",
    "GP": "Under a physical therapy plan of care",
    "GO": "Under an occupational therapy plan of care",
    "GN": "Under a speech-language pathology plan of care",
    "KX": "Coverage requirements met / documented",
    "FS": "Split or shared visit",
    "FT": "Unrelated visit by the same clinician in a global period / same day",
    "QW": "CLIA-waived test",
    "Q5": "Substitute clinician, reciprocal billing",
    "Q6": "Substitute clinician, fee-for-time arrangement",
    "AI": "Principal physician of record",
    "SA": "Nurse practitioner with a physician",
    "AS": "Assistant at surgery by a non-physician practitioner",
    "CR": "Catastrophe / disaster related",
    "CS": "Cost-sharing waived",
    "JW": "Drug amount wasted",
    "JZ": "No drug amount wasted",
    "JG": "Drug bought under the 340B program (older usage, now TB)",
    "TB": "Drug bought under the 340B program",
    "SL": "State-supplied vaccine",
    "PO": "Off-campus provider-based department service",
    "PN": "Non-excepted off-campus provider-based department",
    "AQ": "Health professional shortage area",
    "NU": "New equipment",
    "RR": "Rental equipment",
    "UE": "Used equipment",
}

_MODIFIER_RE = re.compile(r"[A-Z0-9]{2}")


def validate_modifier(mod: str) -> str:
    """Validate a procedure modifier: exactly two letters/digits.

    Modifiers not in :data:`KNOWN_MODIFIERS` are accepted when well formed
    (payers use many more).

    Returns:
        The upper-case modifier.

    Raises:
        CodeError: if it is not two letters/digits.
    """
    text = _clean(mod, "Modifier")
    if not _MODIFIER_RE.fullmatch(text):
        raise CodeError(
            f"'{_shown(text)}' is not a modifier: a modifier is exactly two "
            "letters or digits (e.g. 25, LT)"
        )
    return text


# ---------------------------------------------------------------------------
# Place of service (CMS POS code set)
# ---------------------------------------------------------------------------

#: CMS place-of-service codes that are assigned, with short descriptions.
#: Unassigned: 28-30, 35-40, 43-48, 59, 63-64, 67-70, 73-80, 82-98.
POS_CODES: dict[str, str] = {
    "01": "Pharmacy",
    "02": "Telehealth, patient not at home",
    "03": "School",
    "04": "Homeless shelter",
    "05": "Indian Health Service free-standing facility",
    "06": "Indian Health Service provider-based facility",
    "07": "Tribal 638 free-standing facility",
    "08": "Tribal 638 provider-based facility",
    "09": "Prison / correctional facility",
    "10": "Telehealth, patient at home",
    "11": "Office",
    "12": "Home",
    "13": "Assisted living facility",
    "14": "Group home",
    "15": "Mobile unit",
    "16": "Temporary lodging",
    "17": "Walk-in retail health clinic",
    "18": "Place of employment / worksite",
    "19": "Outpatient hospital, off campus",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "Outpatient hospital, on campus",
    "23": "Hospital emergency room",
    "24": "Ambulatory surgical center",
    "25": "Birthing center",
    "26": "Military treatment facility",
    "27": "Outreach site / street",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "33": "Custodial care facility",
    "34": "Hospice",
    "41": "Ambulance, land",
    "42": "Ambulance, air or water",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "51": "Inpatient psychiatric facility",
    "52": "Psychiatric facility, partial hospitalization",
    "53": "Community mental health center",
    "54": "Intermediate care facility for individuals with intellectual disabilities",
    "55": "Residential substance use treatment facility",
    "56": "Psychiatric residential treatment center",
    "57": "Non-residential substance use treatment facility",
    "58": "Non-residential opioid treatment facility",
    "60": "Mass immunization center",
    "61": "Comprehensive inpatient rehabilitation facility",
    "62": "Comprehensive outpatient rehabilitation facility",
    "65": "End-stage renal disease treatment facility",
    "66": "PACE center (all-inclusive care for the elderly)",
    "71": "Public health clinic",
    "72": "Rural health clinic",
    "81": "Independent laboratory",
    "99": "Other place of service",
}

_POS_RE = re.compile(r"[0-9]{1,2}")


def validate_pos(code: str) -> str:
    """Validate a place-of-service code; ``"9"`` is read as ``"09"``.

    Returns:
        The two-digit code.

    Raises:
        CodeError: not 1-2 digits, or not an assigned CMS code.
    """
    text = _clean(code, "Place of service")
    if not _POS_RE.fullmatch(text):
        raise CodeError(
            f"'{_shown(text)}' is not a place of service: use the two-digit "
            "CMS code (e.g. 11 for office)"
        )
    text = text.zfill(2)
    if text not in POS_CODES:
        raise CodeError(
            f"Place of service {text} is not an assigned CMS code "
            "(e.g. 11 office, 10 telehealth at home, 22 outpatient hospital)"
        )
    return text


# ---------------------------------------------------------------------------
# NPI
# ---------------------------------------------------------------------------

_NPI_RE = re.compile(r"[0-9]{10}")
_NINE_RE = re.compile(r"[0-9]{9}")


def npi_check_digit(first9: str) -> int:
    """Check digit for the first 9 digits of an NPI.

    CMS rule: Luhn over ``"80840" + first9`` (80840 is the ISO prefix
    for US health identifiers).

    Raises:
        CodeError: if ``first9`` is not exactly 9 ASCII digits.
    """
    if not isinstance(first9, str) or not _NINE_RE.fullmatch(first9):
        raise CodeError("An NPI check digit needs exactly 9 digits")
    total = 0
    # Walk right to left over the payload; the rightmost payload digit is
    # doubled (it sits next to the check digit).
    for i, ch in enumerate(reversed("80840" + first9)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    """True if ``npi`` (after strip) is a well-formed NPI with a good check digit."""
    try:
        validate_npi(npi)
    except CodeError:
        return False
    return True


def validate_npi(npi: str) -> str:
    """Validate a National Provider Identifier.

    10 digits, the first one 1 (individual) or 2 (organisation), the last one
    the check digit. Surrounding spaces are ignored.

    Returns:
        The 10-digit NPI.

    Raises:
        CodeError: with the reason.
    """
    text = _clean(npi, "NPI")
    if not _NPI_RE.fullmatch(text):
        n = sum(ch.isdigit() for ch in text)
        if n == len(text):
            raise CodeError(f"'{_shown(text)}': an NPI has exactly 10 digits, not {n}")
        raise CodeError(f"'{_shown(text)}': an NPI is 10 digits, nothing else")
    if text[0] not in "12":
        raise CodeError(f"{text}: an NPI starts with 1 or 2")
    if npi_check_digit(text[:9]) != int(text[9]):
        raise CodeError(f"{text} is not a valid NPI (check digit mismatch: typo?)")
    return text
