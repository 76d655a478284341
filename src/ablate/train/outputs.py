"""A run's tables as they grow, and writing them into the run directory.

Columns are kept as plain Python lists (one per column of tables.TABLES): cheap to append
every step, cheap to put in a checkpoint, and exactly the declared columns when written.
Files are written atomically (ablate.store.atomic); summary.json is written last by the loop, so its
presence means the run's other files are complete.
"""

from __future__ import annotations

from pathlib import Path

from ablate.store.atomic import write_parquet
from ablate.store.tables import TABLES


class Recorder:
    def __init__(self, columns: dict[str, dict[str, list]] | None = None):
        fresh = {name: {c: [] for c in TABLES[name]} for name in TABLES}
        # a checkpoint of older code lacks the tables added since: they start empty
        self.columns = fresh | (columns or {})

    def add(self, table: str, rows: list[dict]) -> None:
        cols = self.columns[table]
        for row in rows:
            for name, values in cols.items():
                values.append(row[name])

    def column(self, table: str, name: str) -> list:
        return self.columns[table][name]

    def write(self, run_dir: Path) -> None:
        import pandas as pd

        for name, cols in self.columns.items():
            frame = pd.DataFrame(cols, columns=list(TABLES[name]))
            write_parquet(Path(run_dir) / f"{name}.parquet", frame)
