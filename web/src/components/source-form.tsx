"use client";
// Create and edit a source. "Review plan" asks the API for a dry run and shows the diff;
// "Save" applies exactly that plan with its confirm token. Errors appear next to their field.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import type { GroupRow, SourceDetail } from "@/lib/api/models";
import { errorFor, unclaimed, type FieldProblem } from "@/lib/api/problem";
import { planNote, useCommand, type Intent } from "@/lib/command";
import { optionsToText, parseOptions } from "@/lib/options";
import { useApi } from "@/lib/use-api";
import { PlanView } from "./plan-view";
import { Button, Card, Field, ProblemBanner, inputClass } from "./ui";

const FORMATS = ["csv", "json", "parquet", "delta", "jdbc", "rest"] as const;

interface FormState {
  name: string;
  group: string;
  system: string;
  description: string;
  format: string;
  location: string;
  format_options: string;
  load_mode: string;
  watermark_column: string;
  schema_ddl: string;
  schema_evolution: string;
  primary_keys: string;
  scd_type: string;
  sequence_by: string;
  quartz_cron: string;
  timezone: string;
}

function initial(source?: SourceDetail): FormState {
  const bronze = (source?.bronze ?? {}) as Record<string, unknown>;
  const silver = (source?.silver ?? {}) as Record<string, unknown>;
  return {
    name: source?.name ?? "",
    group: source?.group ?? "",
    system: source?.system ?? "",
    description: source?.description ?? "",
    format: source?.format ?? "csv",
    location: source?.location ?? "",
    format_options: optionsToText(source?.format_options),
    load_mode: source?.load_mode ?? "full",
    watermark_column: source?.watermark_column ?? "",
    schema_ddl: source?.schema_ddl ?? "",
    schema_evolution: String(bronze.schema_evolution ?? "evolve"),
    primary_keys: Array.isArray(silver.primary_keys) ? silver.primary_keys.join(", ") : "",
    scd_type: String(silver.scd_type ?? "1"),
    sequence_by: typeof silver.sequence_by === "string" ? silver.sequence_by : "",
    quartz_cron: "",
    // Empty: the command layer keeps the group's time zone (a group's first schedule is UTC).
    timezone: "",
  };
}

// What an empty time zone means for the chosen group: its schedule's zone, or UTC for a first one.
function timezoneHint(group: GroupRow | undefined): string {
  if (!group) return "empty: the group's time zone";
  if (group.quartz_cron && group.timezone) return `empty: the group's time zone (${group.timezone})`;
  return "empty: UTC (the group has no schedule yet)";
}

const SHOWN = ["name", "group", "system", "description", "format", "location", "format_options", "load_mode", "watermark_column", "schema_ddl", "bronze", "silver.primary_keys", "silver.scd_type", "silver.sequence_by", "schedule"];

export function SourceForm({ source }: { source?: SourceDetail }) {
  const router = useRouter();
  const editing = Boolean(source);
  const [form, setForm] = useState<FormState>(() => initial(source));
  const [planned, setPlanned] = useState<Intent | null>(null);
  // A malformed options line is caught here, before anything is sent.
  const [optionsError, setOptionsError] = useState<FieldProblem | undefined>(undefined);
  const command = useCommand();
  const groups = useApi<GroupRow[]>(() => api.GET("/api/v1/groups"), []);
  const chosenGroup = groups.data?.find((g) => g.name === form.group);

  const set = (key: keyof FormState) => (e: { target: { value: string } }) => {
    setForm({ ...form, [key]: e.target.value });
    setPlanned(null); // any edit invalidates the reviewed plan
    if (key === "format_options") setOptionsError(undefined);
  };

  function intent(formatOptions: Record<string, unknown>): Intent {
    const optional = (v: string) => (v.trim() ? v.trim() : null);
    const body: Intent = {
      kind: editing ? "update_source" : "register_source",
      name: form.name.trim(),
      group: form.group,
      system: optional(form.system),
      description: optional(form.description),
      format: form.format,
      location: form.location.trim(),
      format_options: formatOptions,
      load_mode: form.load_mode,
      // A full load reads no watermark, and the command layer refuses one there.
      watermark_column: form.load_mode === "incremental" ? optional(form.watermark_column) : null,
      schema_ddl: optional(form.schema_ddl),
      bronze: { schema_evolution: form.schema_evolution },
      silver: {
        primary_keys: form.primary_keys.split(",").map((k) => k.trim()).filter(Boolean),
        scd_type: Number(form.scd_type),
        sequence_by: optional(form.sequence_by),
      },
    };
    if (editing) body.expected_revision = source?.revision;
    // The group's schedule is set with a new source only; an existing group's is edited on /groups.
    if (!editing && form.quartz_cron.trim()) {
      // The group's schedule is replaced whole: a paused group stays paused.
      const paused = Boolean(chosenGroup?.paused);
      // A time zone is sent only when typed, so an unchanged zone stays the group's own.
      const timezone = form.timezone.trim();
      body.schedule = { quartz_cron: form.quartz_cron.trim(), paused, ...(timezone ? { timezone } : {}) };
    }
    return body;
  }

  async function review(event: FormEvent) {
    event.preventDefault();
    const parsed = parseOptions(form.format_options);
    if ("error" in parsed) {
      setOptionsError(parsed.error);
      setPlanned(null);
      command.reset();
      return;
    }
    setOptionsError(undefined);
    const body = intent(parsed.options);
    const answer = await command.plan(body);
    setPlanned(answer ? body : null);
  }

  async function save() {
    if (!planned) return;
    const answer = await command.apply(planned, command.result?.confirm_token);
    if (answer && answer.status === "applied") router.push(`/sources/${encodeURIComponent(String(planned.name))}`);
  }

  const err = (...f: string[]) => (f[0] === "format_options" && optionsError) || errorFor(command.problem, ...f);
  const input = (key: keyof FormState, field: string, extra: Record<string, unknown> = {}) => ({
    id: key,
    name: key,
    value: form[key],
    onChange: set(key),
    className: inputClass,
    "aria-invalid": err(field) ? true : undefined,
    // The error when there is one, else the field's hint (Field gives both these ids).
    "aria-describedby": err(field) ? `${key}-error` : `${key}-hint`,
    ...extra,
  });

  return (
    <div className="grid gap-4 xl:grid-cols-2">
      <form onSubmit={review} className="space-y-4" aria-label={editing ? "Edit source" : "Register source"}>
        <ProblemBanner problem={groups.problem} />
        <ProblemBanner problem={command.problem} extra={unclaimed(command.problem, SHOWN)} />
        <Card title="Source">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Name" name="name" error={err("name")} hint="lower-case, e.g. orders"><input {...input("name", "name", { required: true, readOnly: editing })} /></Field>
            <Field label="Group" name="group" error={err("group")}>
              <select {...input("group", "group", { required: true })}>
                <option value="">Choose a group…</option>
                {(groups.data ?? []).map((g) => <option key={g.name} value={g.name}>{g.name}</option>)}
              </select>
            </Field>
            <Field label="Format" name="format" error={err("format")}>
              <select {...input("format", "format")}>{FORMATS.map((f) => <option key={f}>{f}</option>)}</select>
            </Field>
            <Field label="Source system" name="system" error={err("system")} hint="optional"><input {...input("system", "system")} /></Field>
            <div className="sm:col-span-2"><Field label="Location" name="location" error={err("location")} hint="path, volume, cloud URI, table, JDBC URL or REST endpoint"><input {...input("location", "location", { required: true })} /></Field></div>
            <div className="sm:col-span-2">
              <Field label="Reader options" name="format_options" error={err("format_options")} hint="one per line as key = value, e.g. header = true or delimiter = |; credentials as secret references: password = {{secrets/scope/key}}">
                <textarea {...input("format_options", "format_options", { rows: Math.min(12, Math.max(3, form.format_options.split("\n").length + 1)), spellCheck: false, className: `${inputClass} font-mono` })} />
              </Field>
            </div>
            <div className="sm:col-span-2"><Field label="Description" name="description" error={err("description")}><input {...input("description", "description")} /></Field></div>
          </div>
        </Card>
        <Card title="Raw and bronze">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Load mode" name="load_mode" error={err("load_mode")}>
              <select {...input("load_mode", "load_mode")}><option>full</option><option>incremental</option></select>
            </Field>
            <Field label="Watermark column" name="watermark_column" error={err("watermark_column")} hint="for incremental loads"><input {...input("watermark_column", "watermark_column")} /></Field>
            <Field label="Schema evolution" name="schema_evolution" error={err("bronze")}>
              <select {...input("schema_evolution", "bronze")}><option>evolve</option><option>freeze</option><option>rescue</option></select>
            </Field>
            <div className="sm:col-span-2"><Field label="Schema (DDL)" name="schema_ddl" error={err("schema_ddl")} hint="optional, e.g. id INT, amount DECIMAL(12,2)"><input {...input("schema_ddl", "schema_ddl")} /></Field></div>
          </div>
        </Card>
        <Card title="Silver">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Primary keys" name="primary_keys" error={err("silver.primary_keys")} hint="comma-separated"><input {...input("primary_keys", "silver.primary_keys")} /></Field>
            <Field label="SCD type" name="scd_type" error={err("silver.scd_type")}>
              <select {...input("scd_type", "silver.scd_type")}><option value="1">1 (overwrite)</option><option value="2">2 (history)</option></select>
            </Field>
            <Field label="Sequence by" name="sequence_by" error={err("silver.sequence_by")} hint="column that orders changes, e.g. updated_at (needed for SCD type 2)"><input {...input("sequence_by", "silver.sequence_by")} /></Field>
          </div>
        </Card>
        {editing ? (
          <Card title="Schedule">
            <p className="text-sm text-zinc-600 dark:text-zinc-400">
              The schedule belongs to the group: <Link href={`/groups#${form.group}`} className="text-sky-700 hover:underline dark:text-sky-400">edit the schedule of {form.group}</Link>.
            </p>
          </Card>
        ) : (
          <Card title="Schedule (optional: sets the group's schedule)">
            <div className="grid gap-3 sm:grid-cols-2">
              <Field label="Quartz cron" name="quartz_cron" error={err("schedule.quartz_cron", "schedule")} hint="e.g. 0 0 2 * * ?"><input {...input("quartz_cron", "schedule.quartz_cron")} /></Field>
              <Field label="Time zone" name="timezone" error={err("schedule.timezone")} hint={timezoneHint(chosenGroup)}><input {...input("timezone", "schedule.timezone", { placeholder: chosenGroup?.timezone ?? undefined })} /></Field>
            </div>
          </Card>
        )}
        <div className="flex gap-2">
          <Button type="submit" tone="primary" disabled={command.busy}>Review plan</Button>
          {/* A link, not history.back(): a form opened from a bookmark or a new tab has no page to go back to. */}
          <Link href={editing ? `/sources/${encodeURIComponent(form.name)}` : "/sources"} className="rounded-md border border-zinc-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-zinc-50 dark:border-zinc-700 dark:bg-zinc-900 dark:hover:bg-zinc-800">Cancel</Link>
        </div>
      </form>
      <div>
        <Card title="Plan">
          {planned && command.result ? (
            <div className="space-y-3">
              <p className="text-sm">{planNote(command.result, "Save")}</p>
              <PlanView plan={command.result.plan} />
              <Button tone="primary" onClick={save} disabled={command.busy}>Save</Button>
            </div>
          ) : (
            <p className="text-sm text-zinc-500 dark:text-zinc-400">Review the plan to see what will change before saving.</p>
          )}
        </Card>
      </div>
    </div>
  );
}
