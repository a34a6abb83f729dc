"""CSV cells that a spreadsheet shows as text, never runs as a formula.

What young people type (a message, a first name, a town) ends up in CSV files that
CFA and AKTO staff open in Excel or LibreOffice. A cell starting with ``=``, ``+``,
``-`` or ``@`` is read there as a formula: ``=HYPERLINK("https://evil.example","Voir
mon CV")`` becomes a live link, and DDE formulas can run commands. Following OWASP
("CSV Injection"), such a cell is prefixed with a single quote, which the spreadsheet
shows and does not evaluate; a phone number stays readable (``'+596696123456``).

Every CSV we write (lead export, staff console) goes through :func:`safe_cell` or
:func:`safe_row`. Pure standard library.
"""

from __future__ import annotations

from collections.abc import Iterable

#: First characters that make a spreadsheet read a cell as a formula (OWASP), plus the
#: full-width forms some spreadsheet locales convert to them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value: object) -> object:
    """``value`` as a CSV cell: text that could start a formula gets a leading ``'``.

    Numbers and None are returned unchanged (a negative *number* is data, not a
    formula, and none of our numeric columns hold text); everything else is text.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_row(values: Iterable[object]) -> list[object]:
    """Every cell of a row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
