"""Many inputs: which files, where their results go, and running them with a summary.

A batch is a list of :class:`Job` (one input, one output). :func:`plan_jobs` finds the
inputs and names the outputs, refusing collisions and existing outputs up front so that
nothing is half done; :func:`run_jobs` runs a per-file function over them, in worker
processes or on a Dask cluster, and returns a :class:`Summary`.

Examples
--------
>>> plan = plan_jobs(["photo.png"], suffix="sobel", must_exist=False)
>>> plan.jobs[0].dst.name
'photo.sobel.png'
"""
from imgconv.batch.jobs import STDIO, Job, JobPlan, discover, output_path, plan_jobs
from imgconv.batch.run import GRACE_SECONDS, Summary, run_jobs

__all__ = ["STDIO", "Job", "JobPlan", "discover", "output_path", "plan_jobs", "GRACE_SECONDS", "Summary",
           "run_jobs"]
