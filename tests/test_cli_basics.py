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
