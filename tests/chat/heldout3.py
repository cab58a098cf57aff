"""HELD_OUT_3: messages as data engineers type them in a team channel, never tuned against.

Written before the parser changes that followed it, and kept untuned afterwards: an expectation
here is never edited to match what the parser says, and no parser rule is written for one of these
sentences. Fixes are made against ``TUNING`` (other phrasings of the same kinds) and must be
general; this set then measures whether they carry over to wording the parser has not seen.

Mentions, politeness, typos, several clauses, time zones, rules said in words, reads, CSV, JSON
and JDBC registrations (a secret reference for the password), pauses, resumes and subscriptions.
``None`` as the kind means the message is genuinely ambiguous or lacks a value: the parser must
ask, and the question must contain ``clarify`` (what it needs).
"""

from __future__ import annotations

from tests.chat.phrasings import Case

HELD_OUT_3: list[Case] = [
    # registering sources
    (
        "@lakeforge could you please register a csv source called shipments in the sales group? "
        "files land in /Volumes/main/landing/shipments/ and have a header row",
        "register_source",
        {
            "name": "shipments",
            "group": "sales",
            "format": "csv",
            "location": "/Volumes/main/landing/shipments/",
            "format_options": {"header": True},
        },
    ),
    (
        "new source reviews: json files from s3://acme-raw/reviews/ , group web, incremental",
        "register_source",
        {"name": "reviews", "format": "json", "group": "web", "location": "s3://acme-raw/reviews/"},
    ),
    (
        "register jdbc source crm_accounts from jdbc:postgresql://crm-db:5432/crm table public.accounts "
        "user etl password {{secrets/crm/pg_password}} in finance",
        "register_source",
        {
            "name": "crm_accounts",
            "format": "jdbc",
            "group": "finance",
            "location": "jdbc:postgresql://crm-db:5432/crm",
            "format_options": {
                "dbtable": "public.accounts",
                "user": "etl",
                "password": "{{secrets/crm/pg_password}}",
            },
        },
    ),
    (
        "hey can u onboard /Volumes/main/landing/vendors as vendors into finance? "
        "it's csv, semicolon delimited",
        "register_source",
        {"name": "vendors", "group": "finance", "format": "csv", "format_options": {"delimiter": ";"}},
    ),
    # changing sources
    (
        "orders files now land in /Volumes/main/landing/orders_v2, pls update",
        "update_source",
        {"name": "orders", "location": "/Volumes/main/landing/orders_v2"},
    ),
    (
        "switch customers to incremental using updated_at",
        "update_source",
        {"name": "customers", "load_mode": "incremental", "watermark_column": "updated_at"},
    ),
    # rules
    (
        "amount should never be negative on orders",
        "add_dq_rule",
        {"source": "orders", "expression": "amount >= 0"},
    ),
    (
        "customer_id can't be null in orders",
        "add_dq_rule",
        {"source": "orders", "expression": "customer_id IS NOT NULL"},
    ),
    (
        "invoices: total must be greater than 0, quarantine the rest",
        "add_dq_rule",
        {"source": "invoices", "expression": "total > 0", "action": "quarantine"},
    ),
    (
        "please add a check on customers that email isn't empty, and drop the rows that fail",
        "add_dq_rule",
        {"source": "customers", "expression": "email IS NOT NULL AND trim(email) <> ''", "action": "drop"},
    ),
    ("remove the rule on orders", None, {"clarify": "Which rule"}),
    # schedules
    (
        "can we have finance run every weekday at 6am berlin time?",
        "set_schedule",
        {"group": "finance", "quartz_cron": "0 0 6 ? * MON-FRI", "timezone": "Europe/Berlin"},
    ),
    ("move web to every 2 hours pls", "set_schedule", {"group": "web", "quartz_cron": "0 0 0/2 * * ?"}),
    (
        "<@U0LAKEBOT> run sales at 7:30am on weekdays, new york time",
        "set_schedule",
        {"group": "sales", "quartz_cron": "0 30 7 ? * MON-FRI", "timezone": "America/New_York"},
    ),
    # pauses and resumes
    ("pls pause finance for now, the source system is down", "pause_schedule", {"group": "finance"}),
    ("can you un-pause web", "resume_schedule", {"group": "web"}),
    ("hold off on the clicks loads until further notice", "pause_schedule", {"group": "web"}),
    # runs, reruns, cancels
    ("can someone trigger customers? need fresh data for a demo", "run_now", {"source": "customers"}),
    ("rerun ordrs", None, {"clarify": "batch"}),
    ("retry 1043 from silver", "rerun_batch", {"batch_id": 1043, "zones": ["silver", "gold"]}),
    (
        "orders failed again last night - can you rerun batch 881 and let me know",
        "rerun_batch",
        {"batch_id": 881},
    ),
    ("kill batch 990 it's stuck", "cancel_run", {"batch_id": 990}),
    ("push the latest config to databricks pls", "sync_jobs", {}),
    # reads
    ("what failed last night?", "list_runs", {"status": "failed"}),
    ("how many rows did orders load yesterday?", "list_runs", {"source": "orders"}),
    ("is orders paused?", "show_group", {"name": "sales"}),
    ("whats the status of the web pipeline", "list_runs", {"group": "web"}),
    ("any quarantined rows in invoices from today's load?", "show_quarantine", {"source": "invoices"}),
    ("list all the feeds in the finance group", "list_sources", {"group": "finance"}),
    ("who changed the orders source last?", "show_history", {"name": "orders"}),
    ("when's the next web run?", "show_group", {"name": "web"}),
    ("@lakeforge help, how do i add a rule?", "help", {}),
    # subscriptions
    (
        "send orders alerts to <#C0DATA01|data-alerts>",
        "subscribe_channel",
        {"group": "sales", "slack_channel_id": "C0DATA01"},
    ),
    (
        "pls post failures for finance in <#C0FIN002|fin-data>",
        "subscribe_channel",
        {"group": "finance", "slack_channel_id": "C0FIN002"},
    ),
    ("send orders alerts to #data-alerts", None, {"clarify": "Mention the channel"}),
]
