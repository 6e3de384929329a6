"""Bounds of the numbers that name database rows.

Ids are signed 64-bit integers (BigAutoField on MariaDB, SQLite's INTEGER): a number
above ``MAX_ID`` names no row, and on SQLite it does not even reach the query
(``OverflowError``: a 500). Every input field that carries an id (query parameters,
bodies, forms) is bounded by it, so such a number is a 400 like any other invalid
value."""

MAX_ID = 2**63 - 1
