"""Render a `TableData` as markdown, LaTeX (booktabs), CSV or HTML.

Every user-given string (lifter, regime, dataset names...) is escaped for the target format:
HTML via `html.escape`, LaTeX special characters, markdown pipes. Best values are bold and
second-best values italic (md) / underlined (LaTeX, HTML), as in the papers' tables.
"""

from __future__ import annotations

import html
import io
import re

from liftbench.leaderboard.table_model import Cell, TableData, TableRow

FORMATS = ("md", "latex", "csv", "html")
_HEAD = ("lifter", "regime", "source", "n", "protocol")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "±": r"$\pm$", "≠": r"$\neq$",
    "→": r"$\rightarrow$", "·": r"$\cdot$", "↓": r"$\downarrow$", "↑": r"$\uparrow$",
    "×": r"$\times$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def render(table: TableData, fmt: str) -> str:
    """Render `table` in `fmt` (one of FORMATS)."""
    if fmt == "markdown":
        fmt = "md"
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return {"md": to_markdown, "latex": to_latex, "csv": to_csv, "html": to_html}[fmt](table)


def _number(cell: Cell | None, digits: int) -> tuple[str, str]:
    """(mean, ± half-width) texts; the half-width is empty without spread."""
    if cell is None:
        return "–", ""
    mean = f"{cell.mean:.{digits}f}"
    if cell.n > 1 and cell.high > cell.low:
        return mean, f"{(cell.high - cell.low) / 2:.{digits}f}"
    return mean, ""


def _head(table: TableData) -> list[str]:
    """The leading text columns: `_HEAD`, plus `× copy_2d` when a row has that ratio."""
    return [*_HEAD, "× copy_2d"] if table.has_baseline_ratio else list(_HEAD)


def _header(table: TableData, arrow: bool = True) -> list[str]:
    cols = []
    for label, up in zip(table.column_labels, table.higher_better):
        cols.append(f"{label} {'↑' if up else '↓'}" if arrow else label)
    return [*_head(table), *cols]


def _head_cells(row: TableRow, table: TableData) -> list[str]:
    proto = row.tag if not row.differs else f"{row.tag} ≠ {', '.join(row.differs)}"
    n = str(len(row.run_ids)) if row.measured else ""
    cells = [row.lifter + row.note, row.regime, row.source, n, proto]
    if table.has_baseline_ratio:
        cells.append("" if row.baseline_ratio is None else f"{row.baseline_ratio:.2f}")
    return cells


def _caption(table: TableData) -> str:
    if table.title:
        return table.title
    what = f"per-action {table.metric}" if table.by else "overall metrics"
    return f"Comparison table ({what})"


# ---------------------------------------------------------------------------- markdown
def _md_escape(text: str) -> str:
    return text.replace("|", r"\|")


def to_markdown(table: TableData) -> str:
    """A GitHub pipe table with a caption line and the footnotes below it."""
    head = _header(table)
    lines = [f"**{_md_escape(_caption(table))}**", "",
             "| " + " | ".join(_md_escape(h) for h in head) + " |",
             "|" + "|".join([":---"] * len(_head(table)) + ["---:"] * len(table.columns)) + "|"]
    for row in table.rows:
        cells = [_md_escape(c) for c in _head_cells(row, table)]
        for col in table.columns:
            mean, half = _number(row.cells.get(col), table.digits)
            mark = row.marks.get(col, 0)
            text = f"**{mean}**" if mark == 1 else f"_{mean}_" if mark == 2 else mean
            cells.append(f"{text} ± {half}" if half else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- {_md_escape(n)}" for n in table.notes("**Bold** / _italic_"))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- LaTeX
def latex_escape(text: str) -> str:
    """Escape LaTeX special characters (and map ±, ≠, arrows to math)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


def to_latex(table: TableData) -> str:
    """A `table` float with a booktabs `tabular` (needs the booktabs package)."""
    spec = "l" * len(_head(table)) + "r" * len(table.columns)
    head = [latex_escape(h) for h in _header(table)]
    out = [r"\begin{table}[t]", r"\centering", r"\small",
           rf"\caption{{{latex_escape(_caption(table))}}}",
           rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    previous = None
    for row in table.rows:
        if previous is not None and row.tag != previous:
            out.append(r"\midrule")
        previous = row.tag
        cells = [latex_escape(c) for c in _head_cells(row, table)]
        for col in table.columns:
            mean, half = _number(row.cells.get(col), table.digits)
            mean = "--" if mean == "–" else mean
            mark = row.marks.get(col, 0)
            text = rf"\textbf{{{mean}}}" if mark == 1 else rf"\underline{{{mean}}}" \
                if mark == 2 else mean
            cells.append(rf"{text} {{\scriptsize$\pm${half}}}" if half else text)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip",
            r"\parbox{\linewidth}{\footnotesize"]
    notes = table.notes("Bold / underlined")
    out += [latex_escape(n) + (r" \\" if i < len(notes) - 1 else "}")
            for i, n in enumerate(notes)]
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------- CSV
def to_csv(table: TableData) -> str:
    """Exact numbers, one line per row: means, CI bounds, marks and every protocol field."""
    buf = io.StringIO()
    table.to_frame().to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


# -------------------------------------------------------------------------------- HTML
def to_html(table: TableData) -> str:
    """An HTML `<table>` fragment (caption, header, rows, footnotes); every string escaped."""
    esc = html.escape
    out = ['<table class="liftbench">', f"<caption>{esc(_caption(table))}</caption>",
           "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in _header(table)) +
           "</tr></thead>", "<tbody>"]
    for row in table.rows:
        klass = "measured" if row.measured else "reported"
        cells = [f"<td>{esc(c)}</td>" for c in _head_cells(row, table)]
        for col in table.columns:
            mean, half = _number(row.cells.get(col), table.digits)
            mark = row.marks.get(col, 0)
            text = f"<strong>{esc(mean)}</strong>" if mark == 1 else f"<u>{esc(mean)}</u>" \
                if mark == 2 else esc(mean)
            if half:
                text += f" <small>± {esc(half)}</small>"
            cells.append(f'<td class="num">{text}</td>')
        out.append(f'<tr class="{klass}" data-protocol="{esc(row.tag)}">' + "".join(cells) +
                   "</tr>")
    out += ["</tbody>", "</table>", '<ul class="notes">']
    notes = [esc(n) for n in table.notes("Bold / underlined")]
    # notes[1] is our own fixed legend sentence; style its first words only.
    notes[1] = notes[1].replace("Bold / underlined", "<strong>Bold</strong> / <u>underlined</u>", 1)
    out += [f"<li>{n}</li>" for n in notes]
    out.append("</ul>")
    return "\n".join(out) + "\n"
