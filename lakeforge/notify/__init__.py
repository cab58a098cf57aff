"""Run alerts: run-log events to one Slack thread per batch (or a webhook), through a Postgres outbox."""

from lakeforge.notify.notifier import Notifier

__all__ = ["Notifier"]
