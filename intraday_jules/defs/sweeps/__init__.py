"""The sweeps slice: ``sweep_job`` (K worker steps pulling trials from one Optuna study, then a
summary) and ``sweep_job_celery`` (the same graph on dagster-celery, so the worker steps run on
Celery workers of any number of machines), and the asset ``models/sweep_report``, one dynamic
partition per study. The logic is ``intraday_jules.pipelines.sweep``; this package only wires.
See docs/sweeps_scale_out.md."""
