"""`reconcile demo` (what `make demo` runs) tells the whole story, and every step exits as the story says."""

from __future__ import annotations

from click.testing import CliRunner

from reconcile.cli import cli


def test_demo_runs_the_whole_story() -> None:
    result = CliRunner().invoke(cli, ["demo"])
    # The demo itself exits 1 if any command's exit code differs from the one its chapter promises.
    assert result.exit_code == 0, result.output
    out = result.output
    for promised in (
        "$ reconcile validate enrollments.csv",
        'unknown role "studnet"',
        "> move",
        "ObserverEnrollment",
        "~ restore",
        "- conclude",
        "No changes. Canvas is in sync with the roster.",
        "plan is stale",
        "GUARDS TRIPPED",
        "### reconcile plan",
        "Demo finished",
    ):
        assert promised in out, f"demo output lacks {promised!r}"
    assert "EXPECTED" not in out
    assert "demo-admin-token" not in out  # the token is never printed
