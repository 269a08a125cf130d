"""Pacing: how many calls to place now. Pure code: no asyncio, SQL or sockets.

Public API (see `pacing.policy` for the per-tick engine loop):

- `CampaignSnapshot`, `Limits`, `AbandonHeadroom` (pacing.snapshot): what a policy sees.
- `PacingDecision`, `Policy`, `PacingReason` (pacing.policy): what it answers.
- `make_policy(name, **settings)`, `POLICY_NAMES` (pacing.policies): progressive, ratio,
  adaptive (VICIdial ADAPT_AVERAGE), pi (UNICOM overdial), predictive (model-based).
- `share_floor`, `FloorAgent`, `FloorCampaign`, `FloorShare` (pacing.floor): one pool of
  agents shared among campaigns, each campaign's share for its snapshot.
- `Estimators` (pacing.estimators): online hit rate, outcome shares, ring, talk and
  wrap-up distributions, agent-free forecasts; the engine feeds it outcomes.
- `Scenario`, `simulate` (pacing.simulator): the discrete-event call-centre simulator.
- `solve_optimum` (pacing.optimum, needs numpy; not imported here so the engine does not
  pay for it): the constrained-MDP optimum for exponential scenarios.
- pacing.bench: scenario grid, batch runs and aggregation for `dialer simulate` and
  scripts/bench_pacing.py.
- pacing.sampler, pacing.reference, pacing.sampler_report: drawn scenarios, their labelled
  reference optimum and the report of scripts/bench_pacing_sampler.py.
- pacing.batch: many shifts over worker processes, each row appended to a file as it ends
  (the benchmark scripts that read the sampler's results back; not used by the engine).
"""

from pacing.estimators import Estimators
from pacing.policies import POLICY_NAMES, make_policy
from pacing.policy import PacingDecision, PacingReason, Policy
from pacing.simulator import Scenario, SimResult, simulate
from pacing.snapshot import AbandonHeadroom, CampaignSnapshot, Limits

__all__ = [
    "POLICY_NAMES",
    "AbandonHeadroom",
    "CampaignSnapshot",
    "Estimators",
    "Limits",
    "PacingDecision",
    "PacingReason",
    "Policy",
    "Scenario",
    "SimResult",
    "make_policy",
    "simulate",
]
