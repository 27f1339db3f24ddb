"""The forecast ledger: every forecast issued, kept, and scored against what then happened.

``schema`` declares the tables (made by the one migration runner, revision 0004),
``records`` writes and reads them (immutable forecasts, one score per forecast),
``scoring`` scores forecasts whose target day has become known and sums a model's track
record, ``tracked`` names the models the daily job runs, and ``daily`` is that job.
The package sits above ``api``: it forecasts through the same pipeline every caller uses,
and the CLI and the server call it; nothing below it imports it.
"""
