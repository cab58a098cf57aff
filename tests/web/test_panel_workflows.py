"""The panel in a real Chromium against the real API and Postgres: editing sources and rules,
roles, deep links, time zones, and what the panel says when the API does not answer."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.web.conftest import (
    Stack,
    free_port,
    make_group,
    make_source,
    screenshot,
    sign_in,
    start_panel,
    unique,
    write_csv,
)


def source(stack: Stack, name: str) -> dict[str, Any]:
    with stack.client() as client:
        answer = client.get(f"/sources/{name}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture
def dead_api_panel(stack: Stack) -> Iterator[str]:
    """A panel whose browser calls an API address nothing listens on."""
    dead = f"http://127.0.0.1:{free_port()}"
    process, url = start_panel(dead, free_port(), direct=True)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_an_unreachable_api_is_named_on_sign_in_and_on_every_screen(
    chromium: Any, stack: Stack, dead_api_panel: str
) -> None:
    context = chromium.new_context(base_url=dead_api_panel, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto("/signin")
    page.get_by_label("API token").fill(stack.token)
    page.get_by_role("button", name="Sign in").click()
    alert = page.locator("[data-problem]")
    expect(alert).to_contain_text("did not answer")
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()  # not stuck on "Checking…"
    expect(page.locator("#token-error")).to_have_count(0)  # the token is not blamed
    screenshot(page, "signin-api-down")

    # A screen whose reads fail says so, instead of an empty list.
    page.evaluate("token => localStorage.setItem('lakeforge.token', token)", stack.token)
    page.goto("/runs")
    expect(page.locator("[data-problem]")).to_contain_text("did not answer")
    expect(page.get_by_role("main")).to_contain_text("Could not load the runs")
    expect(page.get_by_role("main")).not_to_contain_text("No runs match")
    page.goto("/sources")
    expect(page.get_by_role("main")).to_contain_text("Could not load the sources")
    context.close()


def test_a_jdbc_source_with_secret_reader_options_survives_an_edit(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    name = unique("shop")
    sign_in(page, stack.token)
    page.goto("/sources/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Group").select_option(group)
    page.get_by_label("Format", exact=True).select_option("jdbc")
    page.get_by_label("Location").fill("jdbc:postgresql://db.internal:5432/shop")
    options = page.get_by_label("Reader options")
    page.get_by_label("Load mode").select_option("incremental")
    page.get_by_label("Watermark column").fill("updated_at")
    page.get_by_label("Primary keys").fill("id")
    page.get_by_label("SCD type").select_option("2")

    # A malformed line is named before anything is sent; a password value is refused by the API.
    options.fill("dbtable = public.orders\nuser")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator("#format_options-error")).to_contain_text("line 2")
    options.fill("dbtable = public.orders\nuser = loader\npassword = hunter2\nfetchsize = 1000")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator("#format_options-error")).to_contain_text("secrets/scope/key")
    expect(options).to_have_attribute("aria-invalid", "true")

    # SCD type 2 needs an ordering column: the error sits under its own field.
    secret = "password = {{secrets/shop/db_password}}"
    options.fill(f"dbtable = public.orders\nuser = loader\n{secret}\nfetchsize = 1000")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator("#sequence_by-error")).to_contain_text("SCD type 2")
    expect(page.locator("#primary_keys-error")).to_have_count(0)
    page.get_by_label("Sequence by").fill("updated_at")
    page.get_by_role("button", name="Review plan").click()
    plan_card = page.get_by_test_id("plan").locator("xpath=..")
    expect(plan_card).to_contain_text("Nothing has changed yet")
    expect(plan_card).not_to_contain_text("confirm_token")
    expect(page.get_by_test_id("plan")).to_contain_text("{{secrets/shop/db_password}}")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sources/{name}$"))

    saved = source(stack, name)
    expected = {
        "dbtable": "public.orders",
        "user": "loader",
        "password": "{{secrets/shop/db_password}}",
        "fetchsize": 1000,
    }
    assert saved["format_options"] == expected
    assert saved["silver"]["scd_type"] == 2 and saved["silver"]["sequence_by"] == "updated_at"

    # The edit form shows what is stored and sends it back unchanged; the schedule lives on /groups.
    page.goto(f"/sources/{name}/edit")
    expect(page.get_by_label("Reader options")).to_have_value(re.compile(re.escape(secret)))
    expect(page.get_by_label("Sequence by")).to_have_value("updated_at")
    expect(page.get_by_label("Quartz cron")).to_have_count(0)
    schedule_link = page.get_by_role("link", name=f"edit the schedule of {group}")
    expect(schedule_link).to_have_attribute("href", f"/groups#{group}")
    page.get_by_label("Description").fill("orders from the shop database")
    page.get_by_role("button", name="Review plan").click()
    expect(page.get_by_test_id("plan")).to_contain_text("description")
    expect(page.get_by_test_id("plan")).not_to_contain_text("format_options")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sources/{name}$"))
    after = source(stack, name)
    assert after["description"] == "orders from the shop database"
    assert after["format_options"] == expected
    assert after["silver"]["sequence_by"] == "updated_at"
    assert after["revision"] == saved["revision"] + 1


def test_a_rule_is_edited_in_place_and_removed_after_its_plan_is_shown(page: Any, stack: Stack) -> None:
    name = make_source(
        stack,
        make_group(stack),
        dq_rules=[
            {"name": "amount_set", "expression": "amount IS NOT NULL", "action": "warn"},
            {"name": "country_known", "expression": "country IN ('NL', 'DE')", "action": "drop"},
        ],
    )
    sign_in(page, stack.token)
    page.goto(f"/sources/{name}")
    page.get_by_role("button", name="Edit rule amount_set").click()
    expect(page.get_by_label("Rule name")).to_have_value("amount_set")
    expect(page.get_by_label("Rule name")).to_have_attribute("readonly", "")
    page.get_by_label("Expression (Spark SQL)").fill("CAST(amount AS INT) >= 0")
    page.get_by_label("Action").select_option("quarantine")
    page.get_by_role("button", name="Save rule").click()
    rules = page.get_by_test_id("rules-table")
    expect(rules.locator("[data-rule='amount_set']")).to_contain_text("CAST(amount AS INT) >= 0")
    expect(page.get_by_role("button", name="Add rule")).to_be_visible()  # back to adding
    stored = {r["name"]: r for r in source(stack, name)["dq_rules"]}
    assert stored["amount_set"]["expression"] == "CAST(amount AS INT) >= 0"
    assert stored["amount_set"]["action"] == "quarantine"

    page.get_by_role("button", name="Remove rule country_known").click()
    dialog = page.get_by_role("dialog", name=f"Remove rule country_known from {name}?")
    expect(dialog.get_by_test_id("plan")).to_contain_text("country_known")
    expect(dialog.get_by_role("button", name="Remove")).to_be_enabled()
    screenshot(page, "rule-remove")
    assert "country_known" in {r["name"] for r in source(stack, name)["dq_rules"]}  # the plan changed nothing
    dialog.get_by_role("button", name="Remove").click()
    expect(rules.locator("[data-rule='country_known']")).to_have_count(0)
    assert {r["name"] for r in source(stack, name)["dq_rules"]} == {"amount_set"}


def test_a_viewer_is_not_offered_actions_the_role_does_not_allow(page: Any, stack: Stack) -> None:
    from lakeforge.commands.access import create_token

    group = make_group(stack)
    stack.command({"kind": "set_schedule", "group": group, "quartz_cron": "0 0 2 * * ?", "timezone": "UTC"})
    name = make_source(stack, group)
    stack.command({"kind": "update_source", "name": name, "description": "a second revision"})
    viewer = create_token(stack.db, unique("viewer"), "viewer")
    sign_in(page, viewer)

    page.goto(f"/sources/{name}")
    expect(page.get_by_test_id("whoami")).to_contain_text("viewer")
    expect(page.get_by_role("heading", name="Revision history")).to_be_visible()
    main = page.get_by_role("main")
    expect(main.get_by_role("link", name="Edit")).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)  # no Restore…, no Add rule
    expect(page.get_by_label("Rule name")).to_have_count(0)

    page.goto(f"/groups#{group}")
    expect(page.locator(f"#cron-{group}")).to_have_value("0 0 2 * * ?")
    for action in ("Run now", "Pause", "Check", "Create group"):
        expect(page.get_by_role("button", name=action)).to_have_count(0)

    page.goto("/sources")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_role("link", name="Register source")).to_have_count(0)
    screenshot(page, "viewer-sources")

    # An operator may run and pause but still not edit.
    operator = create_token(stack.db, unique("op"), "operator")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, operator)
    page.goto(f"/groups#{group}")
    section = page.locator(f"[id='{group}']").locator("xpath=ancestor::section")
    expect(section.get_by_role("button", name="Run now")).to_be_visible()
    expect(section.get_by_role("button", name="Pause")).to_be_visible()
    expect(section.get_by_role("button", name="Check")).to_have_count(0)


def test_a_saved_schedule_is_shown_even_when_the_schedules_answer_after_the_groups(
    page: Any, stack: Stack
) -> None:
    group = make_group(stack)
    stack.command(
        {
            "kind": "set_schedule",
            "group": group,
            "quartz_cron": "0 30 4 ? * MON-FRI",
            "timezone": "Europe/Amsterdam",
        }
    )
    sign_in(page, stack.token)
    # Hold GET /schedules until /groups has answered and the page has drawn what it had.
    held: list[Any] = []

    def schedules(url: str) -> bool:
        return urlparse(url).path.endswith("/api/v1/schedules")

    page.route(schedules, lambda route: held.append(route))
    with page.expect_response(lambda r: urlparse(r.url).path.endswith("/api/v1/groups")):
        page.goto(f"/groups#{group}")
    expect(page.get_by_role("heading", name="Groups & schedules")).to_be_visible()
    assert held, "the schedules request was not made"
    for route in held:
        route.continue_()
    page.unroute(schedules)
    expect(page.locator(f"#cron-{group}")).to_have_value("0 30 4 ? * MON-FRI")
    expect(page.locator(f"#tz-{group}")).to_have_value("Europe/Amsterdam")


def test_signing_in_again_returns_to_the_filtered_page_and_a_refused_write_offers_it(
    page: Any, stack: Stack
) -> None:
    group = make_group(stack)
    name = make_source(stack, group)
    sign_in(page, stack.token)
    page.goto(f"/sources/{name}")
    expect(page.get_by_label("Rule name")).to_be_visible()
    page.evaluate("localStorage.setItem('lakeforge.token', 'lf_revoked_or_expired')")
    page.get_by_label("Rule name").fill("amount_set")
    page.get_by_label("Expression (Spark SQL)").fill("amount IS NOT NULL")
    page.get_by_role("button", name="Add rule").click()
    banner = page.locator("[data-problem='401']")
    expect(banner).to_contain_text("sign in again")
    expect(banner).not_to_contain_text("Authorization: Bearer")
    link = banner.get_by_role("link", name="Sign in again")
    assert parse_qs(urlparse(link.get_attribute("href")).query)["next"] == [f"/sources/{name}"]

    page.goto(f"/runs?status=failed&group={group}")
    page.wait_for_url(re.compile(r"/signin\?next="))
    assert parse_qs(urlparse(page.url).query)["next"] == [f"/runs?status=failed&group={group}"]
    page.get_by_label("API token").fill(stack.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/runs\?"))
    assert parse_qs(urlparse(page.url).query) == {"status": ["failed"], "group": [group]}
    expect(page.get_by_label("Group")).to_have_value(group)


def test_the_since_filter_keeps_the_viewers_wall_clock_time(chromium: Any, stack: Stack) -> None:
    context = chromium.new_context(
        base_url=stack.panel_url, viewport={"width": 1400, "height": 900}, timezone_id="Europe/Amsterdam"
    )
    page = context.new_page()
    sign_in(page, stack.token)
    page.goto("/runs")
    expect(page.get_by_label("Since (Europe/Amsterdam)")).to_be_visible()  # the field names its clock
    page.get_by_label("Since").fill("2026-03-01T10:00")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"since="))
    assert parse_qs(urlparse(page.url).query)["since"] == ["2026-03-01T09:00:00.000Z"]  # CET is UTC+1
    page.reload()
    expect(page.get_by_label("Since")).to_have_value("2026-03-01T10:00")
    page.go_back()
    expect(page.get_by_label("Since")).to_have_value("")
    context.close()


def test_edit_keeps_text_options_exactly_and_cancel_works_in_a_fresh_tab(page: Any, stack: Stack) -> None:
    options = {"header": True, "delimiter": "\t", "null_value": "0", "quote": "'", "comment": "true"}
    name = make_source(stack, make_group(stack), format_options=options)
    sign_in(page, stack.token)

    # Opened from a bookmark: no history to go back to, Cancel still leads somewhere.
    fresh = page.context.new_page()
    fresh.goto(f"/sources/{name}/edit")
    field = fresh.get_by_label("Reader options")
    expect(field).to_have_value(re.compile(r'delimiter = "\\t"'))
    expect(field).to_have_accessible_description(re.compile("key = value"))
    fresh.get_by_role("link", name="Cancel").click()
    fresh.wait_for_url(re.compile(rf"/sources/{name}$"))
    fresh.close()

    page.goto(f"/sources/{name}/edit")
    page.get_by_label("Description").fill("tab separated")
    page.get_by_role("button", name="Review plan").click()
    expect(page.get_by_test_id("plan")).to_contain_text("description")
    expect(page.get_by_test_id("plan")).not_to_contain_text("format_options")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sources/{name}$"))
    assert source(stack, name)["format_options"] == options


class _Orders(BaseHTTPRequestHandler):
    """A REST source: every order, as one JSON list."""

    def do_GET(self) -> None:
        rows = [{"id": i, "amount": i * 10, "updated_at": f"2026-01-0{i}T08:00:00"} for i in (1, 2, 3)]
        body = json.dumps(rows).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_incremental_source_shows_its_watermark_after_a_batch(page: Any, stack: Stack) -> None:
    from lakeforge.runtime.runner import run_batch

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        group = make_group(stack)
        name = unique("api_orders")
        stack.command(
            {
                "kind": "register_source",
                "name": name,
                "group": group,
                "format": "rest",
                "location": f"http://127.0.0.1:{server.server_address[1]}/orders",
                "load_mode": "incremental",
                "watermark_column": "updated_at",
            }
        )
        sign_in(page, stack.token)
        page.goto(f"/sources/{name}")
        progress = page.get_by_test_id("progress")
        expect(progress).to_contain_text("No watermark yet: the first successful batch")

        run = run_batch(stack.settings, stack.db, group, sources=[name])
        assert run.status == "succeeded", run.error
        page.reload()
        watermark = page.get_by_test_id("progress")
        expect(watermark).to_contain_text("updated_at up to 2026-01-03")
        expect(watermark.get_by_role("link", name=f"#{run.batch_id}")).to_have_attribute(
            "href", f"/runs/{run.batch_id}"
        )
    finally:
        server.shutdown()


def test_a_files_source_shows_the_files_it_loaded_and_its_own_rows_per_batch(page: Any, stack: Stack) -> None:
    from lakeforge.runtime.runner import run_batch

    group = make_group(stack)
    silver = {"primary_keys": ["id"]}
    incremental = make_source(stack, group, load_mode="incremental", silver=silver)
    full = make_source(stack, group, silver=silver)
    sign_in(page, stack.token)
    page.goto(f"/sources/{incremental}")
    expect(page.get_by_test_id("progress")).to_have_text(
        "No file loaded yet: the first successful batch loads every file in the location."
    )

    run = run_batch(stack.settings, stack.db, group)
    assert run.status == "succeeded", run.error
    newest = stack.data_dir / incremental / "part-0.csv"
    page.reload()
    progress = page.get_by_test_id("progress")
    expect(progress).to_contain_text(f"1 file loaded ({newest.stat().st_size} B) · newest {newest}")
    expect(progress.get_by_role("link", name=f"#{run.batch_id}")).to_have_attribute(
        "href", f"/runs/{run.batch_id}"
    )
    # The group batch wrote 40 Silver rows; this source wrote its own 20.
    expect(page.get_by_test_id(f"source-rows-{run.batch_id}")).to_have_text("20 rows to Silver")
    screenshot(page, "source-files-progress")

    page.goto(f"/sources/{full}")
    expect(page.get_by_test_id("progress")).to_have_text("Full load: every batch reads the whole source.")


def test_the_overview_follows_a_group_from_never_run_to_its_last_status(page: Any, stack: Stack) -> None:
    from lakeforge.runtime.runner import run_batch

    group = make_group(stack)
    name = make_source(stack, group)
    sign_in(page, stack.token)
    page.goto("/")
    last = page.get_by_test_id(f"last-run-{group}")
    expect(last).to_have_text("never")
    run = run_batch(stack.settings, stack.db, group, sources=[name])
    assert run.status == "succeeded", run.error
    # No reload: the screen refreshes itself.
    expect(last.get_by_role("link", name=f"Batch #{run.batch_id}: succeeded")).to_be_visible()


def test_changing_the_cron_of_a_paused_group_keeps_it_paused(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    stack.command(
        {"kind": "set_schedule", "group": group, "quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Amsterdam"}
    )
    stack.command({"kind": "pause_schedule", "group": group})
    sign_in(page, stack.token)
    page.goto(f"/groups#{group}")
    form = page.get_by_role("form", name=f"Schedule of {group}")
    page.locator(f"#cron-{group}").fill("0 0 3 * * ?")
    form.get_by_role("button", name="Check").click()
    expect(form.get_by_test_id("plan")).to_contain_text("quartz_cron")
    expect(form.get_by_test_id("plan")).not_to_contain_text("paused")
    # The zone shown is the schedule's own and, left as it is, is not sent again.
    expect(page.locator(f"#tz-{group}")).to_have_value("Europe/Amsterdam")
    expect(form.get_by_test_id("plan")).not_to_contain_text("timezone")
    form.get_by_role("button", name="Save schedule").click()
    expect(form.get_by_role("button", name="Save schedule")).to_have_count(0)
    with stack.client() as client:
        saved = {s["group"]: s for s in client.get("/schedules").json()}
    assert saved[group]["quartz_cron"] == "0 0 3 * * ?"
    assert saved[group]["timezone"] == "Europe/Amsterdam"
    assert saved[group]["paused"] is True


def test_the_audit_is_filtered_by_command_and_outcome_through_the_url(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    with stack.client() as client:  # the same name again: refused, and audited as rejected
        refused = client.post("/commands", json={"intent": {"kind": "create_group", "name": group}})
    assert refused.status_code == 409, refused.text
    sign_in(page, stack.token)
    page.goto("/audit")
    page.get_by_label("Command").fill("create_group")
    page.get_by_label("Outcome").select_option("rejected")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/audit\?"))
    assert parse_qs(urlparse(page.url).query) == {"kind": ["create_group"], "outcome": ["rejected"]}
    rows = page.get_by_test_id("audit-table").locator("tbody tr[data-kind]")
    expect(rows.filter(has_text=group)).to_have_count(1)
    expect(
        page.get_by_test_id("audit-table").locator("tr[data-kind]:not([data-kind='create_group'])")
    ).to_have_count(0)
    expect(
        page.get_by_test_id("audit-table").locator("tr[data-outcome]:not([data-outcome='rejected'])")
    ).to_have_count(0)
    page.reload()
    expect(page.get_by_label("Command")).to_have_value("create_group")
    expect(page.get_by_label("Outcome")).to_have_value("rejected")
    expect(rows.filter(has_text=group)).to_have_count(1)


def test_rerun_cannot_be_confirmed_when_its_plan_was_refused(page: Any, stack: Stack) -> None:
    from lakeforge.commands.access import create_token
    from lakeforge.runtime.runner import run_batch

    theirs = make_group(stack)
    name = make_source(stack, theirs)
    run = run_batch(stack.settings, stack.db, theirs, sources=[name])
    assert run.status == "succeeded", run.error
    stack.command({"kind": "remove_source", "name": name})  # the rerun's plan is refused
    operator = create_token(stack.db, unique("op"), "operator", group=theirs)
    sign_in(page, operator)
    page.goto(f"/runs/{run.batch_id}")
    expect(page.get_by_test_id("batch-status")).to_have_text("succeeded")
    page.get_by_role("button", name="Rerun…").click()
    dialog = page.get_by_role("dialog", name=f"Rerun batch #{run.batch_id}?")
    expect(dialog.locator("[data-problem]")).to_contain_text("no longer exists")
    expect(dialog.get_by_role("button", name="Rerun")).to_be_disabled()
    with stack.client() as client:
        reruns = client.get("/runs", params={"group": theirs}).json()["items"]
    assert [r["batch_id"] for r in reruns] == [run.batch_id]


def test_a_group_bound_operator_runs_its_own_source_through_chosen_zones_only(
    page: Any, stack: Stack
) -> None:
    from lakeforge.commands.access import create_token

    ours, theirs = make_group(stack), make_group(stack)
    mine, other = make_source(stack, ours), make_source(stack, theirs)
    sign_in(page, create_token(stack.db, unique("op"), "operator", group=ours))

    # Another group's source and group card offer no action to this operator.
    page.goto(f"/sources/{other}")
    expect(page.get_by_role("heading", name="Revision history")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("button")).to_have_count(0)
    page.goto(f"/groups#{theirs}")
    section = page.locator(f"[id='{theirs}']").locator("xpath=ancestor::section")
    expect(section.get_by_role("button", name="Run now")).to_have_count(0)

    # Its own source: Run now…, through raw and bronze only; the plan follows the choice.
    page.goto(f"/sources/{mine}")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)  # an operator does not edit
    page.get_by_role("button", name="Run now…").click()
    dialog = page.get_by_role("dialog", name=f"Run source {mine} now?")
    expect(dialog.get_by_role("button", name="Run")).to_be_enabled()
    for zone in ("gold", "silver"):
        dialog.get_by_label(zone).uncheck()
        expect(dialog.get_by_role("button", name="Run")).to_be_enabled()
    expect(dialog.get_by_label("raw")).to_be_checked()
    # The batch to queue reads as its fields, not as JSON.
    expect(dialog.get_by_test_id("plan")).to_contain_text('zones: ["raw","bronze"]')
    expect(dialog.get_by_test_id("plan")).not_to_contain_text('"trigger"')
    dialog.get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    expect(page.get_by_test_id("batch-status")).to_have_text("succeeded", timeout=60_000)
    batch_id = int(page.url.rsplit("/", 1)[1])
    with stack.client() as client:
        batch = client.get(f"/runs/{batch_id}").json()
    assert batch["source"] == mine
    assert [z["zone"] for z in batch["zones"]] == ["raw", "bronze"]

    # The rerun dialog picks zones too: bronze again from the batch's Raw files.
    page.get_by_role("button", name="Rerun…").click()
    dialog = page.get_by_role("dialog", name=f"Rerun batch #{batch_id}?")
    for zone in ("raw", "silver", "gold"):
        dialog.get_by_label(zone).uncheck()
    expect(dialog.get_by_label("bronze")).to_be_disabled()  # the last zone stays
    expect(dialog.get_by_role("button", name="Rerun")).to_be_enabled()
    dialog.get_by_role("button", name="Rerun").click()
    page.wait_for_url(re.compile(rf"/runs/(?!{batch_id}$)\d+$"))
    expect(page.get_by_test_id("batch-status")).to_have_text("succeeded", timeout=60_000)
    rerun_id = int(page.url.rsplit("/", 1)[1])
    with stack.client() as client:
        rerun = client.get(f"/runs/{rerun_id}").json()
    assert rerun["rerun_of"] == batch_id and [z["zone"] for z in rerun["zones"]] == ["bronze"]
    screenshot(page, "operator-rerun-bronze")


def test_registering_a_source_with_a_cron_into_a_paused_group_keeps_it_paused(
    page: Any, stack: Stack
) -> None:
    group = make_group(stack)
    stack.command(
        {"kind": "set_schedule", "group": group, "quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Amsterdam"}
    )
    stack.command({"kind": "pause_schedule", "group": group})
    name = unique("orders")
    sign_in(page, stack.token)
    sent: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data_json)
            if request.method == "POST" and request.url.endswith("/api/v1/commands")
            else None
        ),
    )
    page.goto("/sources/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Group").select_option(group)
    page.get_by_label("Location").fill(str(write_csv(stack.data_dir, name)))
    page.get_by_label("Quartz cron").fill("0 0 5 * * ?")
    # The time zone is left empty: the group keeps its own, which the hint names.
    expect(page.get_by_label("Time zone")).to_have_value("")
    expect(page.locator("#timezone-hint")).to_have_text("empty: the group's time zone (Europe/Amsterdam)")
    page.get_by_role("button", name="Review plan").click()
    expect(page.get_by_test_id("plan")).to_contain_text("0 0 5 * * ?")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sources/{name}$"))
    assert sent and all("timezone" not in body["intent"]["schedule"] for body in sent), sent
    with stack.client() as client:
        saved = {s["group"]: s for s in client.get("/schedules").json()}
    assert saved[group]["quartz_cron"] == "0 0 5 * * ?"
    assert saved[group]["timezone"] == "Europe/Amsterdam"
    assert saved[group]["paused"] is True


def test_a_source_is_removed_only_after_its_plan_is_shown(page: Any, stack: Stack) -> None:
    name = make_source(stack, make_group(stack))
    sign_in(page, stack.token)
    page.goto(f"/sources/{name}")
    page.get_by_role("button", name="Remove…").click()
    dialog = page.get_by_role("dialog", name=f"Remove source {name}?")
    expect(dialog.get_by_test_id("plan")).to_contain_text(name)
    expect(dialog).to_contain_text("run history and tables stay")
    with stack.client() as client:  # the plan changed nothing
        assert client.get(f"/sources/{name}").status_code == 200
    dialog.get_by_role("button", name="Remove source").click()
    page.wait_for_url(re.compile(r"/sources$"))
    expect(page.get_by_role("link", name=name)).to_have_count(0)
    with stack.client() as client:
        assert client.get(f"/sources/{name}").status_code == 404


def test_sync_apply_confirms_the_plan_it_showed_and_refuses_one_that_moved(page: Any, stack: Stack) -> None:
    from lakeforge.localworkspace.server import LocalWorkspace
    from lakeforge.orchestration import reconciler
    from lakeforge.orchestration.client import workspace_client

    group = make_group(stack)
    make_source(stack, group)
    workspace = LocalWorkspace(stack.settings, stack.db, port=stack.settings.workspace_port)
    workspace.start()
    try:
        reconciler.upload_notebooks(workspace_client(stack.settings), stack.settings.workspace_notebook_dir)
        sign_in(page, stack.token)
        with stack.client() as client:
            pending = client.get("/sync/plan").json()
        # Each job or pipeline to write counts once (the plan lists it by action and among changes).
        writing = {"create", "update", "adopt", "pause", "delete"}
        writes = [c for c in pending["changes"] if c["action"] in writing]
        expect(page.get_by_role("main")).to_contain_text(f"{len(writes)} changes to apply")
        page.goto("/sync")
        # The plan is shown as plan lines before anyone asks to apply, not as the reconciler's JSON.
        expect(page.get_by_role("main").get_by_test_id("plan")).to_contain_text(f"create job group.{group}")
        expect(page.get_by_role("main")).not_to_contain_text("spec_hash")
        page.get_by_role("button", name="Apply…").click()
        dialog = page.get_by_role("dialog", name="Apply the sync plan to the workspace?")
        expect(dialog).to_contain_text(f"create job group.{group}")
        expect(dialog.get_by_role("button", name="Apply")).to_be_enabled()

        # The group changes while the plan is on screen: its token no longer applies.
        stack.command({"kind": "update_group", "name": group, "max_retries": 4})
        dialog.get_by_role("button", name="Apply").click()
        expect(dialog.locator("[data-problem='409']")).to_contain_text("changed since this plan was shown")
        with stack.client() as client:
            assert client.get("/sync/plan").json()["create"], "nothing may have been applied"
        dialog.get_by_role("button", name="Cancel").click()

        page.get_by_role("button", name="Apply…").click()
        expect(dialog).to_contain_text(f"create job group.{group}")
        dialog.get_by_role("button", name="Apply").click()
        expect(page.get_by_role("status")).to_contain_text("Jobs and pipelines synced")
        expect(page.get_by_text("in sync", exact=True)).to_be_visible()
        expect(page.get_by_test_id("sync-in-sync")).to_contain_text(f"job:group.{group}")
        screenshot(page, "sync-applied")
    finally:
        workspace.stop()


def test_cancel_button_stops_a_running_batch_for_an_operator_only(page: Any, stack: Stack) -> None:
    from lakeforge.commands.access import create_token
    from tests.runtime.gate import gated_api

    group = make_group(stack)
    viewer = create_token(stack.db, unique("viewer"), "viewer")
    operator_name = unique("op")
    operator = create_token(stack.db, operator_name, "operator", group=group)
    with gated_api() as gate:
        stack.command(
            {
                "kind": "register_source",
                "name": unique("feed"),
                "group": group,
                "format": "rest",
                "location": gate.url,
            }
        )
        batch_id = stack.command({"kind": "run_now", "group": group})["result"]["batch_id"]
        assert gate.arrived.wait(120), "the batch never reached its feed"

        sign_in(page, viewer)
        page.goto(f"/runs/{batch_id}")
        expect(page.get_by_test_id("batch-status")).to_have_text("running")
        expect(page.get_by_role("button", name="Cancel…")).to_have_count(0)

        sign_in(page, operator)
        page.goto(f"/runs/{batch_id}")
        page.get_by_role("button", name="Cancel…").click()
        dialog = page.get_by_role("dialog", name=f"Cancel batch #{batch_id}?")
        expect(dialog).to_contain_text("after the table it is writing in raw")
        dialog.get_by_role("button", name="Cancel batch").click()
        expect(page.get_by_role("button", name="Cancelling…")).to_be_disabled()
        gate.opened.set()  # the table under way finishes; the batch stops before the next zone

        expect(page.get_by_test_id("batch-status")).to_have_text("cancelled", timeout=60_000)
        expect(page.get_by_test_id("batch-cancelled-by")).to_have_text(operator_name)
        expect(page.get_by_role("button", name="Cancel…")).to_have_count(0)
        screenshot(page, "batch-cancelled")
