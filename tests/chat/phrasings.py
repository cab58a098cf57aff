"""Phrasings the rule-based parser must understand: (text, intent kind, slots that must match).

Varied on purpose: word order, synonyms, typos, filler words, Slack mentions. ``None`` as the
kind means the parser must ask a question instead of proposing an intent.
"""

from __future__ import annotations

from typing import Any

from lakeforge.nlu.lookup import Known

KNOWN = Known(
    sources={"orders": "sales", "customers": "sales", "clicks": "web", "invoices": "finance"},
    groups={"sales", "web", "finance"},
    rules={"orders": {"amount_positive", "id_present"}},
)

Case = tuple[str, str | None, dict[str, Any]]

PHRASINGS: list[Case] = [
    # register_source
    (
        "register source shipments csv from /Volumes/main/raw/shipments in group sales",
        "register_source",
        {"name": "shipments", "group": "sales", "format": "csv", "location": "/Volumes/main/raw/shipments"},
    ),
    (
        "onboard a new json source called events at s3://landing/events/ for group web",
        "register_source",
        {"name": "events", "group": "web", "format": "json", "location": "s3://landing/events/"},
    ),
    (
        "add parquet source products, path /Volumes/main/raw/products, group sales",
        "register_source",
        {"name": "products", "format": "parquet", "group": "sales"},
    ),
    (
        "please register a new source named refunds (csv) reading /Volumes/fin/refunds in the finance group",
        "register_source",
        {"name": "refunds", "group": "finance", "format": "csv"},
    ),
    (
        "create source payments from /Volumes/fin/payments/ as json, group finance",
        "register_source",
        {"name": "payments", "format": "json", "location": "/Volumes/fin/payments/"},
    ),
    (
        "new source sessions json s3://bucket/sessions group web incremental",
        "register_source",
        {"name": "sessions", "load_mode": "incremental"},
    ),
    (
        "regster source returns csv /Volumes/main/raw/returns group sales",
        "register_source",
        {"name": "returns", "format": "csv"},
    ),
    (
        "ingest /Volumes/main/raw/stores/stores.csv as source stores in group sales",
        "register_source",
        {"name": "stores", "format": "csv", "group": "sales"},
    ),
    (
        "onbaord source leads parquet from abfss://raw@acct.dfs.core.windows.net/leads group web",
        "register_source",
        {"name": "leads", "format": "parquet", "group": "web"},
    ),
    (
        "register source ledger delta at /Volumes/fin/ledger in group finance",
        "register_source",
        {"name": "ledger", "format": "delta"},
    ),
    (
        "hey lakeforge, add a csv source called vendors from /Volumes/main/raw/vendors to group finance",
        "register_source",
        {"name": "vendors", "group": "finance"},
    ),
    ("register source shipments", None, {}),
    ("register source shipments csv in group sales", None, {}),
    ("onboard /Volumes/main/raw/x.csv", None, {}),
    # update_source
    (
        "update orders location /Volumes/main/raw/orders_v2",
        "update_source",
        {"name": "orders", "location": "/Volumes/main/raw/orders_v2"},
    ),
    (
        "change the path of customers to /Volumes/main/raw/customers_2026",
        "update_source",
        {"name": "customers", "location": "/Volumes/main/raw/customers_2026"},
    ),
    ("switch clicks to parquet", "update_source", {"name": "clicks", "format": "parquet"}),
    (
        "make orders incremental on updated_at",
        "update_source",
        {"name": "orders", "load_mode": "incremental", "watermark_column": "updated_at"},
    ),
    ("set invoices to full load", "update_source", {"name": "invoices", "load_mode": "full"}),
    (
        "modify source clicks: location s3://landing/clicks_v3/",
        "update_source",
        {"name": "clicks", "location": "s3://landing/clicks_v3/"},
    ),
    (
        "point ordres at /Volumes/main/raw/orders_new",
        "update_source",
        {"name": "orders", "location": "/Volumes/main/raw/orders_new"},
    ),
    ("edit customers format json", "update_source", {"name": "customers", "format": "json"}),
    ("update orders", None, {}),
    (
        "move the invoices source to /Volumes/fin/invoices_v2",
        "update_source",
        {"name": "invoices", "location": "/Volumes/fin/invoices_v2"},
    ),
    # remove_source
    ("remove source orders", "remove_source", {"name": "orders"}),
    ("delete the clicks source", "remove_source", {"name": "clicks"}),
    ("please decommission invoices", "remove_source", {"name": "invoices"}),
    ("drop customers", "remove_source", {"name": "customers"}),
    ("unregister source clicks", "remove_source", {"name": "clicks"}),
    ("get rid of source invoices, remove it", "remove_source", {"name": "invoices"}),
    ("delte orders source", "remove_source", {"name": "orders"}),
    ("retire the customers dataset", "remove_source", {"name": "customers"}),
    ("remove source", None, {}),
    # add_dq_rule
    (
        "add rule on orders: amount > 0 drop",
        "add_dq_rule",
        {"source": "orders", "expression": "amount > 0", "action": "drop"},
    ),
    (
        "add a check to orders that customer_id is not null",
        "add_dq_rule",
        {"source": "orders", "expression": "customer_id is not null", "action": "warn"},
    ),
    (
        "add dq rule valid_email on customers `email rlike '^[^@]+@[^@]+$'` quarantine",
        "add_dq_rule",
        {"source": "customers", "name": "valid_email", "action": "quarantine"},
    ),
    (
        "new expectation for invoices: total >= 0, fail the batch otherwise",
        "add_dq_rule",
        {"source": "invoices", "expression": "total >= 0"},
    ),
    (
        "create quality rule on clicks where ts is not null and drop bad rows",
        "add_dq_rule",
        {"source": "clicks", "expression": "ts is not null", "action": "drop"},
    ),
    (
        "orders rule: quantity between 1 and 1000",
        "add_dq_rule",
        {"source": "orders", "expression": "quantity between 1 and 1000"},
    ),
    (
        "add check on customers: country in ('FR','DE','US')",
        "add_dq_rule",
        {"source": "customers", "expression": "country in ('FR','DE','US')"},
    ),
    (
        "add rule on orders that amount must be positive",
        "add_dq_rule",
        {"source": "orders", "expression": "amount > 0"},
    ),
    ("add a rule to invoices", None, {}),
    (
        'add constraint on clicks: "user_id is not null" warn',
        "add_dq_rule",
        {"source": "clicks", "expression": "user_id is not null", "action": "warn"},
    ),
    (
        "ad rule on orders: status in ('open','closed')",
        "add_dq_rule",
        {"source": "orders", "expression": "status in ('open','closed')"},
    ),
    (
        "add a validation on invoices: due_date >= issue_date and quarantine failures",
        "add_dq_rule",
        {"source": "invoices", "expression": "due_date >= issue_date", "action": "quarantine"},
    ),
    # Text predicates said in words: contains, starts/ends with, not blank, one of, matches.
    (
        "add a rule to customers: email must contain @, drop bad rows",
        "add_dq_rule",
        {"source": "customers", "expression": "contains(email, '@')", "action": "drop"},
    ),
    (
        "add a check on customers that email contains @",
        "add_dq_rule",
        {"source": "customers", "expression": "contains(email, '@')"},
    ),
    (
        "new rule for orders: sku should start with AB, quarantine",
        "add_dq_rule",
        {"source": "orders", "expression": "startswith(sku, 'AB')", "action": "quarantine"},
    ),
    (
        "add rule on customers: email must not be blank",
        "add_dq_rule",
        {"source": "customers", "expression": "email IS NOT NULL AND trim(email) <> ''"},
    ),
    (
        "add rule on orders: status is one of open, closed, shipped",
        "add_dq_rule",
        {"source": "orders", "expression": "status IN ('open', 'closed', 'shipped')"},
    ),
    # remove_dq_rule
    (
        "remove rule amount_positive from orders",
        "remove_dq_rule",
        {"source": "orders", "name": "amount_positive"},
    ),
    ("delete the id_present check on orders", "remove_dq_rule", {"source": "orders", "name": "id_present"}),
    ("drop rule amount_positive on orders", "remove_dq_rule", {"name": "amount_positive"}),
    ("orders: remove the amount_positive expectation", "remove_dq_rule", {"name": "amount_positive"}),
    ("remove a rule from orders", None, {}),
    (
        "delete dq rule nonnegative_total on invoices",
        "remove_dq_rule",
        {"source": "invoices", "name": "nonnegative_total"},
    ),
    # set_schedule
    ("schedule sales every day at 2am", "set_schedule", {"group": "sales", "quartz_cron": "0 0 2 * * ?"}),
    ("run the web group every 15 minutes", "set_schedule", {"group": "web", "quartz_cron": "0 0/15 * * * ?"}),
    ("shedule finance daily at 3pm", "set_schedule", {"group": "finance", "quartz_cron": "0 0 15 * * ?"}),
    (
        "sales should run on weekdays at 7:30",
        "set_schedule",
        {"group": "sales", "quartz_cron": "0 30 7 ? * MON-FRI"},
    ),
    (
        "set the schedule of web to 0 0 */2 * * ?",
        "set_schedule",
        {"group": "web", "quartz_cron": "0 0 */2 * * ?"},
    ),
    ("schedule finance hourly", "set_schedule", {"group": "finance", "quartz_cron": "0 0 * * * ?"}),
    ("every monday at 6am run finance", "set_schedule", {"group": "finance", "quartz_cron": "0 0 6 ? * MON"}),
    (
        "change sales schedule to midnight every day",
        "set_schedule",
        {"group": "sales", "quartz_cron": "0 0 0 * * ?"},
    ),
    (
        "schedule web every day at 2am Europe/Paris",
        "set_schedule",
        {"group": "web", "quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Paris"},
    ),
    ("schedule sales daily", None, {}),
    ("load orders every night", "set_schedule", {"group": "sales", "quartz_cron": "0 0 0 * * ?"}),
    ("cron for finance: 0 30 1 * * ?", "set_schedule", {"group": "finance", "quartz_cron": "0 30 1 * * ?"}),
    ("schedule web with cron 0 2 * * *", "set_schedule", {"group": "web", "quartz_cron": "0 0 2 * * ?"}),
    (
        "run sales on the 1st of every month at 4am",
        "set_schedule",
        {"group": "sales", "quartz_cron": "0 0 4 1 * ?"},
    ),
    (
        "schedule finance every weekend at 9am",
        "set_schedule",
        {"group": "finance", "quartz_cron": "0 0 9 ? * SAT,SUN"},
    ),
    (
        "schedule every 2 hours for the web group",
        "set_schedule",
        {"group": "web", "quartz_cron": "0 0 0/2 * * ?"},
    ),
    ("schedule the sales job", None, {}),
    # pause_schedule
    ("pause sales", "pause_schedule", {"group": "sales"}),
    ("pause the web group", "pause_schedule", {"group": "web"}),
    ("suspend the finance schedule", "pause_schedule", {"group": "finance"}),
    ("stop scheduling sales for now", "pause_schedule", {"group": "sales"}),
    ("puase web", "pause_schedule", {"group": "web"}),
    ("hold the finance job please", "pause_schedule", {"group": "finance"}),
    ("pause orders", "pause_schedule", {"group": "sales"}),
    ("disable the schedule of web", "pause_schedule", {"group": "web"}),
    ("pause", None, {}),
    # resume_schedule
    ("resume sales", "resume_schedule", {"group": "sales"}),
    ("unpause the web group", "resume_schedule", {"group": "web"}),
    ("reactivate finance schedule", "resume_schedule", {"group": "finance"}),
    ("resmue sales", "resume_schedule", {"group": "sales"}),
    ("continue the web job", "resume_schedule", {"group": "web"}),
    ("re-enable finance", "resume_schedule", {"group": "finance"}),
    ("resume", None, {}),
    # run_now
    ("run sales", "run_now", {"group": "sales"}),
    ("run orders", "run_now", {"source": "orders"}),
    ("trigger the web group now", "run_now", {"group": "web"}),
    ("kick off finance", "run_now", {"group": "finance"}),
    ("start a run of clicks", "run_now", {"source": "clicks"}),
    ("please launch sales right away", "run_now", {"group": "sales"}),
    ("execute invoices", "run_now", {"source": "invoices"}),
    ("load customers now", "run_now", {"source": "customers"}),
    ("refresh the web pipeline", "run_now", {"group": "web"}),
    ("runn sales immediately", "run_now", {"group": "sales"}),
    ("can you run finance for me", "run_now", {"group": "finance"}),
    ("run", None, {}),
    # rerun_batch
    ("rerun batch 42", "rerun_batch", {"batch_id": 42}),
    ("retry #17", "rerun_batch", {"batch_id": 17}),
    ("run batch 1234 again", "rerun_batch", {"batch_id": 1234}),
    ("replay batch id 9", "rerun_batch", {"batch_id": 9}),
    ("please rerun 88", "rerun_batch", {"batch_id": 88}),
    ("retyr batch 5", "rerun_batch", {"batch_id": 5}),
    ("reprocess batch #300", "rerun_batch", {"batch_id": 300}),
    ("rerun", None, {}),
    ("rerun last night's failed orders batch", None, {}),
    # No source or group named: the newest (failed) batch of the run log, which needs the store.
    ("rerun the last batch", None, {}),
    ("retry the latest failed batch", None, {}),
    # sync_jobs
    ("sync", "sync_jobs", {}),
    ("sync jobs", "sync_jobs", {}),
    ("preview the job sync plan", "sync_jobs", {"mode": "plan"}),
    ("reconcile the databricks jobs", "sync_jobs", {}),
    ("deploy jobs now", "sync_jobs", {}),
    ("push the metadata to databricks", "sync_jobs", {}),
    ("synch jobs please", "sync_jobs", {}),
    ("resync everything", "sync_jobs", {}),
    # subscribe_channel
    (
        "subscribe sales to <#C0DATA01|data-alerts>",
        "subscribe_channel",
        {"group": "sales", "slack_channel_id": "C0DATA01"},
    ),
    ("subscribe sales to #data-alerts", None, {}),
    (
        "send web alerts to <#C0123ABC|web-alerts>",
        "subscribe_channel",
        {"group": "web", "slack_channel_id": "C0123ABC"},
    ),
    (
        "notify <#C0FIN0PS> about finance runs",
        "subscribe_channel",
        {"group": "finance", "slack_channel_id": "C0FIN0PS"},
    ),
    (
        "post alerts for the sales group in <#G0SALES9|sales-data>",
        "subscribe_channel",
        {"group": "sales", "slack_channel_id": "G0SALES9"},
    ),
    ("subscribe this channel to web", None, {}),
    (
        "alerts for finance go to <#C0FINAL3|fin-alerts>",
        "subscribe_channel",
        {"group": "finance", "slack_channel_id": "C0FINAL3"},
    ),
    ("subscribe #ops", None, {}),
    # show_source
    ("show orders", "show_source", {"name": "orders"}),
    ("describe source customers", "show_source", {"name": "customers"}),
    ("what is clicks", "show_source", {"name": "clicks"}),
    ("details of invoices", "show_source", {"name": "invoices"}),
    ("info ordrs", "show_source", {"name": "orders"}),
    ("display the customers source config", "show_source", {"name": "customers"}),
    ("show me the rules of orders", "show_source", {"name": "orders"}),
    ("show source", None, {}),
    # list_sources
    ("which sources do we have?", "list_sources", {}),
    ("list sources", "list_sources", {}),
    ("what sources are in finance?", "list_sources", {"group": "finance"}),
    ("show me all the datasets in the web group", "list_sources", {"group": "web"}),
    ("list the sources of sales", "list_sources", {"group": "sales"}),
    # show_quarantine
    ("show me quarantined rows for orders", "show_quarantine", {"source": "orders"}),
    ("what got quarantined in customers?", "show_quarantine", {"source": "customers"}),
    ("how many rows were quarantined for invoices", "show_quarantine", {"source": "invoices"}),
    ("show the newest 10 quarantined rows of clicks", "show_quarantine", {"source": "clicks", "limit": 10}),
    # list_runs
    ("runs", "list_runs", {}),
    ("list runs", "list_runs", {}),
    ("show the last 5 runs of sales", "list_runs", {"group": "sales", "limit": 5}),
    ("failed runs of orders", "list_runs", {"source": "orders", "status": "failed"}),
    ("status", "list_runs", {}),
    ("status of web", "list_runs", {"group": "web"}),
    ("how is finance doing", "list_runs", {"group": "finance"}),
    ("what failed", "list_runs", {"status": "failed"}),
    ("list recent runs for clicks", "list_runs", {"source": "clicks"}),
    ("show running batches", "list_runs", {"status": "running"}),
    ("recent failures in sales", "list_runs", {"group": "sales", "status": "failed"}),
    ("runs of finance", "list_runs", {"group": "finance"}),
    # show_run
    ("show batch 42", "show_run", {"batch_id": 42}),
    ("status of batch 17", "show_run", {"batch_id": 17}),
    ("what happened in batch 99", "show_run", {"batch_id": 99}),
    ("details for #501", "show_run", {"batch_id": 501}),
    ("batch 7", "show_run", {"batch_id": 7}),
    ("show run 12", "show_run", {"batch_id": 12}),
    # show_history
    ("history orders", "show_history", {"name": "orders"}),
    ("show the history of customers", "show_history", {"name": "customers"}),
    ("who changed invoices", "show_history", {"name": "invoices"}),
    ("revisions of clicks", "show_history", {"name": "clicks"}),
    ("histroy orders", "show_history", {"name": "orders"}),
    ("audit trail of customers", "show_history", {"name": "customers"}),
    ("history", None, {}),
    # restore_revision
    ("restore orders to revision 3", "restore_revision", {"name": "orders", "revision": 3}),
    ("revert customers to version 2", "restore_revision", {"name": "customers", "revision": 2}),
    ("roll back clicks to revision 5", "restore_revision", {"name": "clicks", "revision": 5}),
    ("rollback invoices to 4", "restore_revision", {"name": "invoices", "revision": 4}),
    ("undo orders changes, go back to v1", "restore_revision", {"name": "orders", "revision": 1}),
    ("restore orders", None, {}),
    ("resotre customers revision 6", "restore_revision", {"name": "customers", "revision": 6}),
    # help
    ("help", "help", {}),
    ("?", "help", {}),
    ("what can you do", "help", {}),
    ("help schedule", "help", {}),
    ("hlep", "help", {}),
    ("commands", "help", {}),
    ("how do i add a rule", "help", {}),
    ("", "help", {}),
]

# Phrasings that were once read wrongly (a wrong intent, a rule inverted, a schedule firing at the
# wrong time). Unlike PHRASINGS, which is measured as a whole, each of these must be read exactly.
# For a question (kind None), ``{"clarify": "..."}`` is a phrase the question must contain.
EXACT: list[Case] = [
    # "drop rows where X" names the bad rows: the rule keeps the others, NULL included.
    (
        "drop rows in orders where customer_id is null",
        "add_dq_rule",
        {"source": "orders", "expression": "customer_id IS NOT NULL", "action": "drop"},
    ),
    (
        "on orders, drop rows where customer_id is null",
        "add_dq_rule",
        {"source": "orders", "expression": "customer_id IS NOT NULL", "action": "drop"},
    ),
    (
        "quarantine orders rows where amount < 0",
        "add_dq_rule",
        {"source": "orders", "expression": "NOT coalesce(amount < 0, false)", "action": "quarantine"},
    ),
    (
        "quarantine rows where amount < 0 in orders",
        "add_dq_rule",
        {"source": "orders", "expression": "NOT coalesce(amount < 0, false)", "action": "quarantine"},
    ),
    (
        "filter out rows where country is null on customers",
        "add_dq_rule",
        {"source": "customers", "expression": "country IS NOT NULL", "action": "drop"},
    ),
    (
        "reject orders where amount < 0",
        "add_dq_rule",
        {"source": "orders", "expression": "NOT coalesce(amount < 0, false)", "action": "drop"},
    ),
    (
        "add a rule on orders to quarantine rows where status is not null",
        "add_dq_rule",
        {"source": "orders", "expression": "status IS NULL", "action": "quarantine"},
    ),
    # A column is not a typo of a source ("customer_id" is not "customers"): ask for the source.
    ("drop rows where customer_id is null", None, {"clarify": "Which source should the rule check?"}),
    (
        "add check on `orders`: amount > 0",
        "add_dq_rule",
        {"source": "orders", "expression": "amount > 0"},
    ),
    # Names in backticks or quotes, as Slack users mark them.
    ("pause `sales`", "pause_schedule", {"group": "sales"}),
    ("run “orders”", "run_now", {"source": "orders"}),
    ('resume "web"', "resume_schedule", {"group": "web"}),
    # Comparisons said in words become operators; quoted text is left as written.
    (
        "add a rule on orders that amount is below 10000, drop",
        "add_dq_rule",
        {"source": "orders", "expression": "amount < 10000", "action": "drop"},
    ),
    (
        "add check on invoices: total must be at least 1 and status is not equal to 'is below'",
        "add_dq_rule",
        {"source": "invoices", "expression": "total >= 1 and status <> 'is below'"},
    ),
    (
        "new rule for clicks: duration should not exceed 3600, warn",
        "add_dq_rule",
        {"source": "clicks", "expression": "duration <= 3600"},
    ),
    # How a source lands in silver, said in words: only what is said changes (sections merge).
    (
        "set the primary key of orders to order_id",
        "update_source",
        {"name": "orders", "silver": {"primary_keys": ["order_id"]}},
    ),
    (
        "orders should be scd2 keyed on order_id and line_no",
        "update_source",
        {"name": "orders", "silver": {"primary_keys": ["order_id", "line_no"], "scd_type": 2}},
    ),
    (
        "invoices: keep history, sequenced by updated_at",
        "update_source",
        {"name": "invoices", "silver": {"scd_type": 2, "sequence_by": "updated_at"}},
    ),
    (
        "change the schema of clicks to ts TIMESTAMP, url STRING",
        "update_source",
        {"name": "clicks", "schema_ddl": "ts TIMESTAMP, url STRING"},
    ),
    ("is orders keyed on id?", "show_source", {"name": "orders"}),
    ("who changed orders keys", "show_history", {"name": "orders"}),
    (
        "register source shipments csv from /Volumes/main/raw/keys/shipments in group sales keyed on id",
        "register_source",
        {"location": "/Volumes/main/raw/keys/shipments", "silver": {"primary_keys": ["id"]}},
    ),
    # A rule noun with no verb and no condition asks to see the rules; "why" about a batch is its run.
    ("rules for orders", "show_source", {"name": "orders"}),
    ("what rules does invoices have?", "show_source", {"name": "invoices"}),
    ("why did batch 42 fail?", "show_run", {"batch_id": 42}),
]
# Changing a rule that exists is update_dq_rule, never a new rule or removing the source.
EXACT += [
    (
        "make rule amount_positive on orders fail instead of warn",
        "update_dq_rule",
        {"source": "orders", "name": "amount_positive", "action": "fail"},
    ),
    (
        "change the action of amount_positive on orders to drop",
        "update_dq_rule",
        {"source": "orders", "name": "amount_positive", "action": "drop"},
    ),
    (
        "change rule amount_positive from warn to quarantine",
        "update_dq_rule",
        {"source": "orders", "name": "amount_positive", "action": "quarantine"},
    ),
    (
        "disable rule amount_positive on orders",
        "update_dq_rule",
        {"source": "orders", "name": "amount_positive", "enabled": False},
    ),
    ("turn off the id_present check on orders", "update_dq_rule", {"name": "id_present", "enabled": False}),
    ("enable the amount_positive rule", "update_dq_rule", {"name": "amount_positive", "enabled": True}),
    (
        "update rule amount_positive on orders to amount >= 0",
        "update_dq_rule",
        {"name": "amount_positive", "expression": "amount >= 0"},
    ),
    ("update rule amount_positive on orders", None, {"clarify": "What should change on rule"}),
    ("drop the amount_positive rule", "remove_dq_rule", {"source": "orders", "name": "amount_positive"}),
    ("drop amount_positive on orders", "remove_dq_rule", {"source": "orders", "name": "amount_positive"}),
]
# Schedules: a time zone named in words is kept, and what Quartz cannot say exactly is asked.
EXACT += [
    (
        "schedule sales every weekday at 6am Berlin time",
        "set_schedule",
        {"group": "sales", "quartz_cron": "0 0 6 ? * MON-FRI", "timezone": "Europe/Berlin"},
    ),
    (
        "schedule sales at 7am New York time on weekdays",
        "set_schedule",
        {"quartz_cron": "0 0 7 ? * MON-FRI", "timezone": "America/New_York"},
    ),
    (
        "schedule sales at 6am PST every day",
        "set_schedule",
        {"quartz_cron": "0 0 6 * * ?", "timezone": "America/Los_Angeles"},
    ),
    ("schedule web daily at 5am CET", "set_schedule", {"quartz_cron": "0 0 5 * * ?", "timezone": "CET"}),
    (
        "schedule sales at 2am every sunday in London",
        "set_schedule",
        {"quartz_cron": "0 0 2 ? * SUN", "timezone": "Europe/London"},
    ),
    ("schedule sales at 6am IST", None, {"clarify": "Asia/Kolkata or Europe/Dublin"}),
    ("schedule sales every day at 6am Munich time", None, {"clarify": "Which time zone is 'munich'?"}),
    ("schedule sales first day of the month at 1am", "set_schedule", {"quartz_cron": "0 0 1 1 * ?"}),
    ("schedule sales on the first day of every month at 1am", "set_schedule", {"quartz_cron": "0 0 1 1 * ?"}),
    ("schedule sales on the last day of the month at 23:00", "set_schedule", {"quartz_cron": "0 0 23 L * ?"}),
    ("schedule sales at 3am on the 15th", "set_schedule", {"quartz_cron": "0 0 3 15 * ?"}),
    ("schedule sales on the 1st and 15th at 3am", "set_schedule", {"quartz_cron": "0 0 3 1,15 * ?"}),
    ("schedule sales first monday of the month at 6am", "set_schedule", {"quartz_cron": "0 0 6 ? * MON#1"}),
    (
        "schedule sales on the last friday of every month at 5pm",
        "set_schedule",
        {"quartz_cron": "0 0 17 ? * FRIL"},
    ),
    ("schedule sales last business day of the month at 8pm", None, {"clarify": "last working day"}),
    ("schedule sales at 6am and 6pm", "set_schedule", {"quartz_cron": "0 0 6,18 * * ?"}),
    ("schedule sales at 6:15 and 18:30", None, {"clarify": "06:15 and 18:30"}),
    ("schedule sales monday at 6am and friday at 5pm", None, {"clarify": "one schedule per time"}),
    (
        "schedule sales on weekdays except friday at 6am",
        "set_schedule",
        {"quartz_cron": "0 0 6 ? * MON,TUE,WED,THU"},
    ),
    (
        "schedule sales daily except sundays at 6am",
        "set_schedule",
        {"quartz_cron": "0 0 6 ? * MON,TUE,WED,THU,FRI,SAT"},
    ),
    (
        "schedule sales every 15 minutes between 8am and 6pm on weekdays",
        "set_schedule",
        {"quartz_cron": "0 0/15 8-17 ? * MON-FRI"},
    ),
    ("schedule sales hourly on weekdays", "set_schedule", {"quartz_cron": "0 0 * ? * MON-FRI"}),
    ("schedule sales every 2 hours between 8am and 6pm", "set_schedule", {"quartz_cron": "0 0 8-18/2 * * ?"}),
    ("schedule sales every half hour", "set_schedule", {"quartz_cron": "0 0/30 * * * ?"}),
    ("schedule sales every 6h", "set_schedule", {"quartz_cron": "0 0 0/6 * * ?"}),
    ("schedule sales every 90 minutes", None, {"clarify": "divisor of 60"}),
    ("schedule sales every 5 hours", None, {"clarify": "divisor of 24"}),
    ("schedule sales every other day at 3am", None, {"clarify": "every few days"}),
    ("schedule sales tomorrow at 3am", None, {"clarify": "A schedule repeats"}),
    ("schedule sales next monday at 9am", None, {"clarify": "A schedule repeats"}),
]
# A verb that is asked about, negated or out of reach never becomes that change.
EXACT += [
    ("is sales paused?", "show_group", {"name": "sales"}),
    ("when does sales run?", "show_group", {"name": "sales"}),
    ("did orders run today?", "list_runs", {"source": "orders"}),
    ("why did orders fail?", "list_runs", {"source": "orders", "status": "failed"}),
    ("who paused sales?", "show_history", {"name": "sales"}),
    ("don't run sales tonight", None, {"clarify": "not on what not to do"}),
    ("do not pause web", None, {"clarify": "not on what not to do"}),
    ("skip tonight's sales run", None, {"clarify": "`pause` the group now"}),
    ("run sales tonight", None, {"clarify": "not once at a later time"}),
    ("cancel batch 42", "cancel_run", {"batch_id": 42}),
    ("please abort #17", "cancel_run", {"batch_id": 17}),
    ("kill 9", "cancel_run", {"batch_id": 9}),
    # Without the run log the running batch cannot be looked up: its id is asked for.
    ("cancel the sales run", None, {"clarify": "Which batch of sales should I cancel?"}),
    ("stop the running orders batch", None, {"clarify": "Which batch of orders should I cancel?"}),
    ("don't cancel batch 42", None, {"clarify": "not on what not to do"}),
    ("stop sales", "pause_schedule", {"group": "sales"}),
    ("what's the schedule of sales?", "show_group", {"name": "sales"}),
    ("can you pause sales?", "pause_schedule", {"group": "sales"}),
    ("could you run orders?", "run_now", {"source": "orders"}),
]
# Every name in the message is acted on or asked about, never silently dropped or misplaced.
EXACT += [
    (
        "create group marketing with schedule every day at 2am",
        "create_group",
        {"name": "marketing", "schedule": {"quartz_cron": "0 0 2 * * ?"}},
    ),
    (
        "register parquet source inventory at /Volumes/main/raw/inventory in the finance group, "
        "incremental on updated_at",
        "register_source",
        {
            "name": "inventory",
            "group": "finance",
            "load_mode": "incremental",
            "watermark_column": "updated_at",
        },
    ),
    ("pause sales and web", None, {"clarify": "One group per command"}),
    ("run sales and web", None, {"clarify": "One run per command"}),
    ("run orders and invoices", None, {"clarify": "One run per command"}),
    ("run orders in sales", "run_now", {"source": "orders"}),
    ("rerun the failed orders run", None, {"clarify": "last batch of orders"}),
    ("list sources", "list_sources", {}),
]
# "ACTION if/when X" names the rows too; a message about a source stays about the source.
EXACT += [
    (
        "on invoices, fail the batch if total < 0",
        "add_dq_rule",
        {"source": "invoices", "expression": "NOT coalesce(total < 0, false)", "action": "fail"},
    ),
    (
        "fail orders if amount is null",
        "add_dq_rule",
        {"source": "orders", "expression": "amount IS NOT NULL", "action": "fail"},
    ),
    (
        "add a check to orders that customer_id is not null, fail the batch if not",
        "add_dq_rule",
        {"expression": "customer_id is not null", "action": "fail"},
    ),
    (
        "drop rows in orders where `amount < 0`",
        "add_dq_rule",
        {"expression": "NOT coalesce(amount < 0, false)", "action": "drop"},
    ),
    ("remove the source orders if it is empty", "remove_source", {"name": "orders"}),
    ("what ran last night", "list_runs", {}),
    ("schedule sales every 15 min during business hours", None, {"clarify": "Which hours?"}),
]
# Acting on exactly what was named: one source, not its group; a new name as typed.
EXACT += [
    ("disable orders", "update_source", {"name": "orders", "enabled": False}),
    ("enable the orders source", "update_source", {"name": "orders", "enabled": True}),
    ("disable the sales group", "pause_schedule", {"group": "sales"}),
    ("delete sales", None, {"clarify": "I can remove sources, not groups"}),
    ("remove group web", None, {"clarify": "I can remove sources, not groups"}),
    (
        "add source orders2 parquet /Volumes/main/raw/orders2 group sales",
        "register_source",
        {"name": "orders2", "group": "sales"},
    ),
    ("register source order csv from /Volumes/x/order group sales", "register_source", {"name": "order"}),
]
# Slack delivers &, < and > escaped, links wrapped, and quotes often curled.
EXACT += [
    (
        "drop rows in orders where amount &lt; 0",
        "add_dq_rule",
        {"source": "orders", "expression": "NOT coalesce(amount < 0, false)", "action": "drop"},
    ),
    ("add rule on orders: amount &gt; 0 drop", "add_dq_rule", {"expression": "amount > 0", "action": "drop"}),
    ("add rule on orders: status = ‘open’", "add_dq_rule", {"expression": "status = 'open'"}),
    (
        "register source x csv from <https://example.com/data.csv|example.com/data.csv> group web",
        "register_source",
        {"location": "https://example.com/data.csv"},
    ),
    ("```pause sales```", "pause_schedule", {"group": "sales"}),
    ("<!here> pause <@U0ABC|bob> sales", "pause_schedule", {"group": "sales"}),
]
# Qualifiers of a run are kept, not dropped: zones, engine; a time span is not a count.
EXACT += [
    ("run orders silver only", "run_now", {"source": "orders", "zones": ["silver"]}),
    ("run sales bronze and silver", "run_now", {"group": "sales", "zones": ["bronze", "silver"]}),
    ("run sales from silver onwards", "run_now", {"zones": ["silver", "gold"]}),
    ("run orders up to bronze", "run_now", {"zones": ["raw", "bronze"]}),
    ("rerun 42 from bronze", "rerun_batch", {"batch_id": 42, "zones": ["bronze", "silver", "gold"]}),
    ("run orders with the spark engine", "run_now", {"source": "orders", "engine": "spark"}),
    ("show runs of orders in the last 24 hours", "list_runs", {"source": "orders", "limit": None}),
    ("skipped batches of sales", "list_runs", {"group": "sales", "status": "skipped"}),
]
EXACT += [
    ("run sales full refresh", None, {"clarify": "no full-refresh option"}),
    ("run orders from scratch", None, {"clarify": "`make orders full`"}),
]
EXACT += [
    ("schedule sales every day at 6am Berlin", "set_schedule", {"timezone": "Europe/Berlin"}),
    ("schedule sales every day at 6am in New York", "set_schedule", {"timezone": "America/New_York"}),
    ("schedule sales at 6am every day local time", None, {"clarify": "Which time zone is 'local'?"}),
]
# Unix cron: Sunday is 0 (or 7), a number after "/" is a step, and day-of-month OR day-of-week
# has no Quartz form.
EXACT += [
    ("schedule web with cron 0 2 * * 1-5/2", "set_schedule", {"quartz_cron": "0 0 2 ? * MON-FRI/2"}),
    ("schedule web with cron 0 2 * * */2", "set_schedule", {"quartz_cron": "0 0 2 ? * */2"}),
    ("schedule web with cron 0 2 * * 0", "set_schedule", {"quartz_cron": "0 0 2 ? * SUN"}),
    ("schedule web with cron 0 2 1 * 1", None, {"clarify": "cannot combine"}),
]
EXACT += [
    (
        "quarentine rows in orders where amount < 0",
        "add_dq_rule",
        {"expression": "NOT coalesce(amount < 0, false)", "action": "quarantine"},
    ),
    (
        "DROP ROWS IN ORDERS WHERE CUSTOMER_ID IS NULL",
        "add_dq_rule",
        {"expression": "CUSTOMER_ID IS NOT NULL"},
    ),
]
# CSV header and delimiter said in words are kept (a wrong one loads wrong data silently).
EXACT += [
    (
        "register a csv source shipments at /Volumes/main/raw/shipments/ in group sales, "
        "header true, delimiter ;",
        "register_source",
        {"name": "shipments", "format_options": {"header": True, "delimiter": ";"}},
    ),
    (
        "register csv source s2 at /Volumes/main/raw/s2 group sales without header",
        "register_source",
        {"format_options": {"header": False}},
    ),
    (
        "register source s3 semicolon-separated csv at /Volumes/x/s3 group sales",
        "register_source",
        {"format_options": {"delimiter": ";"}},
    ),
    (
        'register source s4 csv at /Volumes/x/pipe/s4 group sales delimiter "|"',
        "register_source",
        {"format_options": {"delimiter": "|"}},
    ),
    (
        "register source s5 tsv at /Volumes/x/s5 group sales",
        "register_source",
        {"format": "csv", "format_options": {"delimiter": "\t"}},
    ),
]
# Reading about runs never starts one; rules said without "that" or ":" are still read.
EXACT += [
    ("show the last run of orders", "list_runs", {"source": "orders", "limit": 1}),
    ("what was the latest run of sales", "list_runs", {"group": "sales", "limit": 1}),
    ("show me the last batch of web", "list_runs", {"group": "web", "limit": 1}),
    ("show the 3rd run of orders", "list_runs", {"source": "orders"}),
    ("schedule sales every 3 hours starting at 1am", "set_schedule", {"quartz_cron": "0 0 1/3 * * ?"}),
    ("schedule sales every 15 minutes starting at 8am", None, {"clarify": "From 08:00 until when?"}),
    ("schedule sales every quarter hour", "set_schedule", {"quartz_cron": "0 0/15 * * * ?"}),
    ("ensure orders amount > 0", "add_dq_rule", {"source": "orders", "expression": "amount > 0"}),
    ("add rule on orders: orders.amount > 0", "add_dq_rule", {"expression": "amount > 0"}),
    (
        "make sure customer_id is not null in orders",
        "add_dq_rule",
        {"source": "orders", "expression": "customer_id is not null"},
    ),
    ("add rule on orders amount must be positive", "add_dq_rule", {"expression": "amount > 0"}),
]
# Alerts cannot be silenced by a command: never pause the group or ask for a channel instead.
EXACT += [
    ("turn off notifications for sales", None, {"clarify": "cannot stop or mute alerts"}),
    ("mute sales alerts", None, {"clarify": "cannot stop or mute alerts"}),
    ("unsubscribe sales", None, {"clarify": "cannot stop or mute alerts"}),
    (
        "set the watermark of orders to updated_at",
        "update_source",
        {"name": "orders", "watermark_column": "updated_at"},
    ),
]
# A new source described with its schedule is registered with it, not read as a schedule (or a
# run) that would lose the source.
EXACT += [
    (
        "load the shipments csv files from /Volumes/main/landing/shipments into finance every day at 6am",
        "register_source",
        {
            "name": "shipments",
            "group": "finance",
            "format": "csv",
            "location": "/Volumes/main/landing/shipments",
            "schedule": {"quartz_cron": "0 0 6 * * ?"},
        },
    ),
    (
        "ingest shipments json from /Volumes/main/landing/shipments in group web daily at 6am Berlin time",
        "register_source",
        {"name": "shipments", "schedule": {"quartz_cron": "0 0 6 * * ?", "timezone": "Europe/Berlin"}},
    ),
    (
        "load the shipments csv files from /Volumes/main/landing/shipments every day at 6am",
        None,
        {"clarify": "Which group should shipments belong to?"},
    ),
    (
        "load the shipments csv files from /Volumes/main/landing/shipments into web weekly",
        None,
        {"clarify": "When"},
    ),
]
# Starts like a question, asks for a subscription.
EXACT += [
    (
        "when orders fail, send alerts to <#C0ALERTS|alerts>",
        "subscribe_channel",
        {"group": "sales", "slack_channel_id": "C0ALERTS"},
    ),
    ("when does sales run?", "show_group", {"name": "sales"}),
]
# A path given with an existing source: a new location, or a question; never a run that ignores it.
EXACT += [
    (
        "load orders csv from /Volumes/main/landing/orders_v2/",
        None,
        {"clarify": "`update orders location /Volumes/main/landing/orders_v2/`"},
    ),
    (
        "ingest clicks json from s3://landing/clicks_v2/ now",
        None,
        {"clarify": "to load it now, say `run clicks`"},
    ),
    (
        "read orders from /Volumes/main/landing/orders_v2/ instead",
        "update_source",
        {"name": "orders", "location": "/Volumes/main/landing/orders_v2/"},
    ),
    (
        "orders now lives at /Volumes/main/landing/orders_v2/",
        "update_source",
        {"name": "orders", "location": "/Volumes/main/landing/orders_v2/"},
    ),
    (
        "clicks moved to s3://landing/clicks_v3/",
        "update_source",
        {"name": "clicks", "location": "s3://landing/clicks_v3/"},
    ),
    ("move orders to group web", "update_source", {"name": "orders", "group": "web"}),
    ("move orders to the finance group", "update_source", {"name": "orders", "group": "finance"}),
    ("move orders to group nowhere", None, {"clarify": "There is no group nowhere"}),
]
# A pause with an end cannot be done by one command: say so rather than pause for good.
EXACT += [
    ("pause finance until monday", None, {"clarify": "not until a time"}),
    ("pause sales for 2 days", None, {"clarify": "`resume GROUP` when it should run again"}),
    ("hold web for the weekend", None, {"clarify": "not until a time"}),
    ("pause sales until further notice", "pause_schedule", {"group": "sales"}),
]
# A group is shown with its schedule; "when does a source run" is its group's schedule.
EXACT += [
    ("show group sales", "show_group", {"name": "sales"}),
    ("show sales", "show_group", {"name": "sales"}),
    ("show the finance schedule", "show_group", {"name": "finance"}),
    ("when does orders run?", "show_group", {"name": "sales"}),
    ("next run of web", "show_group", {"name": "web"}),
    ("what time does finance run?", "show_group", {"name": "finance"}),
    ("when did sales last run?", "list_runs", {"group": "sales", "limit": 1}),
    ("show orders", "show_source", {"name": "orders"}),
    ("show group", None, {"clarify": "Which group should I show?"}),
]
# Text predicates in words become SQL with their values quoted and escaped; numbers stay numbers.
EXACT += [
    (
        "add a rule to customers: email must contain @, drop bad rows",
        "add_dq_rule",
        {
            "source": "customers",
            "expression": "contains(email, '@')",
            "action": "drop",
            "name": "email_contains",
        },
    ),
    (
        "add a rule on customers: name must not contain O'Brien",
        "add_dq_rule",
        {"expression": "NOT contains(name, 'O\\'Brien')"},
    ),
    ("add check on orders: code ends with _x", "add_dq_rule", {"expression": "endswith(code, '_x')"}),
    (
        "add check on customers that email is not empty, warn",
        "add_dq_rule",
        {"expression": "email IS NOT NULL AND trim(email) <> ''", "name": "email_not_blank"},
    ),
    (
        "add rule on orders: status must be one of 'open', 'closed' or it's",
        "add_dq_rule",
        {"expression": "status IN ('open', 'closed', 'it\\'s')"},
    ),
    (
        "add rule on orders: quantity is one of 1, 2 and 3",
        "add_dq_rule",
        {"expression": "quantity IN (1, 2, 3)"},
    ),
    (
        "add rule on orders: status in (open, closed)",
        "add_dq_rule",
        {"expression": "status IN ('open', 'closed')"},
    ),
    (
        "add a rule on customers: email matches ^[^@]+@[^@]+\\.[a-z]+$, quarantine",
        "add_dq_rule",
        {"expression": "email RLIKE '^[^@]+@[^@]+\\\\.[a-z]+$'", "action": "quarantine"},
    ),
    (
        "drop rows in customers where email is blank",
        "add_dq_rule",
        {"expression": "NOT coalesce((email IS NULL OR trim(email) = ''), false)", "action": "drop"},
    ),
    (
        "add check on customers: country in ('FR','DE','US')",
        "add_dq_rule",
        {"expression": "country in ('FR','DE','US')"},
    ),
    # Reads of sources and quarantined rows are reads, never a rule or a source's config.
    ("what sources are in retail?", None, {"clarify": "There is no group retail"}),
    ("show me quarantined rows for orders", "show_quarantine", {"source": "orders"}),
    ("show me the quarantine rules of orders", "show_source", {"name": "orders"}),
    ("quarantine customers rows where email is null", "add_dq_rule", {"action": "quarantine"}),
]
