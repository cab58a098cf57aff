"""The panel in a real Chromium against the real API and Postgres: what a data engineer does."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import (
    Stack,
    make_group,
    make_source,
    screenshot,
    sign_in,
    unique,
    unreadable_text,
    write_csv,
)

FINAL = re.compile(r"^(succeeded|failed|cancelled|skipped)$")


def test_sign_in_refuses_a_bad_token_and_accepts_a_good_one(page: Any, stack: Stack) -> None:
    page.goto("/runs")
    page.wait_for_url(re.compile(r"/signin\?next=%2Fruns"))
    page.get_by_label("API token").fill("lf_not_a_real_token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#token-error")).to_be_visible()
    screenshot(page, "signin-error")

    page.get_by_label("API token").fill(stack.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/runs$"))
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()


def test_register_a_source_through_the_form_shows_the_plan_then_lists_it(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    name = unique("orders")
    sign_in(page, stack.token)
    page.goto("/sources/new")
    page.get_by_label("Name").fill("Orders Copy")
    page.get_by_label("Group").select_option(group)
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("Location").fill(str(write_csv(stack.data_dir, name)))
    page.get_by_label("Primary keys").fill("id")
    page.get_by_role("button", name="Review plan").click()
    # A refused name is explained under its field once; the banner points there, the form stays filled.
    expect(page.locator("#name-error")).to_contain_text("upper-case")
    banner = page.locator("[data-problem]")
    expect(banner).to_have_text("Nothing was changed: fix the field marked below.")
    expect(page.get_by_label("Primary keys")).to_have_value("id")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Review plan").click()

    plan = page.get_by_test_id("plan")
    expect(plan).to_contain_text(f"source {name}")
    expect(plan).to_contain_text("location")
    screenshot(page, "source-plan")
    with stack.client() as client:  # planning changed nothing
        assert client.get(f"/sources/{name}").status_code == 404

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sources/{name}$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    screenshot(page, "source-detail")

    page.goto("/sources")
    page.get_by_label("Search sources").fill(name[:10])
    expect(page.get_by_role("link", name=name)).to_be_visible()
    screenshot(page, "sources")


def test_a_rule_added_on_the_source_page_shows_on_the_dq_screen(page: Any, stack: Stack) -> None:
    source = make_source(stack, make_group(stack))
    sign_in(page, stack.token)
    page.goto(f"/sources/{source}")
    page.get_by_label("Rule name").fill("amount_not_negative")
    page.get_by_label("Expression (Spark SQL)").fill("amount >= 0")
    page.get_by_label("Action").select_option("quarantine")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_test_id("rules-table")).to_contain_text("amount_not_negative")

    # Forbidden SQL is refused by the API, and the message sits under the expression field.
    page.get_by_label("Rule name").fill("sneaky")
    page.get_by_label("Expression (Spark SQL)").fill("reflect('java.lang.Runtime','exec','x')")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rule_expression-error")).to_be_visible()

    page.goto("/dq")
    table = page.get_by_test_id(f"dq-{source}")
    expect(table).to_contain_text("amount_not_negative")
    expect(table).to_contain_text("quarantine")
    expect(table).not_to_contain_text("sneaky")
    screenshot(page, "dq")


def test_a_bad_cron_shows_the_api_message_next_to_the_field(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    sign_in(page, stack.token)
    page.goto(f"/groups#{group}")
    field = page.locator(f"#cron-{group}")
    field.fill("0 2 * * *")
    page.get_by_role("form", name=f"Schedule of {group}").get_by_role("button", name="Check").click()
    error = page.locator(f"#cron-{group}-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile(r"Quartz|field", re.IGNORECASE))
    expect(field).to_have_attribute("aria-invalid", "true")
    screenshot(page, "cron-error")

    # A valid expression is explained, with five fire times, and saved after the check.
    field.fill("0 0 2 * * ?")
    form = page.get_by_role("form", name=f"Schedule of {group}")
    form.get_by_role("button", name="Check").click()
    form.get_by_role("button", name="Save schedule").click()
    expect(form.get_by_test_id("next-fires").locator("li")).to_have_count(5)
    expect(form.get_by_test_id("cron-description")).to_contain_text("02:00")
    screenshot(page, "groups")


def test_run_the_group_and_watch_it_reach_a_final_status(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    source = make_source(stack, group)
    sign_in(page, stack.token)
    page.goto(f"/groups#{group}")
    page.locator(f"[id='{group}']").locator("xpath=ancestor::section").get_by_role(
        "button", name="Run now"
    ).click()
    page.wait_for_url(re.compile(r"/runs(/\d+|\?group=)"))
    if "/runs?" in page.url:
        page.locator("[data-batch] a").first.click()
    status = page.get_by_test_id("batch-status")
    expect(status).to_have_text(FINAL, timeout=120_000)  # live updates: the page polls while running
    final = status.inner_text()
    assert final == "succeeded", page.get_by_role("main").inner_text()[:2000]
    expect(page.get_by_role("main")).to_contain_text("20 → 20")  # the CSV's rows reached silver
    batch_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_test_id("gantt")).to_be_visible()
    screenshot(page, "batch")

    page.goto(f"/runs?group={group}")
    row = page.locator(f"[data-batch='{batch_id}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text(final)
    screenshot(page, "runs")
    assert source  # the group had a source to run

    # A batch that does not exist says so and leads back to the list; nothing offers to rerun it.
    page.goto("/runs/987654321")
    expect(page.get_by_role("main")).to_contain_text("No batch #987654321")
    expect(page.get_by_role("link", name="see the run list")).to_have_attribute("href", "/runs")
    expect(page.get_by_role("button", name="Rerun…")).to_have_count(0)


def test_every_screen_renders_light_dark_and_on_a_phone(chromium: Any, stack: Stack) -> None:
    from lakeforge.runtime.runner import run_batch

    group = make_group(stack)
    source = make_source(stack, group)
    # One long line of SQL, with a name longer than the card is wide: the source page wraps it
    # inside its card in both themes.
    columns = ", ".join(f"sum(CAST(amount AS INT)) + {i} AS amount_total_plus_{i}" for i in range(30))
    columns += ", count(*) AS " + "rows_counted_" * 20 + "x"
    gold_sql = f"SELECT country, {columns} FROM main.{group}.{source} GROUP BY country"
    stack.command({"kind": "upsert_gold", "group": group, "name": "wide_totals", "sql": gold_sql})
    schedule = {"quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Paris"}
    stack.command({"kind": "set_schedule", "group": group, **schedule})
    run = run_batch(stack.settings, stack.db, group, sources=[source])
    screens = (
        ("/", "Overview"),
        ("/sources", "Sources"),
        (f"/sources/{source}", source),
        ("/groups", "Groups & schedules"),
        ("/dq", "Data quality"),
        ("/runs", "Runs"),
        (f"/runs/{run.batch_id}", f"Batch #{run.batch_id}"),
        ("/sync", "Sync"),
        ("/chat", "Chat console"),
        ("/audit", "Audit"),
    )
    # A desk in both themes, then a phone (390 px): nothing wider than the screen, all text readable.
    for scheme, width, prefix in (("light", 1400, "light"), ("dark", 1400, "dark"), ("light", 390, "phone")):
        context = chromium.new_context(
            base_url=stack.panel_url,
            viewport={"width": width, "height": 900},
            color_scheme=scheme,
            timezone_id="Asia/Kolkata",
        )
        page = context.new_page()
        sign_in(page, stack.token)
        if width < 768:  # the links sit behind the Menu button, which closes once one is followed
            page.get_by_role("button", name="Menu").click()
            page.get_by_role("link", name="Runs").click()
            expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
            expect(page.get_by_role("link", name="Audit")).to_be_hidden()
        for path, heading in screens:
            page.goto(path)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            if path == f"/sources/{source}":
                assert_fully_visible(page, page.get_by_test_id("gold-sql-wide_totals"), gold_sql)
            if path == "/":  # a schedule says which clock it fires by
                expect(page.get_by_role("main")).to_contain_text("0 0 2 * * ? Europe/Paris")
            if path == "/runs":  # a time says which clock it was read on
                expect(page.locator(f"[data-batch='{run.batch_id}']")).to_contain_text("GMT+5:30")
            time.sleep(0.3)  # let the reads settle before the picture
            assert unreadable_text(page) == [], f"{prefix} {path}"
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{prefix} {path}"
            slug = path.strip("/").replace("/", "-") or "overview"
            screenshot(page, f"{prefix}-{slug}")
        context.close()


def assert_fully_visible(page: Any, block: Any, text: str) -> None:
    """``block`` shows all of ``text`` within its own width and inside the viewport."""
    expect(block).to_have_text(text)
    size = block.evaluate(
        "e => ({scroll: e.scrollWidth, client: e.clientWidth, right: e.getBoundingClientRect().right})"
    )
    assert size["scroll"] <= size["client"], size
    assert size["right"] <= page.viewport_size["width"], size


def test_keyboard_reaches_navigation_and_the_audit_lists_commands(page: Any, stack: Stack) -> None:
    make_group(stack)
    sign_in(page, stack.token)
    # The shell renders after hydration: pressing Tab earlier would start from an empty page.
    expect(page.get_by_test_id("whoami")).to_be_visible()
    page.keyboard.press("Tab")  # skip link first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Overview")).to_be_focused()
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit")).to_be_visible()
    expect(page.get_by_text("create_group").first).to_be_visible()


def test_the_panel_proxy_forwards_to_the_api_with_problem_json_intact(stack: Stack) -> None:
    """Without PANEL_BROWSER_API_URL the browser talks to the panel's /api/v1, which forwards."""
    import httpx

    headers = {"Authorization": f"Bearer {stack.token}"}
    via_panel = httpx.get(f"{stack.panel_url}/api/v1/groups", headers=headers, timeout=30)
    direct = httpx.get(f"{stack.api_url}/api/v1/groups", headers=headers, timeout=30)
    assert via_panel.status_code == 200
    assert via_panel.json() == direct.json()
    refused = httpx.get(f"{stack.panel_url}/api/v1/groups", timeout=30)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 401


def test_the_chat_console_parses_shows_the_plan_and_applies_on_confirm(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    stack.command({"kind": "set_schedule", "group": group, "quartz_cron": "0 0 2 * * ?", "timezone": "UTC"})
    sign_in(page, stack.token)
    page.goto("/chat")
    # The answers name commands as chat does, in backticks: shown as code.
    page.get_by_label("Command").fill("hello there")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("main").locator("code", has_text="help")).to_be_visible()
    # A plan left unconfirmed when the next message is sent says so.
    page.get_by_label("Command").fill(f"run {group}")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("plan")).to_contain_text(group)
    page.get_by_label("Command").fill(f"pause {group}")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("[data-status='not confirmed']")).to_have_count(1)
    expect(page.get_by_test_id("plan")).to_contain_text(group)
    with stack.client() as client:  # parsing and planning changed nothing
        assert client.get(f"/groups/{group}").json()["paused"] is False
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("[data-status='applied']")).to_be_visible()
    screenshot(page, "chat")
    with stack.client() as client:
        assert client.get(f"/groups/{group}").json()["paused"] is True


def test_the_header_names_the_user_and_sync_apply_is_for_admins_only(page: Any, stack: Stack) -> None:
    from lakeforge.commands.access import create_token

    group = make_group(stack)
    editor = create_token(stack.db, unique("ed"), "editor", group=group)
    sign_in(page, editor)
    page.goto("/sync")
    expect(page.get_by_role("heading", name="Sync")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_contain_text(f"editor on {group}")
    expect(page.get_by_test_id("sync-admin-only")).to_be_visible()
    expect(page.get_by_role("button", name="Apply…")).to_have_count(0)
    screenshot(page, "sync-editor")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, stack.token)
    page.goto("/sync")
    expect(page.get_by_test_id("whoami")).to_contain_text("panel_admin")
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    expect(page.get_by_role("button", name="Apply…")).to_have_count(1)
    expect(page.get_by_test_id("sync-admin-only")).to_have_count(0)


def test_the_dq_screen_shows_quarantined_rows_after_a_batch(page: Any, stack: Stack) -> None:
    from lakeforge.runtime.runner import run_batch

    group = make_group(stack)
    source = unique("q")
    waiting = unique("q")
    for name in (source, waiting):
        make_source(
            stack,
            group,
            name,
            silver={
                "primary_keys": ["id"],
                "select_expressions": ["CAST(id AS INT) AS id", "CAST(amount AS INT) AS amount"],
            },
            dq_rules=[{"name": "amount_above_5", "expression": "amount > 5", "action": "quarantine"}],
        )
    run = run_batch(stack.settings, stack.db, group, sources=[source])
    assert run.status == "succeeded", run.error
    with stack.client() as client:  # amounts 2, 1 and 0 (ids 1, 8, 15) fail the rule
        body = client.get(f"/sources/{source}/quarantine").json()
    assert sorted(row["id"] for row in body["rows"]) == [1, 8, 15]

    sign_in(page, stack.token)
    page.goto("/dq")
    table = page.get_by_test_id(f"quarantine-{source}")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("amount_above_5")
    expect(table.locator("thead")).to_contain_text("Failed rules")
    expect(page.get_by_test_id(f"quarantine-by-rule-{source}")).to_have_text("By rule: amount_above_5 3")
    expect(page.get_by_test_id(f"quarantine-none-{waiting}")).to_contain_text("No quarantined rows yet")
    page.get_by_test_id(f"quarantine-{source}").scroll_into_view_if_needed()
    screenshot(page, "dq-quarantine")


def test_the_quartz_editor_previews_while_typing_before_anything_is_saved(page: Any, stack: Stack) -> None:
    group = make_group(stack)
    sign_in(page, stack.token)
    page.goto(f"/groups#{group}")
    form = page.get_by_role("form", name=f"Schedule of {group}")
    field = page.locator(f"#cron-{group}")
    page.locator(f"#tz-{group}").fill("UTC")

    field.fill("0 2 * * *")  # no click: the preview answers after a short pause in typing
    error = page.locator(f"#cron-{group}-error")
    expect(error).to_contain_text("0 0 2 * * ?")
    expect(field).to_have_attribute("aria-invalid", "true")

    field.fill("0 15 10 ? * MON-FRI")
    expect(error).to_have_count(0)
    expect(form.get_by_test_id("cron-description")).to_contain_text("10:15")
    expect(form.get_by_test_id("next-fires").locator("li")).to_have_count(5)
    screenshot(page, "cron-preview")
    with stack.client() as client:  # previewing saved nothing
        assert group not in [s["group"] for s in client.get("/schedules").json()]

    form.get_by_role("button", name="Check").click()
    form.get_by_role("button", name="Save schedule").click()
    expect(form.get_by_role("button", name="Save schedule")).to_have_count(0)
    with stack.client() as client:
        saved = {s["group"]: s for s in client.get("/schedules").json()}
    assert saved[group]["quartz_cron"] == "0 15 10 ? * MON-FRI" and saved[group]["timezone"] == "UTC"
