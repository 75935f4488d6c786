"""Issue #15 over real HTTP against the simulator: claimed enrollments, the drift report, policy.drift and
undo (DESIGN §4 ``ownership: claimed``, §7 "Drift and undo"). Canvas's truth is read from the simulator
(``Simulator.enrollments()``), never from the tool's own answers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from apply_world import ROOT
from click.testing import CliRunner

from reconcile.apply import Journal
from reconcile.apply.claims import ClaimSet
from reconcile.canvas import CanvasClient
from reconcile.cli import cli
from reconcile.plan import Request

EXAMPLE = ROOT / "examples" / "sis-export"
CONFIG = """\
manage:
  roles: [student, teacher, ta, observer, designer, Grader]
  ownership: {ownership}
policy:
  drift: {drift}
guards:
  max_drop_percent: 100
  max_drops: 1000
roster:
  custom_roles:
    Grader: ta
state_dir: state
"""
S0002_MATH = 1005  # Ben Carter's MATH101 enrollment: active in the seed and in the roster
HIROSHI = 9  # a TA of BIO110, not of MATH101
COMPARED = ("workflow_state", "course_section_id", "start_at", "end_at", "limit_privileges_to_course_section")


class Site:
    """A folder with the example SIS export, a config and a state dir, against the simulator."""

    def __init__(self, university: Any, folder: Path) -> None:
        self.university = university
        self.sim = university.simulator
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.roster = folder / "enrollments.csv"
        self.roster.write_text((EXAMPLE / "enrollments.csv").read_text(encoding="utf-8"), encoding="utf-8")
        self.config = folder / "reconcile.yaml"
        self.configure()
        self.env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}
        self.client = CanvasClient(university.url, university.token)

    def configure(self, *, ownership: str = "all", drift: str = "revert") -> None:
        self.config.write_text(CONFIG.format(ownership=ownership, drift=drift), encoding="utf-8")

    def run(self, *args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(cli, [*args, "-c", str(self.config)], env=self.env, input=input)

    def plan(self, name: str = "plan.json", *rosters: Path) -> tuple[Any, dict[str, Any]]:
        out = self.folder / name
        result = self.run("plan", *(str(r) for r in rosters or (self.roster,)), "--out", str(out))
        assert result.exit_code == 0, result.output
        return result, json.loads(out.read_text(encoding="utf-8"))

    def apply(self, name: str = "plan.json", *flags: str) -> Any:
        result = self.run("apply", str(self.folder / name), *flags)
        assert result.exit_code == 0, result.output
        return result

    @property
    def writes(self) -> int:
        return int(self.sim.stats()["writes"])

    def truth(self) -> dict[int, dict[str, Any]]:
        return {int(e["id"]): e for e in self.sim.enrollments()}

    def runs(self) -> list[Any]:
        with Journal.in_state_dir(self.folder / "state") as journal:
            return journal.runs()

    def claims(self) -> ClaimSet:
        return ClaimSet.load(self.folder / "state", canvas_url=self.university.url, account="self")


@pytest.fixture()
def site(university: Any, tmp_path: Path) -> Any:
    made = Site(university, tmp_path / "site")
    yield made
    made.client.close()


def conclude_by_hand(site: Site, enrollment_id: int) -> None:
    course = site.truth()[enrollment_id]["course_id"]
    site.client.send(
        Request("DELETE", f"/api/v1/courses/{course}/enrollments/{enrollment_id}", {"task": "conclude"})
    )


def add_ta_by_hand(site: Site) -> int:
    answer = site.client.send(
        Request(
            "POST",
            "/api/v1/courses/101/enrollments",
            {
                "enrollment[user_id]": str(HIROSHI),
                "enrollment[type]": "TaEnrollment",
                "enrollment[enrollment_state]": "active",
            },
        )
    )
    return int(answer["id"])


def ops_on(plan: dict[str, Any], enrollment_id: int) -> list[str]:
    return [op["action"] for op in plan["operations"] if (op["before"] or {}).get("id") == enrollment_id]


def test_apply_claims_what_it_created_and_what_the_roster_matched(site: Site) -> None:
    _, plan = site.plan()
    site.apply()
    claims = {c.enrollment_id: c for c in site.claims().records()}
    created = {c.enrollment_id for c in claims.values() if c.how == "created"}
    enrolls = [op for op in plan["operations"] if op["action"] == "enroll"]
    assert len(created) == len(enrolls) == 4
    assert all(site.truth()[eid]["workflow_state"] == "active" for eid in created)
    matched = {int(i) for ids in plan["claims"]["new"].values() for i in ids}
    assert matched <= set(claims) and S0002_MATH in matched
    assert 1207 not in claims  # concluded as absent from the roster: acted on, never matched
    run_id = site.runs()[0].run_id
    assert {c.run_id for c in claims.values()} == {run_id}
    # the next plan finds nothing new to claim and nothing to do
    _, again = site.plan("again.json")
    assert again["operations"] == [] and again["claims"]["new"] == {}
    assert again["claims"]["count"] == len(claims)


def test_drift_ownership_and_policy_acceptance(site: Site) -> None:
    """The issue's acceptance, step by step, over real HTTP."""
    site.plan()
    site.apply()
    clean = site.run("drift")
    assert clean.exit_code == 0, clean.output
    assert "No drift" in clean.output

    conclude_by_hand(site, S0002_MATH)
    ta = add_ta_by_hand(site)
    writes = site.writes

    report = site.run("drift")
    assert report.exit_code == 2, report.output
    assert "sis_user_id:S0002" in report.output and "state active -> completed" in report.output
    assert "sis_user_id:G2003" in report.output and "not claimed by this tool" in report.output
    detailed = site.run("drift", str(site.roster), "--output", "json")
    assert detailed.exit_code == 2, detailed.output
    data = json.loads(detailed.output)
    items = {item["enrollment_id"]: item for item in data["items"]}
    assert set(items) == {S0002_MATH, ta}
    concluded, added = items[S0002_MATH], items[ta]
    assert concluded["kind"] == "changed" and concluded["changes"]["state"] == {
        "left": "active",
        "now": "completed",
    }
    assert concluded["updated_at"] and concluded["left_by_run"] == site.runs()[0].run_id
    assert concluded["next_plan"] == "restore (state_differs)"
    assert added["kind"] == "appeared" and added["created_at"] and added["role"] == "TaEnrollment"
    assert added["next_plan"].startswith("conclude (absent_from_roster)")  # ownership all drops it
    markdown = site.run("drift", "--output", "markdown")
    assert markdown.exit_code == 2 and "| `~` | changed |" in markdown.output
    assert site.writes == writes  # drift only reads

    # ownership: claimed leaves the hand-added TA alone, and says so
    site.configure(ownership="claimed")
    shown, claimed = site.plan("claimed.json")
    assert ops_on(claimed, ta) == [] and claimed["summary"]["not_claimed"] == 1
    assert "1 enrollment not claimed by this tool left unchanged" in shown.output
    assert ops_on(claimed, S0002_MATH) == ["restore"]  # revert: the roster wins
    again = site.run("drift", str(site.roster), "--output", "json")
    by_id = {i["enrollment_id"]: i for i in json.loads(again.output)["items"]}
    assert by_id[ta]["next_plan"] == "nothing: not claimed by this tool (manage.ownership: claimed)"

    # policy.drift: keep does not restore the concluded student, and says why
    site.configure(ownership="claimed", drift="keep")
    shown, kept = site.plan("kept.json")
    assert ops_on(kept, S0002_MATH) == [] and ops_on(kept, ta) == []
    (warning,) = [w for w in kept["warnings"] if w["code"] == "drift_kept"]
    assert warning["user"] == "sis_user_id:S0002"
    assert warning["message"].startswith("kept: changed in Canvas on ")
    assert "kept: changed in Canvas on" in shown.output
    keep_report = json.loads(site.run("drift", str(site.roster), "--output", "json").output)
    assert {i["enrollment_id"]: i["next_plan"] for i in keep_report["items"]}[S0002_MATH] == (
        "nothing: the hand change is kept (policy.drift: keep)"
    )

    # policy.drift: warn restores, with a warning; revert restores; applying it clears that drift
    site.configure(ownership="claimed", drift="warn")
    _, warned = site.plan("warned.json")
    assert ops_on(warned, S0002_MATH) == ["restore"]
    assert [w["code"] for w in warned["warnings"] if w["code"].startswith("drift")] == ["drift_reverted"]
    site.configure(ownership="claimed", drift="revert")
    site.plan("revert.json")
    site.apply("revert.json")
    assert site.truth()[S0002_MATH]["workflow_state"] == "active"
    assert site.truth()[ta]["workflow_state"] == "active"  # still not ours, still there
    # that apply read MATH101 again and left the TA there unclaimed: it is no longer news
    after = site.run("drift", "--output", "json")
    assert after.exit_code == 0, after.output
    assert json.loads(after.output)["items"] == []


def test_a_claimed_plan_is_stale_when_the_claim_set_changes_but_not_for_its_own_claims(site: Site) -> None:
    site.configure(ownership="claimed")
    site.plan()
    site.apply()  # claims everything the roster matched, and what it created
    site.apply()  # the same plan again resumes: its own claims do not make it stale
    _, plan = site.plan("second.json")
    assert plan["operations"] == []
    claims = site.claims()
    claims.frame = claims.frame.iloc[1:]  # restore an older backup: one claim fewer
    claims.save()
    refused = site.run("apply", str(site.folder / "second.json"))
    assert refused.exit_code == 4, refused.output
    assert "claim set" in refused.output
    assert site.runs()[0].outcome == "stale"


def touched_by(site: Site, run_id: str) -> dict[int, dict[str, Any] | None]:
    """Enrollment id -> its state before run ``run_id`` (None for one the run created)."""
    from reconcile.apply.ledger import Ledger

    with Ledger.in_state_dir(site.folder / "state") as ledger:
        _, _, effects = ledger.run_effects(run_id)
    out: dict[int, dict[str, Any] | None] = {}
    for effect in effects:
        before = effect.operation.before
        eid = int(before["id"]) if before else int(effect.record.enrollment_id)
        out.setdefault(eid, before)
    return out


def test_undo_of_the_first_run_puts_every_enrollment_back_and_a_second_undo_writes_nothing(
    site: Site,
) -> None:
    seed = site.truth()
    site.plan()
    site.apply()
    first = site.runs()[0].run_id
    touched = touched_by(site, first)
    assert len(touched) == 10 and None in touched.values()

    made = site.run("undo", first, "--out", str(site.folder / "undo.json"))
    assert made.exit_code == 0, made.output
    undo = json.loads((site.folder / "undo.json").read_text(encoding="utf-8"))
    assert undo["policy"]["undo"]["run_id"] == first and undo["inputs"] == []
    assert undo["fingerprints"] and all(
        op["request"]["path"].startswith("/api/v1/") for op in undo["operations"]
    )
    site.apply("undo.json")

    truth = site.truth()
    for eid, before in touched.items():
        now = truth[eid]
        if before is None:  # created by the run: deleted again
            assert now["workflow_state"] == "deleted", (eid, now)
            continue
        then = seed[eid]  # same id, and everything compared as before the run
        assert {k: now.get(k) for k in COMPARED} == {k: then.get(k) for k in COMPARED}, eid
        assert before["state"] == then["workflow_state"]

    writes = site.writes
    site.apply("undo.json")  # the same undo plan again: resumes, writes nothing
    assert site.writes == writes
    again = site.run("undo", first, "--out", str(site.folder / "undo2.json"))
    assert again.exit_code == 0, again.output
    assert json.loads((site.folder / "undo2.json").read_text())["operations"] == []
    site.apply("undo2.json")
    assert site.writes == writes
    history = site.run("history")
    undo_run = next(r.run_id for r in reversed(site.runs()) if r.plan_id == undo["plan_id"])
    line = next(line for line in history.output.splitlines() if line.startswith(first))
    assert f"[undone by {undo_run}]" in line


def test_undo_reports_an_enrollment_changed_since_the_run_and_leaves_it(site: Site) -> None:
    site.plan()
    site.apply()
    first = site.runs()[0].run_id
    # the run concluded 1207 (absent from the roster); a teacher then deleted it by hand
    site.client.send(Request("DELETE", "/api/v1/courses/103/enrollments/1207", {"task": "delete"}))
    made = site.run("undo", first, "--out", str(site.folder / "undo.json"), "--output", "json")
    assert made.exit_code == 0, made.output
    undo = json.loads((site.folder / "undo.json").read_text())
    assert ops_on(undo, 1207) == []
    (warning,) = [w for w in undo["warnings"] if w["code"] == "undo_changed_since_run"]
    assert "enrollment 1207" in warning["message"] and "state completed -> deleted" in warning["message"]
    site.apply("undo.json")
    assert site.truth()[1207]["workflow_state"] == "deleted"  # not clobbered


def test_undo_only_removals_restores_without_deleting_what_the_run_added(site: Site) -> None:
    site.plan()
    site.apply()
    first = site.runs()[0].run_id
    made = site.run("undo", first, "--out", str(site.folder / "undo.json"), "--only", "removals")
    assert made.exit_code == 0, made.output
    undo = json.loads((site.folder / "undo.json").read_text())
    assert {op["action"] for op in undo["operations"]} == {"restore"}
    assert {op["before"]["id"] for op in undo["operations"]} == {1107, 1207}  # the move's old row, the drop
    site.apply("undo.json")
    created = [c.enrollment_id for c in site.claims().records() if c.how == "created"]
    assert all(site.truth()[eid]["workflow_state"] == "active" for eid in created)


def test_undo_of_an_unknown_run_or_one_that_wrote_nothing_is_an_error(site: Site) -> None:
    missing = site.run("undo", "20990101T000000Z-000000", "--out", str(site.folder / "u.json"))
    assert missing.exit_code == 1 and "no apply runs recorded" in missing.output
    site.plan()
    site.apply()
    unknown = site.run("undo", "nope", "--out", str(site.folder / "u.json"))
    assert unknown.exit_code == 1 and "no run 'nope'" in unknown.output
    assert not (site.folder / "u.json").exists()


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_claim_takes_over_without_writing_to_canvas_and_ownership_claimed_then_drops_only_those(
    site: Site,
) -> None:
    refused = site.run("claim", str(site.roster))
    assert refused.exit_code == 1 and "no terminal" in refused.output
    assert not site.claims().path.exists()
    shown = site.run("claim", str(site.roster), "--auto-approve")
    assert shown.exit_code == 0, shown.output
    assert "Would claim 39 enrollments in 3 courses (0 already claimed)" in shown.output
    assert site.writes == 0  # Canvas is only read
    claims = site.claims()
    assert len(claims) == 39 and {c.how for c in claims.records()} == {"claimed"}
    assert site.runs()[0].outcome == "claimed"
    again = site.run("claim", str(site.roster), "--output", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["claimed"] == 0

    # under claimed, a student the roster no longer lists is dropped because she is claimed;
    # live enrollments no roster row ever matched are left alone
    site.configure(ownership="claimed")
    rows = [r for r in rows_of(site.roster) if r["user_id"] != "S0003" or r["course_id"] != "MATH101-F26"]
    shorter = site.folder / "shorter.csv"
    with open(shorter, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _, plan = site.plan("shorter.json", shorter)
    drops = [op for op in plan["operations"] if op["reason"] == "absent_from_roster"]
    assert [(op["target"]["user"], op["before"]["id"]) for op in drops] == [("sis_user_id:S0003", 1006)]
    # the seed's S0005 in HIST200 and S0019 in BIO110 section A: live, in no roster row, never claimed
    assert plan["summary"]["not_claimed"] == 2


def test_an_undo_plan_is_stale_checked_and_guarded_like_any_plan(site: Site) -> None:
    site.plan()
    site.apply()
    first = site.runs()[0].run_id
    made = site.run("undo", first, "--out", str(site.folder / "undo.json"))
    assert made.exit_code == 0, made.output
    conclude_by_hand(site, 1006)  # MATH101 changes after the undo plan was made
    writes = site.writes
    stale = site.run("apply", str(site.folder / "undo.json"))
    assert stale.exit_code == 4, stale.output
    refresh = site.run("apply", str(site.folder / "undo.json"), "--refresh", "--auto-approve")
    assert refresh.exit_code == 1 and "no roster inputs" in refresh.output
    assert site.writes == writes
    # guards: deleting what the run created is a removal like any other
    site.config.write_text(
        site.config.read_text().replace("max_drops: 1000", "max_drops: 0"), encoding="utf-8"
    )
    guarded = site.run("undo", first, "--out", str(site.folder / "guarded.json"))
    assert guarded.exit_code == 3, guarded.output
    assert "GUARDS TRIPPED" in guarded.output
    refused = site.run("apply", str(site.folder / "guarded.json"))
    assert refused.exit_code == 3 and site.writes == writes


def test_a_damaged_claim_set_stops_every_command_with_its_line_and_nothing_is_written(site: Site) -> None:
    site.plan()
    site.apply()
    path = site.claims().path
    assert site.university.token not in path.read_text(encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = "=cmd|' /C calc'!A0," + lines[3].split(",", 1)[1]
    path.write_text("".join(lines), encoding="utf-8")
    writes = site.writes
    for args in (("plan", str(site.roster)), ("drift",), ("claim", str(site.roster), "--auto-approve")):
        result = site.run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert f"{path}:4: column enrollment_id: not a Canvas id" in result.output, args
    assert site.writes == writes
