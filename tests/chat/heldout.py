"""Phrasings written after the parser was tuned, kept apart to measure how it generalises.

HELD_OUT was first measured at 25/34 (73.5%) and the parser was then improved on its misses, so
it is no longer unseen. HELD_OUT_2 was written afterwards and is never tuned against: its
accuracy is the honest estimate for new wording.
"""

from __future__ import annotations

from tests.chat.phrasings import Case

HELD_OUT: list[Case] = [
    (
        "could you onboard a csv feed named deliveries from /Volumes/ops/deliveries into the sales group",
        "register_source",
        {"name": "deliveries", "group": "sales", "format": "csv"},
    ),
    (
        "I need a new parquet source 'inventory' at s3://wh/inventory/ in finance",
        "register_source",
        {"format": "parquet", "group": "finance"},
    ),
    (
        "please change where customers reads from: /Volumes/crm/customers_v2",
        "update_source",
        {"name": "customers", "location": "/Volumes/crm/customers_v2"},
    ),
    (
        "turn clicks into an incremental load by event_time",
        "update_source",
        {"name": "clicks", "load_mode": "incremental"},
    ),
    ("we don't need the invoices source anymore, delete it", "remove_source", {"name": "invoices"}),
    ("nuke orders", None, {}),
    (
        "make sure order amounts are positive on orders: amount > 0",
        "add_dq_rule",
        {"source": "orders", "expression": "amount > 0"},
    ),
    ("quarantine customers rows where email is null", "add_dq_rule", {"source": "customers"}),
    ("get rid of the amount_positive rule on orders", "remove_dq_rule", {"name": "amount_positive"}),
    (
        "have finance run at 6:45am every weekday",
        "set_schedule",
        {"group": "finance", "quartz_cron": "0 45 6 ? * MON-FRI"},
    ),
    ("sales every sunday at 11pm", "set_schedule", {"group": "sales", "quartz_cron": "0 0 23 ? * SUN"}),
    ("set web to run each hour", "set_schedule", {"group": "web", "quartz_cron": "0 0 * * * ?"}),
    ("put the web group on hold", "pause_schedule", {"group": "web"}),
    ("stop finance from running on schedule", "pause_schedule", {"group": "finance"}),
    ("turn sales back on", "resume_schedule", {"group": "sales"}),
    ("kick off a load of customers", "run_now", {"source": "customers"}),
    ("ingest clicks right now", "run_now", {"source": "clicks"}),
    ("go ahead and run the finance job", "run_now", {"group": "finance"}),
    ("try batch 311 one more time", "rerun_batch", {"batch_id": 311}),
    ("redo #77", "rerun_batch", {"batch_id": 77}),
    ("apply the metadata to databricks jobs", "sync_jobs", {}),
    ("sync up", "sync_jobs", {}),
    (
        "route finance alerts to <#C0FINX12|fin>",
        "subscribe_channel",
        {"group": "finance", "slack_channel_id": "C0FINX12"},
    ),
    ("tell me about the clicks source", "show_source", {"name": "clicks"}),
    ("what's the config of invoices", "show_source", {"name": "invoices"}),
    ("any failures today?", "list_runs", {"status": "failed"}),
    ("how did sales do", "list_runs", {"group": "sales"}),
    ("latest runs", "list_runs", {}),
    ("what went wrong in batch 58", "show_run", {"batch_id": 58}),
    ("give me the details of batch #12", "show_run", {"batch_id": 12}),
    ("changes to orders", "show_history", {"name": "orders"}),
    ("bring customers back to revision 4", "restore_revision", {"name": "customers", "revision": 4}),
    ("what can i ask you", "help", {}),
    ("usage", "help", {}),
]

HELD_OUT_2: list[Case] = [
    (
        "spin up a new json dataset called reviews, path s3://shop/reviews/, group web",
        "register_source",
        {"name": "reviews", "format": "json", "group": "web"},
    ),
    (
        "hook up /Volumes/fin/budgets/budgets.csv as source budgets for finance",
        "register_source",
        {"name": "budgets", "format": "csv", "group": "finance"},
    ),
    (
        "repoint invoices to /Volumes/fin/invoices_2027",
        "update_source",
        {"name": "invoices", "location": "/Volumes/fin/invoices_2027"},
    ),
    ("clicks should be parquet now", "update_source", {"name": "clicks", "format": "parquet"}),
    ("please drop the customers source", "remove_source", {"name": "customers"}),
    (
        "flag orders rows where discount > amount",
        "add_dq_rule",
        # The flagged rows are the ones that fail the rule: it holds where the condition does not.
        {"source": "orders", "expression": "NOT coalesce(discount > amount, false)", "action": "warn"},
    ),
    (
        "new rule on invoices: currency in ('EUR','USD') drop",
        "add_dq_rule",
        {"source": "invoices", "action": "drop"},
    ),
    ("remove the id_present rule from orders", "remove_dq_rule", {"source": "orders", "name": "id_present"}),
    ("schedule clicks every 30 minutes", "set_schedule", {"group": "web", "quartz_cron": "0 0/30 * * * ?"}),
    (
        "finance should run every friday at 5pm",
        "set_schedule",
        {"group": "finance", "quartz_cron": "0 0 17 ? * FRI"},
    ),
    ("freeze the sales schedule", "pause_schedule", {"group": "sales"}),
    ("unfreeze sales", "resume_schedule", {"group": "sales"}),
    ("launch orders", "run_now", {"source": "orders"}),
    ("trigger a run of the finance group", "run_now", {"group": "finance"}),
    ("rerun last night's failed batch", None, {}),
    ("retry batch number 64", "rerun_batch", {"batch_id": 64}),
    ("reconcile", "sync_jobs", {}),
    (
        "send the web group's alerts to <#C0WEB777|web-ops>",
        "subscribe_channel",
        {"group": "web", "slack_channel_id": "C0WEB777"},
    ),
    ("describe invoices", "show_source", {"name": "invoices"}),
    ("failed batches of web", "list_runs", {"group": "web", "status": "failed"}),
    ("is anything running", "list_runs", {"status": "running"}),
    ("show me batch 404", "show_run", {"batch_id": 404}),
    ("history of clicks", "show_history", {"name": "clicks"}),
    ("revert invoices to rev 2", "restore_revision", {"name": "invoices", "revision": 2}),
    ("help me", "help", {}),
]
