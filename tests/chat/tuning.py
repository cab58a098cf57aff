"""TUNING: phrasings the parser was improved against after HELD_OUT_3 was measured.

The same kinds of message as HELD_OUT_3 (``tests/chat/heldout3.py``) in other words, so that the
fixes they drove are general (contractions, hyphenated verbs, chat shorthand, names next to
their marker, header and JDBC options, rules stated as prohibitions, actions on the rows that
fail, reads that mention a run) and not written for one sentence of the held-out set.
``None`` as the kind: the parser must ask, with ``clarify`` in its question.
"""

from __future__ import annotations

from tests.chat.phrasings import Case

TUNING: list[Case] = [
    # chat shorthand and names next to their marker
    (
        "could u add parquet source returns from /Volumes/main/landing/returns to sales",
        "register_source",
        {"name": "returns", "group": "sales", "format": "parquet"},
    ),
    (
        "pls onboard /Volumes/fin/fx_rates/ as fx_rates into finance, it's parquet",
        "register_source",
        {"name": "fx_rates", "group": "finance", "format": "parquet"},
    ),
    (
        "onboard csv source suppliers for the finance group; "
        "files are dropped in /Volumes/main/landing/suppliers",
        "register_source",
        {"name": "suppliers", "group": "finance", "location": "/Volumes/main/landing/suppliers"},
    ),
    # CSV header said in words
    (
        "add csv source stores from /Volumes/main/landing/stores in group sales, the files have a header",
        "register_source",
        {"name": "stores", "format_options": {"header": True}},
    ),
    (
        "register csv source rates at /Volumes/fin/rates group finance, first line is the header",
        "register_source",
        {"name": "rates", "format_options": {"header": True}},
    ),
    (
        "register csv source pings at /Volumes/web/pings group web without any headers",
        "register_source",
        {"name": "pings", "format_options": {"header": False}},
    ),
    # JDBC: table, user, password as a secret reference
    (
        "add a jdbc source erp_orders at jdbc:postgresql://erp:5432/erp, dbtable sales.orders, user reader, "
        "password {{secrets/erp/password}}, group sales",
        "register_source",
        {
            "name": "erp_orders",
            "format": "jdbc",
            "format_options": {
                "dbtable": "sales.orders",
                "user": "reader",
                "password": "{{secrets/erp/password}}",
            },
        },
    ),
    (
        "register jdbc source staff from jdbc:postgresql://hr:5432/hr table hr.staff "
        "username=etl password=hunter2 in finance",
        None,
        {"clarify": "{{secrets/SCOPE/KEY}}"},
    ),
    (
        "register jdbc source staff from jdbc:postgresql://hr:5432/hr in finance",
        None,
        {"clarify": "Which table should staff read? Say `table schema.table`"},
    ),
    # rules stated as what a column must (not) be
    (
        "discount must never be negative in orders",
        "add_dq_rule",
        {"source": "orders", "expression": "discount >= 0"},
    ),
    (
        "email cannot be null for customers",
        "add_dq_rule",
        {"source": "customers", "expression": "email IS NOT NULL"},
    ),
    (
        "on orders, order_id shouldn't be null",
        "add_dq_rule",
        {"source": "orders", "expression": "order_id IS NOT NULL"},
    ),
    (
        "invoices total should never be less than 0",
        "add_dq_rule",
        {"source": "invoices", "expression": "total >= 0"},
    ),
    (
        "in customers, email can't be empty",
        "add_dq_rule",
        {"source": "customers", "expression": "email IS NOT NULL AND trim(email) <> ''"},
    ),
    ("quantity must always be positive in orders", "add_dq_rule", {"expression": "quantity > 0"}),
    (
        "status should never be 'void' in invoices",
        "add_dq_rule",
        {"source": "invoices", "expression": "status <> 'void'"},
    ),
    # the rows that fail a rule are not its action
    (
        "add a rule on orders that amount > 0 and quarantine rows that fail it",
        "add_dq_rule",
        {"expression": "amount > 0", "action": "quarantine"},
    ),
    (
        "new check for clicks: ts is not null, drop whatever fails",
        "add_dq_rule",
        {"source": "clicks", "action": "drop"},
    ),
    # a change said not to happen is not proposed
    ("clicks must never be paused", None, {"clarify": "not on what not to do"}),
    ("orders should not be removed", None, {"clarify": "not on what not to do"}),
    # hyphenated verbs and contractions
    ("un-freeze finance please", "resume_schedule", {"group": "finance"}),
    ("de-register the clicks source", "remove_source", {"name": "clicks"}),
    ("what's the next sales run?", "show_group", {"name": "sales"}),
    ("when's orders running next?", "show_group", {"name": "sales"}),
    ("how's web doing today?", "list_runs", {"group": "web"}),
    # a read that mentions a run or load after what it asks about
    (
        "were any rows quarantined in customers during the last load?",
        "show_quarantine",
        {"source": "customers"},
    ),
    ("quarantined records of clicks from the 2am run", "show_quarantine", {"source": "clicks"}),
    # a source's format said as a state
    ("orders is json now", "update_source", {"name": "orders", "format": "json"}),
    ("customers should be delta from now on", "update_source", {"name": "customers", "format": "delta"}),
]
