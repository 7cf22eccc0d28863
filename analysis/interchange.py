"""Interchange layer: the four trial-data CSV files of contracts.md §3, read and written.

``screening.csv``, ``participants.csv``, ``visits.csv`` and ``adverse_events.csv``
(UTF-8, header row, ISO dates, empty cell = missing, booleans 0/1). This module is
the interchange's public face (the management commands ``import_trial_data`` and
``export_trial_data``, the export page's task and ``analysis.exports`` use it); the
work is done, one job per module, by:

``interchange_columns``
    the files and their columns as data: the one description of the files, which
    the CSV writer, the parser and the SAS transport and ODM exports all use.
``analysis.selectors`` and ``interchange_export``
    the reads for export, and :func:`collect` (typed rows: ``date``, ``int``,
    ``bool``, ``Decimal``, ``str``, ``None``), :func:`write_files` and
    :func:`export_files` (files and audit line). Arms are read only through
    ``randomization.unblinded.arms_by_participant`` (:func:`arms_for_export`); a
    blinded export leaves ``arm`` empty.
``interchange_parse``
    pure: every cell parsed (:func:`parse_cell`, and :func:`format_cell`, the one
    canonical text of a value) and every row validated against the others; the
    problems name file, row and column.
``interchange_import``
    :func:`read_files` (the parser given the configuration and the database's
    facts) and :func:`import_files`, which writes everything in one transaction,
    as the importing user (history rows and audit trail name them), with the
    eligibility, visit window, scoring and safety-alert code the pages use, and
    appends one audit event that sums the import up.

Decisions where the contract is silent
    * Row numbers in messages count data rows from 1 (the header row is not
      counted): ``participants.csv row 1`` is the line after the header.
    * Every non-item column of the contract must be in the header; an item
      column may be absent (not collected). Cells of ids, dates, numbers, 0/1
      and choices are read with surrounding spaces removed; free text is kept
      exactly as written.
    * Files are written with ``\\n`` line ends, minimal quoting, no BOM; a BOM
      is accepted on reading.
    * Spreadsheet safety: a cell that a spreadsheet would run as a formula
      (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and
      not a plain number such as ``-5``) or that starts with ``'`` is written with
      one ``'`` in front (``trial.spreadsheet``). Reading removes exactly one
      leading ``'`` from every cell, so the round trip gives the same text.
    * A cell holding a NUL character is refused (PostgreSQL cannot store it).
    * Canonical numbers: height and weight always with one decimal
      (``160.0``), as the database stores them; an imported value with more
      than one decimal is refused rather than rounded. ``psqi_4`` is stored
      as read: text when the cell has a colon (``6:30``), otherwise a JSON
      number (``7`` an int, ``6.5`` a float), and written back as the shortest
      decimal that reads back as the same number, never in exponent form.
    * An eligible screening that did not consent is imported as ``declined``
      (the file cannot tell "declined" from "still awaiting consent", and an
      imported screening should not sit on anyone's to-do list). Screenings
      are imported without identifying fields, as a woman with a confirmed
      diagnosis (the inclusion criteria, which the file does not carry), with
      every evidence date the screening date, and flagged ``imported``.
    * Allocations: ``arm``, ``pack_code`` and ``randomization_date`` are given
      together or not at all; a pack code without an arm is an error (an
      imported allocation needs its arm, so a blinded export cannot be
      re-imported). A randomized participant needs the baseline columns,
      because randomization requires the baseline form.
    * The baseline is all eleven baseline columns or none of them.
    * ``visits.csv``: a row's questionnaires are the instruments with at least
      one item given; each is scored with ``instruments()[key].score`` and
      stored dated ``visit_date``, mode in person, language en, with
      ``items_not_answered`` when a required item is blank. A follow-up row
      (m1, m3, m6) also closes that scheduled visit as done on ``visit_date``
      (done out of window, reason "imported", when outside its window). A
      row must carry at least one item, except a follow-up row of a
      participant with a procedure date (a visit done with nothing collected).
    * A PHQ-9 whose item 9 raises the alert gets an open safety alert, as one
      entered here would; no notification is sent for imported data.
    * Participants not on study: their open scheduled visits become not
      applicable (withdrawn, lost, excluded) or missed (completed), as
      ``followup.services.status_change`` leaves them; no StatusEvent is made
      (the file has no reason details). Completed needs an m6 row.
    * A serious imported adverse event gets the criterion
      ``medically_important`` (the file has none); action taken ``none``.
    * ``administrations.csv`` (beside the four; optional on import): one row per
      questionnaire with its date, mode and language, so these survive the round
      trip. Each row must name a questionnaire answered in ``visits.csv``; a
      questionnaire without a row is taken as given in person, in English, on
      the visit date.
    * The site's screening and study-id counters are moved past the highest
      imported number that fits the site's id format, so later enrolments do
      not collide with imported ids.
    * The database must hold no screening and no participant (every other
      clinical record hangs from one of them). Randomization lists may exist
      (a trial that continues here), but no imported pack code may equal a
      pack of one of them.
"""

from __future__ import annotations

from .interchange_columns import (
    ADMINISTRATIONS_FILE,
    ADVERSE_EVENT_COLUMNS,
    ADVERSE_EVENTS_FILE,
    ARMS,
    BASELINE_COLUMNS,
    DONE_STATUSES,
    FILES,
    OPTIONAL_FILES,
    PARTICIPANT_COLUMNS,
    PARTICIPANTS_FILE,
    SCREENING_COLUMNS,
    SCREENING_FILE,
    VISITS_FILE,
    Column,
    administration_columns,
    file_columns,
    follow_up_visits,
    item_columns,
    visit_columns,
    visit_order,
)
from .interchange_export import arms_for_export, collect, export_files, write_files
from .interchange_import import (
    DATABASE_NOT_EMPTY,
    DECLINE_REASON,
    IMPORT_REASON,
    IMPORTED_CONSENT_FORM,
    MAX_REPORTED_PROBLEMS,
    OUT_OF_WINDOW_REASON,
    ImportSummary,
    database_problems,
    import_files,
    read_files,
    validation_context,
)
from .interchange_parse import (
    CellError,
    ParsedFile,
    Problem,
    Validated,
    ValidationContext,
    format_cell,
    parse_cell,
)

__all__ = [
    "ADMINISTRATIONS_FILE",
    "ADVERSE_EVENTS_FILE",
    "ADVERSE_EVENT_COLUMNS",
    "ARMS",
    "BASELINE_COLUMNS",
    "DATABASE_NOT_EMPTY",
    "DECLINE_REASON",
    "DONE_STATUSES",
    "FILES",
    "IMPORTED_CONSENT_FORM",
    "IMPORT_REASON",
    "MAX_REPORTED_PROBLEMS",
    "OPTIONAL_FILES",
    "OUT_OF_WINDOW_REASON",
    "PARTICIPANTS_FILE",
    "PARTICIPANT_COLUMNS",
    "SCREENING_COLUMNS",
    "SCREENING_FILE",
    "VISITS_FILE",
    "CellError",
    "Column",
    "ImportSummary",
    "ParsedFile",
    "Problem",
    "ValidationContext",
    "Validated",
    "administration_columns",
    "arms_for_export",
    "collect",
    "database_problems",
    "export_files",
    "file_columns",
    "follow_up_visits",
    "visit_order",
    "format_cell",
    "import_files",
    "item_columns",
    "parse_cell",
    "read_files",
    "validation_context",
    "visit_columns",
    "write_files",
]
