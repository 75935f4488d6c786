import subprocess
import sys

from click.testing import CliRunner

from reconcile import __version__
from reconcile.cli import cli


def test_version_flag_prints_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "reconcile", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout


def test_usage_errors_exit_1_never_2() -> None:
    # 2 means "changes present" for plan --detailed-exitcode; a typo must not look like that.
    runner = CliRunner()
    assert runner.invoke(cli, ["--no-such-flag"]).exit_code == 1
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 1
    for args in (["validate", "--no-such-flag", "x.csv"], ["apply", "--bogus"], ["export", "--bogus"],
                 ["sim", "serve", "--bogus"], ["schema", "nope"]):  # fmt: skip
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
