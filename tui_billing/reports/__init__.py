"""Headless reports: queries -> typed rows -> rendering (tabulate, CSV, JSON, printer pages).

Never imports Textual. Modules:

* :mod:`.render` - :class:`Report`/:class:`Section`/:class:`Money` and the renderers.
* :mod:`.queries` - the report queries (day sheet, deposit, aging, month, unapplied, audit, statements).
* :mod:`.journal` - the double-entry plain-text journal export.
* :mod:`.receipt` - the printed patient receipt (receipt_rows/render_receipt).
* :mod:`.cli` - the `report`, `export` and `import` click groups.
"""
