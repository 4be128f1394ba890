"""Rendering a report: typed rows -> tabulate tables, CSV, JSON, and printer pages.

A report is a :class:`Report`: a title, a few header lines, and :class:`Section` tables whose
cells are typed (:class:`Money` for amounts, ``int`` for counts, ``str`` for text). Amounts are
formatted from integer cents here, never through a float: tabulate receives strings with
``disable_numparse=True`` so it cannot re-read "1,250.00" as a number; CSV and JSON get exact
decimal text ("1250.00").

User text is inert in every format: control characters (an ESC that would drive the terminal,
a carriage return that would hide a line) print as U+FFFD, and CSV cells that a spreadsheet
would run as a formula are prefixed with a quote.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from ..money import cents_to_decimal, format_cents
from ..text import inert

#: Formats besides tabulate's own.
EXTRA_FORMATS = ("csv", "json")
#: tabulate formats a spreadsheet opens as cells: their text is neutralised like CSV's.
DELIMITED_FORMATS = frozenset({"tsv"})
#: Characters that make a spreadsheet treat a cell as a formula (or smuggle one in).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Money(int):
    """Integer cents that renders as an amount (an ``int`` so sums stay exact)."""

    __slots__ = ()

    def __add__(self, other: int) -> Money:  # keep the type through sums
        return Money(int(self) + int(other))

    __radd__ = __add__


@dataclass
class Section:
    """One table of a report."""

    title: str
    columns: Sequence[str]
    rows: list[list] = field(default_factory=list)
    #: a totals row printed after a rule (kept apart so CSV/JSON can mark it)
    total: list | None = None
    #: short lines printed under the table (not part of CSV/JSON rows)
    notes: list[str] = field(default_factory=list)
    #: a machine name for JSON (defaults to the title)
    key: str | None = None


@dataclass
class Report:
    """A whole report: title, parameters, sections; ``page_break_before`` forces new pages."""

    name: str
    title: str
    params: dict[str, object] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    practice: str = ""
    #: indexes of sections that must start on a new page (statements: one patient per page)
    page_break_before: set[int] = field(default_factory=set)


def clean_text(value: str) -> str:
    """User text made inert for a terminal or printer: control and bidi characters become U+FFFD."""
    return inert(value)


def neutralise_csv(text: str) -> str:
    """A CSV text cell that a spreadsheet would evaluate gets a leading apostrophe."""
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _display(cell: object) -> str:
    if type(cell) is str:  # the common case first: thousands of cells per report
        return cell if cell.isprintable() else clean_text(cell)
    if cell is None:
        return ""
    if isinstance(cell, Money):
        return format_cents(int(cell))
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, int):
        return str(cell)
    return clean_text(str(cell))


def _exact(cell: object) -> str:
    """CSV cell text: amounts as exact decimals, text neutralised."""
    if cell is None:
        return ""
    if isinstance(cell, Money):
        return cents_to_decimal(int(cell))
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, int):
        return str(cell)
    return neutralise_csv(clean_text(str(cell)))


def _json_value(cell: object) -> object:
    if isinstance(cell, Money):
        return cents_to_decimal(int(cell))  # a string: JSON numbers are floats to most readers
    if isinstance(cell, (int, type(None))):
        return cell
    return clean_text(str(cell))


def _is_amount_column(section: Section, index: int) -> bool:
    for row in section.rows[:50] + ([section.total] if section.total else []):
        if index < len(row) and row[index] is not None and row[index] != "":
            return isinstance(row[index], int)
    return False


# --------------------------------------------------------------------------- CSV and JSON


def render_csv(report: Report) -> str:
    """Sections as CSV blocks. With one section it is a plain table; with several each block
    starts with a one-cell title row and blocks are separated by an empty row."""
    import csv  # here, not at the top: the printed formats never need it
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    several = len(report.sections) > 1
    for n, section in enumerate(report.sections):
        if several:
            if n:
                writer.writerow([])
            writer.writerow([neutralise_csv(clean_text(section.title))])
        writer.writerow([_exact(c) for c in section.columns])
        for row in section.rows:
            writer.writerow([_exact(c) for c in row])
        if section.total:
            writer.writerow([_exact(c) for c in section.total])
    return out.getvalue()


def report_dict(report: Report) -> dict:
    """The report as plain JSON-able data; amounts are decimal strings."""
    sections = []
    for section in report.sections:
        cols = list(section.columns)
        item: dict[str, object] = {
            "key": section.key or section.title,
            "title": clean_text(section.title),
            "columns": cols,
            "rows": [{c: _json_value(v) for c, v in zip(cols, row, strict=False)} for row in section.rows],
        }
        if section.total:
            item["total"] = {c: _json_value(v) for c, v in zip(cols, section.total, strict=False)}
        if section.notes:
            item["notes"] = [clean_text(n) for n in section.notes]
        sections.append(item)
    return {"report": report.name, "title": clean_text(report.title), "practice": clean_text(report.practice),
            "params": {k: _json_value(v) for k, v in report.params.items()}, "sections": sections}


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- tables


#: Plain-text tabulate formats whose body rows are one line each with fixed separators and no
#: escaping: these are rendered by a template taken from tabulate itself (see _fast_table).
FAST_FORMATS = frozenset({
    "simple", "plain", "github", "pipe", "psql", "grid", "simple_grid", "rounded_grid", "heavy_grid",
    "mixed_grid", "double_grid", "fancy_grid", "outline", "simple_outline", "rounded_outline",
    "heavy_outline", "mixed_outline", "double_outline", "fancy_outline", "presto", "pretty", "orgtbl", "rst",
})
_MARK_A, _MARK_B = 0xE000, 0xE100  # private-use characters: never in real text (clean_text keeps them out of rows)


def _tabulate(rows, heads, fmt, align):
    from tabulate import tabulate

    return tabulate(rows, headers=heads, tablefmt=fmt, disable_numparse=True, colalign=align,
                    preserve_whitespace=True)


#: Below U+0300 (ASCII, Latin-1, Latin Extended, IPA) every printable character is one column
#: wide, so names like Müller or Łukasz need no width table; combining marks start here.
_FIRST_NOT_NARROW = "\u0300"


def _width(text: str) -> int:
    """Columns a string takes on a terminal: wide (CJK) characters two, combining marks none.

    Counted by Rich, as the billing screens count them (and it loads in a few ms where
    wcwidth took 11), so a name lines up the same on paper as on screen."""
    if text.isascii() or max(text) < _FIRST_NOT_NARROW:
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _fast_table(shown: list[list[str]], heads: list[str], fmt: str, align: list[str]) -> str | None:
    """The same text tabulate would print, at a fraction of the cost on thousands of rows.

    tabulate renders the headers and two rows of marker characters exactly as wide as each
    column; its output gives the lines above the body, the line between rows, the lines below,
    and the row line with a hole for each cell. Each real row is then one string join. Returns
    None when that shortcut does not apply (the caller uses tabulate)."""
    import re

    ncols = len(heads)
    widths = [_width(h) for h in heads]
    for row in shown:
        for i, cell in enumerate(row):
            n = len(cell) if cell.isascii() else _width(cell)
            if n > widths[i]:
                widths[i] = n
    a = [chr(_MARK_A + i) * max(widths[i], 1) for i in range(ncols)]
    b = [chr(_MARK_B + i) * max(widths[i], 1) for i in range(ncols)]
    lines = _tabulate([a, b], heads, fmt, align).split("\n")
    ia = next((n for n, line in enumerate(lines) if chr(_MARK_A) in line), None)
    ib = next((n for n, line in enumerate(lines) if chr(_MARK_B) in line), None)
    if ia is None or ib is None or ib <= ia:
        return None
    pieces = re.split("[\ue000-\ue0ff]+", lines[ia])
    if len(pieces) != ncols + 1 or any(not w for w in widths):
        return None
    head, between, tail = lines[:ia], lines[ia + 1:ib], lines[ib + 1:]
    # column by column (list comprehensions), then one str.format per row: the hot loop of a
    # day sheet with ten thousand entries
    padded = []
    for i in range(ncols):
        w, right = widths[i], align[i] == "right"
        column = [row[i] for row in shown]
        if all(c.isascii() for c in column):
            padded.append([c.rjust(w) for c in column] if right else [c.ljust(w) for c in column])
        else:
            padded.append([_pad(c, w, right) for c in column])
    template = "{}".join(p.replace("{", "{{").replace("}", "}}") for p in pieces).format
    body = [template(*cells) for cells in zip(*padded, strict=False)]
    if not pieces[-1].strip():  # tabulate strips trailing blanks from lines that end in a cell
        body = [line.rstrip() for line in body]
    if between:
        sep = "\n".join(between)
        return "\n".join(head + [f"\n{sep}\n".join(body)] + tail)
    return "\n".join(head + body + tail)


def _column_text(column: Sequence[object]) -> list[str]:
    """Display text of one column's cells, typed a column at a time: a long day sheet has tens
    of thousands of cells, and one test per column is much cheaper than one per cell."""
    kinds = set(map(type, column))
    if kinds == {str}:
        texts = cast("Sequence[str]", column)  # the kinds test above is the proof
        # one C-level test for the whole column; the rare column with a control character is cleaned
        return list(texts) if "".join(texts).isprintable() else [clean_text(c) for c in texts]
    if kinds <= {Money, type(None)}:
        return _amount_texts(cast("Sequence[Money | None]", column))
    if kinds == {int}:
        return list(map(str, column))
    return [_display(c) for c in column]


def _amount_texts(column: Sequence[Money | None]) -> list[str]:
    """format_cents for a whole column (1,250.00 / -5.00 / blank for None), inlined: amounts
    are a third of a day sheet's rendering. A test holds it to format_cents."""
    out: list[str] = []
    append = out.append
    for cents in column:
        if cents is None:
            append("")
        elif cents < 0:
            dollars, rest = divmod(-cents, 100)
            append(f"-{dollars:,}.{rest:02d}")
        else:
            dollars, rest = divmod(cents, 100)
            append(f"{dollars:,}.{rest:02d}")
    return out


def _simple_table(columns: list[list[str]], heads: list[str], align: list[str], *, rule: bool) -> str:
    """tabulate's ``simple`` (``rule``) and ``plain`` formats, written out: the default format
    of every report then never imports tabulate. Same text as tabulate (a test compares them):
    each column as wide as its widest cell and at least its heading plus two, two spaces
    between columns, headings aligned like their column, trailing blanks stripped."""
    widths: list[int] = []
    specs: list[str] = []
    for i, column in enumerate(columns):
        right = align[i] == "right"
        joined = "".join(column)
        narrow = joined.isascii() or max(joined) < _FIRST_NOT_NARROW  # one column per character
        if narrow:
            w = max(map(len, column), default=0)
        else:  # count only the non-ASCII cells the slow way
            w = max(max((len(c) for c in column if c.isascii()), default=0),
                    max((_width(c) for c in column if not c.isascii()), default=0))
        w = max(w, _width(heads[i]) + 2)
        widths.append(w)
        if narrow:  # str.format pads by code points, which are columns here
            specs.append(f"{{:{'>' if right else '<'}{w}}}")
        else:  # a column with wide characters: pad by display width (ASCII cells the quick way)
            pad = str.rjust if right else str.ljust
            columns[i] = [pad(c, w) if c.isascii() else _pad(c, w, right) for c in column]
            specs.append("{}")
    template = "  ".join(specs).format
    lines = ["  ".join(_pad(h, widths[i], align[i] == "right") for i, h in enumerate(heads)).rstrip()]
    if rule:
        lines.append("  ".join("-" * w for w in widths))
    lines.extend(template(*cells).rstrip() for cells in zip(*columns, strict=False))
    return "\n".join(lines)


def _table(section: Section, rows: Sequence[Sequence[object]], fmt: str, widths: list[int] | None) -> str:
    """One table of display strings; ``widths`` pads cells so split pages line up."""
    cols = list(section.columns)
    align = ["right" if _is_amount_column(section, i) else "left" for i in range(len(cols))]
    if rows:
        columns = [_column_text(column) for column in zip(*rows, strict=True)]
    else:
        columns = [[""] for _ in cols]  # an empty table still shows its headings over one blank row
    heads = [clean_text(c) for c in cols]
    if widths:
        columns = [[_pad(s, widths[i], align[i] == "right") for s in column] for i, column in enumerate(columns)]
        heads = [_pad(h, widths[i], align[i] == "right") for i, h in enumerate(heads)]
    if fmt in ("simple", "plain"):
        return _simple_table(columns, heads, align, rule=fmt == "simple")
    shown = [list(cells) for cells in zip(*columns, strict=False)]
    if fmt in FAST_FORMATS:  # also for short tables: our widths, not tabulate's, for wide characters
        fast = _fast_table(shown, heads, fmt, align)
        if fast is not None:
            return fast
    return _tabulate(shown, heads, fmt, align)


def _section_rows(section: Section) -> list[list]:
    rows = list(section.rows)
    if section.total:
        rows.append(section.total)
    return rows


def _widths(section: Section) -> list[int]:
    rows = _section_rows(section)
    widths = [_width(clean_text(c)) for c in section.columns]
    for row in rows:
        for i, c in enumerate(row):
            n = _width(_display(c))
            if n > widths[i]:
                widths[i] = n
    return widths


def header_lines(report: Report, run_at: str) -> list[str]:
    """The lines every printout starts with: practice, report and its parameters, run time."""
    first = " - ".join(x for x in (clean_text(report.practice), clean_text(report.title)) if x)
    params = "  ".join(f"{k}: {_display(v)}" for k, v in report.params.items() if v not in (None, ""))
    lines = [first]
    if params:
        lines.append(params)
    lines.append(f"run {run_at}")
    return lines


def render_table(report: Report, fmt: str, run_at: str) -> str:
    """The whole report as one text for the screen or a file (no paging)."""
    out = ["\n".join(header_lines(report, run_at))]
    for index, section in enumerate(report.sections):
        block = [clean_text(section.title)] if section.title else []
        if index in report.page_break_before:  # statements: one per sheet even without --page-length
            block.insert(0, "\f")
        block.append(_table(section, _section_rows(section), fmt, None))
        block.extend(clean_text(n) for n in section.notes)
        out.append("\n\n")
        for n, piece in enumerate(block):  # one join at the end: a day sheet's table is a megabyte
            out.extend(("\n", piece) if n else (piece,))
    out.append("\n")
    return "".join(out)


def _shape(section: Section, fmt: str, widths: list[int]) -> tuple[int, int]:
    """(lines of table furniture, lines per row) for this format."""
    sample = [["" for _ in section.columns]]
    one = _table(section, sample, fmt, widths).count("\n") + 1
    two = _table(section, sample * 2, fmt, widths).count("\n") + 1
    per_row = max(1, two - one)
    return one - per_row, per_row


def render_pages(report: Report, fmt: str, run_at: str, page_length: int) -> str:
    """Printer pages of ``page_length`` lines: a header with page X of Y on each, the column
    headings repeated when a table continues, and a form feed between pages."""
    head = header_lines(report, run_at)
    head_n = len(head) + 2  # the header, the "page X of Y" line, a blank line
    room = page_length - head_n
    if room < 4:
        raise ValueError(f"--page-length {page_length} leaves no room under the {head_n}-line page header")
    pages: list[list[str]] = [[]]

    def used() -> int:
        return len(pages[-1])

    for index, section in enumerate(report.sections):
        if index in report.page_break_before and used():
            pages.append([])
        rows = _section_rows(section)
        widths = _widths(section)
        furniture, per_row = _shape(section, fmt, widths)
        title = clean_text(section.title)
        notes = [clean_text(n) for n in section.notes]
        start = 0
        first = True
        while first or start < len(rows):
            gap = 1 if used() else 0
            title_n = 1 if title else 0
            free = room - used() - gap - title_n - furniture
            fit = free // per_row
            need_all = len(rows) - start
            if fit < min(1, need_all) or (fit < need_all and fit < 3 and used()):
                if used():
                    pages.append([])
                    continue
                fit = max(fit, 1)  # a table taller than a page: print what fits
            chunk = rows[start:start + max(fit, 0)] if need_all else []
            block = []
            if gap:
                block.append("")
            if title:
                block.append(title if first else f"{title} (continued)")
            block.extend(_table(section, chunk, fmt, widths).split("\n"))
            start += len(chunk)
            first = False
            pages[-1].extend(block)
            if start >= len(rows):
                for note in notes:
                    if used() >= room:
                        pages.append([])
                    pages[-1].append(note)
    total = len(pages)
    out = []
    for n, body in enumerate(pages, start=1):
        lines = head + [f"page {n} of {total}", ""] + body
        out.append("\n".join(lines) + "\n")
    return "\f".join(out)


def _neutralised(report: Report) -> Report:
    """The report with every text cell (headings, titles, the header lines' text) neutralised as a
    CSV cell is; amounts and counts stay numbers."""
    from dataclasses import replace

    def text(value: str) -> str:
        return neutralise_csv(clean_text(value))

    def cell(value: object) -> object:
        return text(value) if isinstance(value, str) else value

    def row(cells: Sequence[object]) -> list[object]:
        return [cell(c) for c in cells]

    sections = [replace(sec, title=text(sec.title), columns=[text(c) for c in sec.columns],
                        rows=[row(r) for r in sec.rows], total=None if sec.total is None else row(sec.total),
                        notes=[text(n) for n in sec.notes]) for sec in report.sections]
    return replace(report, title=text(report.title), practice=text(report.practice),
                   params={k: cell(v) for k, v in report.params.items()}, sections=sections)


def render(report: Report, fmt: str = "simple", *, page_length: int | None = None,
           run_at: str | None = None) -> str:
    """The report in ``fmt`` (a tabulate format, ``csv`` or ``json``)."""
    run_at = run_at or dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt in DELIMITED_FORMATS:  # a spreadsheet opens it: a formula cell must stay text
        report = _neutralised(report)
    if page_length:
        return render_pages(report, fmt, run_at, page_length)
    return render_table(report, fmt, run_at)


def render_stream(reports: Iterable[Report], fmt: str, write, *, page_length: int | None = None,
                  run_at: str | None = None, name: str = "reports") -> int:
    """Render reports one after another through ``write`` (a form feed between printed ones,
    an empty row between CSV blocks, one JSON document with a list). Returns how many."""
    run_at = run_at or dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    count = 0
    if fmt == "json":
        write(f'{{"report": {json.dumps(name)}, "reports": [')
    for report in reports:
        if fmt == "json":
            write((",\n" if count else "\n") + json.dumps(report_dict(report), ensure_ascii=False))
        else:
            if count:
                write("\n" if fmt == "csv" else "\f")
            write(render(report, fmt, page_length=page_length, run_at=run_at))
        count += 1
    if fmt == "json":
        write("\n]}\n")
    return count
