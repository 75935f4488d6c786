"""``reconcile demo``: a guided tour of the Enrollments API against the built-in simulator.

Interim demo: it starts the simulator in-process on the example university and makes a
handful of real HTTP calls, printing each call and what came back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import requests

SEED = Path(__file__).resolve().parents[2] / "examples" / "sim" / "university.yaml"
TOKEN = "demo-admin-token"


def _show(method: str, path: str, response: requests.Response, summary: str) -> None:
    click.echo(f"{click.style(method, bold=True)} {path}")
    click.echo(f"  -> {response.status_code}  {summary}")


def _row(e: dict[str, Any]) -> str:
    name = e.get("user", {}).get("sortable_name", f"user {e['user_id']}")
    return f"#{e['id']} {e['type']:<19} {e['enrollment_state']:<16} {name}"


@click.command()
@click.option("--seed", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=SEED,
              show_default=False, help="Seed file (default: the example university).")  # fmt: skip
def demo(seed: Path) -> None:
    """Start the Canvas simulator and walk through the Enrollments API."""
    from reconcile.sim import Simulator

    simulator = Simulator.from_seed(seed)
    with simulator.serve() as url, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        click.echo(f"Canvas simulator on {url} (example university, admin token)\n")

        path = "/api/v1/courses/sis_course_id:MATH101-F26/enrollments"
        response = http.get(url + path, params={"per_page": 5})
        page = 1
        _show("GET", f"{path}?per_page=5", response, f"page {page}, {len(response.json())} enrollments")
        for e in response.json():
            click.echo(f"     {_row(e)}")
        while "next" in response.links:
            response = http.get(response.links["next"]["url"])
            page += 1
            _show("GET", "(Link rel=next)", response, f"page {page}, {len(response.json())} enrollments")
            for e in response.json():
                click.echo(f"     {_row(e)}")

        path = "/api/v1/sections/sis_section_id:BIO110-F26-B/enrollments"
        body = {"enrollment[user_id]": "sis_user_id:S0016", "enrollment[enrollment_state]": "active"}
        response = http.post(url + path, data=body)
        created = response.json()
        _show("POST", f"{path}  user=sis_user_id:S0016 state=active", response, _row(created))

        response = http.post(url + path, data=body)
        _show(
            "POST", f"{path}  (same again)", response, f"same id #{response.json()['id']}: POST is an upsert"
        )

        path = f"/api/v1/courses/102/enrollments/{created['id']}"
        response = http.delete(url + path, params={"task": "inactivate"})
        _show("DELETE", f"{path}?task=inactivate", response, _row(response.json()))

        response = http.put(url + path + "/reactivate")
        _show("PUT", f"{path}/reactivate", response, _row(response.json()))

        response = http.delete(url + path)
        _show("DELETE", f"{path}  (task defaults to conclude)", response, _row(response.json()))

        response = http.put(url + path + "/reactivate")
        _show("PUT", f"{path}/reactivate", response, f"{response.json()}: only inactive rows reactivate")

        response = http.delete(url + path, params={"task": "delete"})
        _show("DELETE", f"{path}?task=delete", response, _row(response.json()))
        response = http.delete(url + path, params={"task": "delete"})
        _show("DELETE", f"{path}?task=delete  (again)", response, "deleted rows are gone for DELETE")

        section_path = "/api/v1/sections/sis_section_id:BIO110-F26-B/enrollments"
        response = http.post(url + section_path, data=body)
        _show(
            "POST",
            f"{section_path}  (again)",
            response,
            f"{_row(response.json())}: revived in place, same id",
        )

        stats = simulator.stats()
        click.echo(f"\n{stats['total']} API requests ({stats['reads']} reads, {stats['writes']} writes), "
                   f"{stats['throttled']} throttled.")  # fmt: skip
