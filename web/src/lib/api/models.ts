// Shapes of the read models the screens display. The API publishes these GET routes as
// free-form JSON objects, so their fields are named here once, next to the SQL columns in
// api/queries.py; requests, parameters and paths still come from the generated schema.
export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped";

export interface SourceSummary {
  name: string;
  group: string;
  system: string | null;
  description: string | null;
  format: string;
  location: string;
  load_mode: string;
  watermark_column: string | null;
  enabled: boolean;
  revision: number;
  created_at: string;
  updated_at: string;
}

export interface DqRuleRow {
  name: string;
  source?: string;
  expression: string;
  action: "warn" | "drop" | "fail" | "quarantine";
  description: string | null;
  enabled: boolean;
  revision: number;
  updated_at: string;
  trend?: { batch_id: number; status: "passed" | "failed"; rows_checked: number; rows_failed: number; created_at: string }[];
  passed?: number;
  failed?: number;
}

export interface RevisionRow {
  revision: number;
  entity_type: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  command_id: string | null;
  actor: string;
  created_at: string;
}

export interface SourceDetail extends SourceSummary {
  format_options: Record<string, unknown>;
  schema_ddl: string | null;
  extractor: string | null;
  raw: Record<string, unknown> | null;
  bronze: Record<string, unknown> | null;
  silver: Record<string, unknown> | null;
  gold: Record<string, unknown>[];
  dq_rules: DqRuleRow[];
  watermark: Record<string, unknown> | null;
  schedule: { quartz_cron: string; timezone: string; paused: boolean } | null;
  last_runs: BatchRow[];
  revisions: RevisionRow[];
}

export interface GroupRow {
  name: string;
  description: string | null;
  owner: string | null;
  catalog: string;
  engine: string;
  compute_profile: string;
  channel: string | null;
  quartz_cron: string | null;
  timezone: string | null;
  paused: boolean | null;
  source_count: number;
  last_batch_id: number | null;
  last_status: RunStatus | null;
  last_ended_at: string | null;
}

export interface ScheduleRow {
  group: string;
  quartz_cron: string;
  timezone: string;
  paused: boolean;
  updated_at: string;
  description: string;
  next_fire_times: string[];
}

export interface BatchRow {
  batch_id: number;
  group: string;
  source: string | null;
  trigger: string;
  rerun_of?: number | null;
  engine: string | null;
  status: RunStatus;
  requested_by?: string | null;
  rows_in: number | null;
  rows_out: number | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}

export interface StepRow {
  id: number;
  step: string;
  status: RunStatus;
  rows_in: number | null;
  rows_out: number | null;
  details: Record<string, unknown>;
  error: string | null;
  started_at: string;
  ended_at: string | null;
}

export interface DqResultRow {
  rule_name: string;
  table_name: string;
  expression: string;
  action: string;
  rows_checked: number;
  rows_passed: number;
  rows_failed: number;
  status: "passed" | "failed";
  created_at: string;
}

export interface TableRow {
  id: number;
  source_name: string | null;
  table_name: string;
  status: RunStatus;
  rows_in: number | null;
  rows_out: number | null;
  rows_rejected: number | null;
  delta_version: number | null;
  error: string | null;
  started_at: string;
  ended_at: string | null;
  steps: StepRow[];
  dq_results: DqResultRow[];
}

export interface ZoneRow {
  id: number;
  zone: "raw" | "bronze" | "silver" | "gold";
  status: RunStatus;
  rows_in: number | null;
  rows_out: number | null;
  error: string | null;
  started_at: string;
  ended_at: string | null;
  tables: TableRow[];
}

export interface BatchDetail extends BatchRow {
  zones: ZoneRow[];
  steps: StepRow[];
  dq_results: DqResultRow[];
  errors: { level: string; where: string; error: string }[];
}

export interface RunsPage {
  items: BatchRow[];
  next_cursor: string | null;
}

export interface AuditRow {
  command_id: string;
  actor: string;
  surface: string;
  channel: string | null;
  raw_text: string | null;
  kind: string;
  intent: Record<string, unknown>;
  plan: Record<string, unknown>[] | null;
  outcome: string;
  message: string | null;
  duration_ms: number | null;
  created_at: string;
}

export interface AuditPage {
  items: AuditRow[];
  next_before: string | null;
}
