"""`dialer simulate`: the pacing what-if tool and benchmark (pacing.simulator)."""

from __future__ import annotations

import json
import os
import tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pacing.bench import (
    RunSpec,
    gap_closure,
    optimum_for,
    run_one,
    scenario_from_mapping,
    summarize,
    talk_duration,
)
from pacing.policies import POLICY_NAMES
from pacing.policy import PacingDecision
from pacing.simulator import Scenario, TickTrace
from pacing.snapshot import CampaignSnapshot
from pacing.world import Duration, WorldModel


def _build_scenario(
    scenario_file: Path | None, agents: int | None, hit_rate: float | None,
    machine_rate: float | None, talk_mean: float | None, talk_dist: str | None,
    talk_cv: float | None, wrap_mean: float | None, hours: float | None,
    connect_timeout: float | None, patience_mean: float | None, amd: bool | None,
    amd_accuracy: float | None, drift_to: float | None, churn: bool | None,
    cold_start: bool | None, max_dial_level: float | None, cap: float | None,
) -> tuple[Scenario, dict[str, Any]]:
    file_data: dict[str, Any] = {}
    sc = Scenario(name="what-if", world=WorldModel(wrap=Duration.fixed(20.0)))
    if scenario_file is not None:
        file_data = tomllib.loads(scenario_file.read_text())
        sc = scenario_from_mapping(file_data, sc)
    w = sc.world
    changes: dict[str, Any] = {}
    if hit_rate is not None:
        changes["human_rate"] = hit_rate
    if machine_rate is not None:
        changes["machine_rate"] = machine_rate
    if talk_mean is not None or talk_dist is not None or talk_cv is not None:
        changes["talk"] = talk_duration(
            talk_dist or w.talk.kind, talk_mean if talk_mean is not None else w.talk.expected,
            talk_cv if talk_cv is not None else w.talk.cv,
        )
    if wrap_mean is not None:
        changes["wrap"] = Duration.fixed(wrap_mean)
    if patience_mean is not None:
        changes["patience"] = Duration.exponential(patience_mean)
    if amd_accuracy is not None:
        changes["amd_false_positive"] = 1.0 - amd_accuracy
        changes["amd_false_negative"] = 1.0 - amd_accuracy
    if changes:
        w = w.with_overrides(**changes)
    limits = sc.limits
    if max_dial_level is not None:
        limits = replace(limits, max_dial_level=max_dial_level)
    sc = replace(
        sc,
        world=w,
        limits=limits,
        agents=agents if agents is not None else sc.agents,
        hours=hours if hours is not None else sc.hours,
        connect_timeout=connect_timeout if connect_timeout is not None else sc.connect_timeout,
        amd=amd if amd is not None else sc.amd,
        churn=churn if churn is not None else sc.churn,
        cold_start=cold_start if cold_start is not None else sc.cold_start,
        abandon_cap=cap if cap is not None else sc.abandon_cap,
        drift=(drift_to, 3600.0, 3600.0) if drift_to is not None else sc.drift,
    )
    return sc, file_data


def _tick_writer(out: IO[str], policy: str, seed: int) -> TickTrace:
    def write(snap: CampaignSnapshot, decision: PacingDecision, answers: int, abandons: int) -> None:
        row: dict[str, Any] = {
            "policy": policy, "seed": seed, "t": snap.now, "ready": snap.agents_ready,
            "talking": len(snap.talk_elapsed), "wrapping": len(snap.wrap_elapsed),
            "ringing": len(snap.ringing_elapsed), "waiting": len(snap.waiting_elapsed),
            "calls": decision.calls, "reason": decision.reason,
            "dial_level": round(decision.dial_level, 3), "answers": answers, "abandons": abandons,
        }
        row.update(decision.details)
        out.write(json.dumps(row) + "\n")
    return write


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario_file: Annotated[Path | None, typer.Option(
            "--scenario", exists=True, dir_okay=False,
            help="TOML scenario; flags override it.")] = None,
        agents: Annotated[int | None, typer.Option(help="Agents logged in (default 20).")] = None,
        hit_rate: Annotated[float | None, typer.Option(
            help="Share of dials a person answers (default 0.30).")] = None,
        machine_rate: Annotated[float | None, typer.Option(
            help="Share of dials a machine answers.")] = None,
        talk_mean: Annotated[float | None, typer.Option(help="Mean talk seconds (180).")] = None,
        talk_dist: Annotated[str | None, typer.Option(
            help="exponential | lognormal | fixed.")] = None,
        talk_cv: Annotated[float | None, typer.Option(help="Lognormal talk CV.")] = None,
        wrap_mean: Annotated[float | None, typer.Option(help="Wrap-up seconds (20).")] = None,
        hours: Annotated[float | None, typer.Option(help="Shift length (8).")] = None,
        connect_timeout: Annotated[float | None, typer.Option(
            help="Seconds an answered call may wait for an agent (2).")] = None,
        patience_mean: Annotated[float | None, typer.Option(
            help="Mean customer patience in the queue (30).")] = None,
        amd: Annotated[bool | None, typer.Option("--amd/--no-amd", help="Run AMD.")] = None,
        amd_accuracy: Annotated[float | None, typer.Option(
            help="AMD accuracy both ways (e.g. 0.85).")] = None,
        drift_to: Annotated[float | None, typer.Option(
            help="Hit rate drifts to this during the second hour.")] = None,
        churn: Annotated[bool | None, typer.Option(
            "--churn/--no-churn", help="Agents log in late, leave early, take breaks.")] = None,
        cold_start: Annotated[bool | None, typer.Option(
            "--cold-start/--no-cold-start", help="Misleading estimator priors.")] = None,
        max_dial_level: Annotated[float | None, typer.Option(
            help="Cap on calls in flight per active agent (3).")] = None,
        cap: Annotated[float | None, typer.Option(
            help="Abandon cap as a fraction of human answers (0.03).")] = None,
        policy: Annotated[list[str] | None, typer.Option(
            "--policy", "-p", help="Policy to run (repeatable) or 'all'.")] = None,
        seed: Annotated[int, typer.Option(help="First seed.")] = 1,
        seeds: Annotated[int, typer.Option(help="Number of seeds (common random numbers).")] = 1,
        workers: Annotated[int, typer.Option(help="Worker processes (max 2 advised).")] = 1,
        optimum: Annotated[bool, typer.Option(
            "--optimum/--no-optimum", help="Compute the CMDP optimum when exponential.")] = True,
        as_json: Annotated[bool, typer.Option(
            "--json", help="One JSON object per policy per line.")] = False,
        trace: Annotated[Path | None, typer.Option(
            "--trace", metavar="<file>",
            help="Write every pacing tick of the first seed (one policy) as JSON lines: what "
                 "the policy saw, decided and why; scripts/pacing_calibration.py reads it.")] = None,
    ) -> None:
        """What-if and benchmark: simulate shifts under pacing policies and compare them."""
        sc, file_data = _build_scenario(
            scenario_file, agents, hit_rate, machine_rate, talk_mean, talk_dist, talk_cv,
            wrap_mean, hours, connect_timeout, patience_mean, amd, amd_accuracy, drift_to,
            churn, cold_start, max_dial_level, cap,
        )
        names = list(policy or file_data.get("policies", ["all"]))
        if "all" in names:
            names = list(POLICY_NAMES)
        for n in names:
            if n not in POLICY_NAMES:
                raise typer.BadParameter(f"unknown policy {n!r}; known: {', '.join(POLICY_NAMES)}")
        if trace is not None and len(names) != 1:
            raise typer.BadParameter("--trace follows one policy: choose it with -p", param_hint="--trace")
        settings: dict[str, dict[str, Any]] = dict(file_data.get("policy", {}))
        run_names = list(names)
        if optimum and sc.is_exponential and "progressive" not in run_names:
            run_names.append("progressive")  # baseline for the gap closure
        seeds_list = [seed + i for i in range(max(1, seeds))]
        specs = [RunSpec(sc, n, s, settings.get(n, {})) for n in run_names for s in seeds_list]
        console = Console(stderr=True)
        rows: list[dict[str, Any]] = []
        show_progress = len(specs) > 1 and not os.environ.get("DIALER_NO_PROGRESS")
        with Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
            console=console, disable=not show_progress, transient=True,
        ) as progress:
            task = progress.add_task("simulating", total=len(specs))
            if trace is not None:
                # The traced shift runs here (a trace cannot cross to a worker process).
                traced = specs.pop(0)
                with trace.open("w", encoding="utf-8") as out_file:
                    rows.append(run_one(traced, trace=_tick_writer(out_file, traced.policy, traced.seed)))
                progress.advance(task)
            if workers > 1:
                with ProcessPoolExecutor(max_workers=min(workers, 2)) as pool:
                    for row in pool.map(run_one, specs):
                        rows.append(row)
                        progress.advance(task)
            else:
                for spec in specs:
                    rows.append(run_one(spec))
                    progress.advance(task)
        opt = optimum_for(sc) if optimum else None
        summaries = {n: summarize([r for r in rows if r["policy"] == n]) for n in run_names}
        prog_busy = summaries["progressive"]["busy"] if "progressive" in summaries else None
        out: list[dict[str, Any]] = []
        for n in names:
            s = summaries[n]
            obj: dict[str, Any] = {
                "policy": n, "seeds": len(seeds_list), "agents": sc.agents, "hours": sc.hours,
                "occupancy": s["occupancy"], "busy": s["busy"],
                "abandon_rate": s["abandon_rate"], "abandon_rate_max": s["abandon_rate_max"],
                "abandon_rate_worst_hour": s["abandon_rate_worst_hour"],
                "abandon_rate_first_30min": s["abandon_rate_first_30min"],
                "calls_per_agent_hour": s["calls_per_agent_hour"],
                "mean_agent_wait_s": s["mean_agent_wait_s"],
                "p90_agent_wait_s": s["p90_agent_wait_s"],
                "dials_per_connect": s["dials_per_connect"],
                "attempts": s["attempts"], "human_answers": s["human_answers"],
                "abandons": s["abandons"], "occupancy_ci95": s["occupancy_ci95"],
                "busy_ci95": s["busy_ci95"], "abandon_rate_ci95": s["abandon_rate_ci95"],
                "optimum_busy": opt.busy if opt else None,
                "gap_closure": (gap_closure(s["busy"], prog_busy, opt.busy)
                                if opt and prog_busy is not None else None),
            }
            errs = [e for r in rows if r["policy"] == n for e in r["conservation_errors"]]
            if errs:
                obj["conservation_errors"] = errs
            out.append(obj)
        if as_json:
            for obj in out:
                typer.echo(json.dumps(obj))
            return
        table = Table(title=(
            f"{sc.agents} agents, hit rate {sc.world.human_rate:.2f}, talk "
            f"{sc.world.talk.kind} {sc.world.talk.expected:.0f}s, {sc.hours:g} h, "
            f"{len(seeds_list)} seed(s)"))
        for col in ("policy", "occupancy", "busy", "abandon %", "worst hour %",
                    "calls/agent-h", "agent wait s", "dials/connect", "gap closure"):
            table.add_column(col, justify="left" if col == "policy" else "right")
        for obj in out:
            g = obj["gap_closure"]
            table.add_row(
                obj["policy"], f"{obj['occupancy']:.3f}", f"{obj['busy']:.3f}",
                f"{100 * obj['abandon_rate']:.2f}", f"{100 * obj['abandon_rate_worst_hour']:.2f}",
                f"{obj['calls_per_agent_hour']:.1f}", f"{obj['mean_agent_wait_s']:.1f}",
                f"{obj['dials_per_connect']:.2f}", "-" if g is None else f"{g:.2f}",
            )
        if opt is not None:
            table.add_row("optimum (CMDP)", f"{opt.occupancy:.3f}", f"{opt.busy:.3f}",
                          f"{100 * opt.abandon_ratio:.2f}", "", "", "", "", "1.00")
        Console().print(table)


__all__ = ["register"]
