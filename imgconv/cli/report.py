"""``--json`` for the commands that write images: one JSON object describing the whole run.

The object (printed alone on stdout at the end of ``imgconv filter``/``deconvolve``)::

    {"command": "filter",
     "inputs": ["a.png", ...], "outputs": ["a.blur.png", ...],
     "files": [{"input": "a.png", "output": "a.blur.png", "status": "done", "error": null,
                "notes": []}, ...],
     "ignored": ["notes.txt"],
     "counts": {"done": 1, "skipped": 0, "failed": 0, "not_run": 0},
     "seconds": 0.12, "interrupted": false}

``status`` is ``done``, ``skipped`` (the output existed; ``--skip-existing``), ``failed``
(``error`` says why) or ``not_run`` (the run was interrupted first).  ``inputs`` lists
every input file of the plan, ``outputs`` the files written.  The exit code is the same
as without ``--json``.

Examples
--------
>>> from imgconv.batch import Job, JobPlan, Summary
>>> plan = JobPlan([Job("a.png", "a.blur.png"), Job("b.png", "b.blur.png")])
>>> summary = Summary(done=1, failed=[("b.png", "b.png: cannot decode image")], finished=["a.png"])
>>> report = batch_report("filter", plan, summary)
>>> [f["status"] for f in report["files"]], report["counts"]["failed"], report["outputs"]
(['done', 'failed'], 1, ['a.blur.png'])
"""


def batch_report(command, plan, summary):
    """The ``--json`` object of a run of ``command`` (a dict, ready for ``json.dumps``)."""
    failed = {str(src): reason for src, reason in summary.failed}
    finished = {str(src) for src in summary.finished}
    notes = {}
    for src, note in summary.notes:
        notes.setdefault(str(src), []).append(note)
    files = []
    for job in plan.jobs:
        src = str(job.src)
        if src in failed:
            files.append(_entry(job, "failed", failed[src], notes))
        else:
            files.append(_entry(job, "done" if src in finished else "not_run", None, notes))
    files += [_entry(job, "skipped", None, notes) for job in plan.skipped]
    if plan.skipped:  # in the order of the inputs, as found (jobs and skipped ones interleave)
        position = {str(src): n for n, src in enumerate(plan.order)}
        files.sort(key=lambda f: position.get(f["input"], len(position)))
    counts = {status: sum(f["status"] == status for f in files) for status in ("done", "skipped", "failed", "not_run")}
    return {
        "command": command,
        "inputs": [f["input"] for f in files],
        "outputs": [f["output"] for f in files if f["status"] == "done"],
        "files": files,
        "ignored": [str(path) for path in plan.ignored],
        "counts": counts,
        "seconds": round(summary.seconds, 3),
        "interrupted": summary.interrupted,
    }


def _entry(job, status, error, notes):
    return {"input": str(job.src), "output": str(job.dst), "status": status, "error": error,
            "notes": notes.get(str(job.src), [])}


def print_report(command, plan, summary):
    """Print :func:`batch_report` as one line of JSON on stdout."""
    import json

    import click

    click.echo(json.dumps(batch_report(command, plan, summary)))
