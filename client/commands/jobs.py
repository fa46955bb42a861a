"""``mllab jobs <verb>``: run an image or a command to completion, now or on a schedule; read its runs."""

from __future__ import annotations

import argparse
import sys

from ..jobs import Jobs, describe_end
from .deployments import (
    confirm,
    non_negative_int,
    options,
    positive_float,
    positive_int,
    print_logs,
    resource_options,
)
from .output import emit, emit_json, fields, listing, short_time, table


def add_jobs(commands: argparse._SubParsersAction) -> None:
    common = options()
    parser = commands.add_parser("jobs", help="run programs to completion, now or on a schedule")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)

    run = verbs.add_parser(
        "run", parents=[common], help="create a job and run it (or run an existing one again)",
        usage="mllab jobs run [options] NAME [-- COMMAND [ARG ...]]",
        description="Create job NAME from --image or a command after -- (mllab jobs run etl -- python etl.py) and "
        "run it now, or on --schedule. With neither image nor command, run the existing job NAME again.",
    )
    run.add_argument("name", help="job name, or groups/<group>/<name>")
    run.add_argument("--image", help="container image (allowed by the admin); a command after -- overrides its own")
    run.add_argument("--schedule", metavar="CRON", help="run on this cron schedule (UTC), e.g. '0 3 * * *', "
                     "instead of now")
    run.add_argument("--namespace", help="users/<user> or groups/<group> (default: your own)")
    resource_options(run)
    run.add_argument("--wait", action="store_true", help="wait until the run ends; exit 1 unless it succeeded")
    run.add_argument("-f", "--follow", action="store_true", help="print the run's log as it comes, then as --wait")
    run.add_argument("--timeout", type=positive_float, default=3600, metavar="SECONDS",
                     help="how long to wait for the run (default 3600)")
    run.set_defaults(run=do_run, check=check_run, after_dashes="job_command")

    listing = verbs.add_parser("list", parents=[common], help="jobs you can read")
    listing.add_argument("--namespace", help="only this namespace (users/<user> or groups/<group>)")
    listing.set_defaults(run=do_list)

    show = verbs.add_parser("show", parents=[common], help="a job and its newest runs")
    show.add_argument("ref", help="e.g. users/alice/etl, or etl for your own")
    show.set_defaults(run=do_show)

    runs = verbs.add_parser("runs", parents=[common], help="the history of a job's runs, newest first")
    runs.add_argument("ref")
    runs.add_argument("--limit", type=positive_int, metavar="N", help="at most N runs")
    runs.set_defaults(run=do_runs)

    logs = verbs.add_parser("logs", parents=[options(json_output=False)], help="the output of a run")
    logs.add_argument("ref")
    logs.add_argument("--run", dest="run_number", type=positive_int, metavar="N",
                      help="run number (default: the newest)")
    logs.add_argument("-f", "--follow", action="store_true", help="go on printing until the run ends")
    logs.add_argument("--tail", type=non_negative_int, metavar="N", help="the last N lines (default 200)")
    logs.set_defaults(run=do_logs)

    cancel = verbs.add_parser("cancel", parents=[common], help="cancel a run")
    cancel.add_argument("ref")
    cancel.add_argument("--run", dest="run_number", type=positive_int, metavar="N",
                        help="run number (default: the newest)")
    cancel.set_defaults(run=do_cancel)

    delete = verbs.add_parser("delete", parents=[common], help="cancel its runs and remove the job with its history")
    delete.add_argument("ref")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=do_delete)


def check_run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    new = args.image is not None or bool(args.job_command)
    if not new:
        given = [f"--{k}" for k in ("schedule", "cpu", "memory", "gpus") if getattr(args, k) is not None]
        if args.env:
            given.append("--env")
        if given:
            parser.error(f"{', '.join(given)}: only for a new job; give --image or a command after --")
    if args.schedule is not None and (args.wait or args.follow):
        parser.error("--wait and --follow are for a run that starts now, not for a schedule")


def run_line(run: dict) -> tuple:
    return (run["number"], run["status"], "" if run.get("exit_code") is None else run["exit_code"],
            run.get("trigger"), short_time(run.get("started_at")), short_time(run.get("finished_at")))


RUN_HEADERS = ["RUN", "STATUS", "EXIT", "TRIGGER", "STARTED", "FINISHED"]


def do_run(api: Jobs, args: argparse.Namespace) -> None:
    spec = {"image": args.image, "env": dict(args.env) or None, "namespace": args.namespace, "cpu": args.cpu,
            "memory": args.memory, "gpus": args.gpus}
    command = args.job_command or None
    if args.schedule is not None:
        job = api.create(args.name, command, schedule=args.schedule, **spec)
        if args.json:
            emit_json(job)
        else:
            print(f"Created {job['full_name']}, on schedule {job.get('schedule')} (UTC); next run "
                  f"{short_time(job.get('next_run')) or 'not planned'}.")
        return
    if command is None and args.image is None:
        run = api.run(args.name, namespace=args.namespace)
    else:
        run = api.run(args.name, command, **spec)
    job = run["job"]
    if args.follow:
        print_logs(api.logs(job, run=run["number"], follow=True))
    if args.wait or args.follow:
        run = wait_run(api, job, run["number"], args)
    if args.json:
        emit_json(run)
    elif run["status"] in ("succeeded", "failed", "cancelled"):
        print(f"Run {run['number']} of {job} {describe_end(run)}.", file=sys.stderr if args.follow else sys.stdout)
    else:
        print(f"Started run {run['number']} of {job}; its log: mllab jobs logs {job} -f")


def wait_run(api: Jobs, job: str, number: int, args: argparse.Namespace) -> dict:
    try:
        run = api.wait(job, number, timeout=args.timeout, progress=False if args.quiet else None)
    except KeyboardInterrupt:
        print(f"mllab: stopped waiting; run {number} of {job} goes on (mllab jobs cancel {job} --run {number}).",
              file=sys.stderr)
        raise SystemExit(130) from None
    if run["status"] != "succeeded":
        if args.json:
            emit_json(run)
        print(f"mllab: error: run {number} of {job} {describe_end(run)}; its log: "
              f"mllab jobs logs {job} --run {number}", file=sys.stderr)
        raise SystemExit(1)
    return run


def do_list(api: Jobs, args: argparse.Namespace) -> None:
    def row(job: dict) -> tuple:
        last = (job.get("runs") or [None])[0]
        return (job["full_name"], job.get("schedule") or "-", short_time(job.get("next_run")) or "-",
                f"{last['number']} {describe_end(last)}" if last else "-",
                " ".join(job.get("command") or []) or job.get("image") or "")

    listing(api.list(namespace=args.namespace), args.json, ["NAME", "SCHEDULE", "NEXT RUN", "LAST RUN", "RUNS"],
            row, empty="No jobs found.")


def do_show(api: Jobs, args: argparse.Namespace) -> None:
    job = api.get(args.ref)
    if args.json:
        emit_json(job)
        return
    fields([("name", job["full_name"]), ("image", job.get("image")), ("command", " ".join(job.get("command") or [])),
            ("env", job.get("env")), ("resources", job.get("resources")), ("schedule", job.get("schedule")),
            ("next run", short_time(job.get("next_run"))),
            ("created", f"{short_time(job.get('created_at'))} by {job.get('created_by')}")])
    if job.get("runs"):
        print()
        table(RUN_HEADERS, [run_line(r) for r in job["runs"]])


def do_runs(api: Jobs, args: argparse.Namespace) -> None:
    listing(api.runs(args.ref, limit=args.limit), args.json, RUN_HEADERS, run_line)


def do_logs(api: Jobs, args: argparse.Namespace) -> None:
    print_logs(api.logs(args.ref, run=args.run_number, tail=args.tail, follow=args.follow))


def do_cancel(api: Jobs, args: argparse.Namespace) -> None:
    run = api.cancel(args.ref, run=args.run_number)
    if args.json:
        emit_json(run)
    else:
        print(f"Run {run['number']} of {run['job']}: {run['status']}.")


def do_delete(api: Jobs, args: argparse.Namespace) -> None:
    ref = api.ref(args.ref)
    confirm(f"job {ref.full_name} with its runs and their logs", args.yes)
    api.delete(ref)
    emit(args.json, {"deleted": ref.full_name}, f"Deleted job {ref.full_name}.")
