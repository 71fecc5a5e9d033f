"""Dagster wiring only: the logic lives in the library packages. Nothing outside ``defs``
imports ``defs`` except the code location (``intraday_jules.definitions``) and the demo.

One slice per area (``ingestion``, ``quality``, ``features``, ``models``, ``trading``), each a
package with one file per kind of definition, as in dagster-open-platform: ``assets.py``,
``checks.py``, ``jobs.py``, ``schedules.py``, ``sensors.py`` and ``resources.py`` where the area
has them, and ``definitions.py`` (``build_<area>_defs(settings) -> dg.Definitions``). Slices
import ``defs.common`` (partitions, shared asset keys and job names, shared resources) and never
each other (an import-linter ``independence`` contract); a job or dependency that crosses slices
names the other slice's asset by key.
"""
