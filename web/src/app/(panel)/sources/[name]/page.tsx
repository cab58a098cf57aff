"use client";
// One source: zone configs, rules (add one here), last runs, revision history with restore.
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useState, type FormEvent, type ReactNode } from "react";
import { api } from "@/lib/api/client";
import type { DqRuleRow, FilesLoaded, RevisionRow, SourceDetail, SourceRunRow } from "@/lib/api/models";
import { errorFor, unclaimed } from "@/lib/api/problem";
import { planNote, useCommand } from "@/lib/command";
import { FINAL_STATUSES, formatBytes, formatCount, formatTime } from "@/lib/format";
import { may, useMe } from "@/lib/me";
import { useApi } from "@/lib/use-api";
import { Confirm } from "@/components/confirm";
import { PlanView, SnapshotDiff } from "@/components/plan-view";
import { ZONES, ZonePicker, zonesField, type Zone } from "@/components/zone-picker";
import { Badge, Button, Card, Empty, Field, PageTitle, ProblemBanner, inputClass, td, th } from "@/components/ui";

function Config({ value }: { value: Record<string, unknown> | null | undefined }) {
  if (!value) return <p className="text-sm text-zinc-500 dark:text-zinc-400">Defaults.</p>;
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-xs">
      {Object.entries(value).map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-zinc-500 dark:text-zinc-400">{k}</dt>
          <dd className="break-all font-mono">{v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

export default function SourcePage() {
  const { name } = useParams<{ name: string }>();
  // While one of its last runs is not final, the page follows it (status, rows, watermark).
  const source = useApi<SourceDetail>(
    () => api.GET("/api/v1/sources/{name}", { params: { path: { name } } }),
    [name],
    (d) => (d?.last_runs.some((r) => !FINAL_STATUSES.has(r.status)) ? 2000 : null),
  );
  const s = source.data;
  const me = useMe();
  return (
    <>
      <PageTitle title={name}>
        {s && may(me, "run_now", s.group) ? <RunSource source={s} /> : null}
        {s && may(me, "update_source", s.group) ? <Link href={`/sources/${name}/edit`} className="rounded-md border border-zinc-300 px-3 py-1.5 text-sm font-medium hover:bg-zinc-50 dark:border-zinc-700 dark:hover:bg-zinc-800">Edit</Link> : null}
        {s && may(me, "remove_source", s.group) ? <RemoveSource source={s} /> : null}
      </PageTitle>
      <ProblemBanner problem={source.problem} />
      {!s ? <Empty>{source.loading ? "Loading…" : source.problem?.status === 404 ? <>No source {name}: <Link className="text-sky-700 hover:underline dark:text-sky-400" href="/sources">see the sources</Link>.</> : "Could not load this source."}</Empty> : (
        <div className="grid gap-4 xl:grid-cols-2">
          <Card title="Source">
            <Config value={{ group: s.group, system: s.system, format: s.format, location: s.location, load_mode: s.load_mode, watermark_column: s.watermark_column, schema_ddl: s.schema_ddl, format_options: s.format_options, enabled: s.enabled, revision: s.revision, schedule: s.schedule ? `${s.schedule.quartz_cron} (${s.schedule.timezone})${s.schedule.paused ? " paused" : ""}` : null }} />
          </Card>
          <Progress source={s} />
          <Card title="Raw"><Config value={s.raw} /></Card>
          <Card title="Bronze"><Config value={s.bronze} /></Card>
          <Card title="Silver"><Config value={s.silver} /></Card>
          <Card title="Gold (group)" className="min-w-0 xl:col-span-2">
            {s.gold.length ? s.gold.map((g) => <div key={g.name} className="mb-2"><p className="text-xs font-medium">{g.name} → {g.target_table}</p><Sql text={g.sql} testId={`gold-sql-${g.name}`} /></div>) : <p className="text-sm text-zinc-500 dark:text-zinc-400">No gold tables.</p>}
          </Card>
          <Rules source={s} onChange={source.reload} />
          <Card title="Last runs">
            {s.last_runs.length ? (
              <table className="w-full"><tbody>
                {s.last_runs.map((r) => (
                  <tr key={r.batch_id} className="border-t border-zinc-100 first:border-0 dark:border-zinc-800">
                    <td className={td}><Link className="hover:underline" href={`/runs/${r.batch_id}`}>#{r.batch_id}</Link></td>
                    <td className={td}><Badge value={r.status} /></td>
                    <td className={td} data-testid={`source-rows-${r.batch_id}`}><SourceRows run={r} /></td>
                    <td className={`${td} text-zinc-500 dark:text-zinc-400`}>{formatTime(r.created_at)}</td>
                  </tr>
                ))}
              </tbody></table>
            ) : <Empty>No runs yet.</Empty>}
          </Card>
          <Revisions source={s} onChange={source.reload} />
        </div>
      )}
    </>
  );
}

// A manual batch of this source alone, through the zones chosen; the dialog shows the plan first.
function RunSource({ source }: { source: SourceDetail }) {
  const router = useRouter();
  const command = useCommand();
  const [asking, setAsking] = useState(false);
  const [zones, setZones] = useState<Zone[]>([...ZONES]);
  const intentFor = (chosen: Zone[]) => ({ kind: "run_now", source: source.name, ...zonesField(chosen) });
  async function ask() {
    setAsking(true);
    await command.plan(intentFor(zones));
  }
  async function choose(next: Zone[]) {
    setZones(next);
    command.reset();
    await command.plan(intentFor(next));
  }
  async function confirm() {
    if (!command.result?.confirm_token) return;
    const answer = await command.apply(intentFor(zones), command.result.confirm_token);
    const batch = (answer?.result as { batch_id?: number } | null | undefined)?.batch_id;
    if (answer?.status === "applied") router.push(batch ? `/runs/${batch}` : `/runs?source=${source.name}`);
  }
  function close() {
    setAsking(false);
    setZones([...ZONES]);
    command.reset();
  }
  return (
    <>
      <Button tone="primary" onClick={ask}>Run now…</Button>
      <Confirm open={asking} title={`Run source ${source.name} now?`} confirmLabel="Run" busy={command.busy || !command.result?.confirm_token} onConfirm={confirm} onCancel={close}>
        <ZonePicker value={zones} onChange={choose} disabled={command.busy} />
        <ProblemBanner problem={command.problem} />
        {command.result ? <><p className="mb-2 text-sm">{planNote(command.result, "Run")}</p><PlanView plan={command.result.plan} /></> : <p className="text-sm">Checking…</p>}
      </Confirm>
    </>
  );
}

// Removing a source: the dialog shows the API's plan first; its run history stays.
function RemoveSource({ source }: { source: SourceDetail }) {
  const router = useRouter();
  const command = useCommand();
  const [asking, setAsking] = useState(false);
  const intent = { kind: "remove_source", name: source.name, expected_revision: source.revision };
  async function ask() {
    setAsking(true);
    await command.plan(intent);
  }
  async function confirm() {
    if (!command.result?.confirm_token) return;
    const answer = await command.apply(intent, command.result.confirm_token);
    if (answer?.status === "applied") router.push("/sources");
  }
  return (
    <>
      <Button tone="danger" onClick={ask}>Remove…</Button>
      <Confirm open={asking} title={`Remove source ${source.name}?`} confirmLabel="Remove source" busy={command.busy || !command.result?.confirm_token} onConfirm={confirm} onCancel={() => { setAsking(false); command.reset(); }}>
        <ProblemBanner problem={command.problem} />
        {command.result ? <><p className="mb-2 text-sm">Its configuration and rules go; its run history and tables stay.</p><PlanView plan={command.result.plan} /></> : <p className="text-sm">Checking…</p>}
      </Confirm>
    </>
  );
}

// SQL as written, its lines wrapped at spaces to the card's width (a word longer than the line
// is broken too), so none of it is cut off. The card around it needs min-w-0 in a grid.
function Sql({ text, testId }: { text: string; testId?: string }) {
  return <pre data-testid={testId} className="rounded bg-zinc-50 p-2 font-mono text-xs whitespace-pre-wrap wrap-break-word dark:bg-zinc-950">{text}</pre>;
}

// What this source wrote in a batch: a group batch's own total counts every source of the group.
function SourceRows({ run }: { run: SourceRunRow }) {
  if (run.source_rows_out === null || run.source_rows_out === undefined) return <span className="text-zinc-500 dark:text-zinc-400">—</span>;
  const zone = run.source_rows_zone === "bronze" ? "Bronze" : "Silver";
  return <span title={`Rows this source wrote to ${zone} in batch #${run.batch_id}`}>{formatCount(run.source_rows_out)} rows to {zone}</span>;
}

// How far the source's loads have come, by how it loads: a full load rereads everything, the
// files extractor remembers files in its ledger, other incremental loads keep a watermark.
function Progress({ source }: { source: SourceDetail }) {
  let body: ReactNode;
  if (source.load_mode !== "incremental") body = <p className="text-sm text-zinc-500 dark:text-zinc-400">Full load: every batch reads the whole source.</p>;
  // The files extractor reads no watermark: its ledger decides which files are new.
  else if (source.files) body = <FilesProgress files={source.files} />;
  else body = <WatermarkProgress source={source} />;
  return <Card title="Progress"><div data-testid="progress">{body}</div></Card>;
}

function FilesProgress({ files }: { files: FilesLoaded }) {
  if (!files.files) return <p className="text-sm text-zinc-500 dark:text-zinc-400">No file loaded yet: the first successful batch loads every file in the location.</p>;
  return (
    <p className="text-sm wrap-anywhere">
      {formatCount(files.files)} {files.files === 1 ? "file" : "files"} loaded
      {files.bytes !== null && files.bytes !== undefined ? <span className="text-zinc-500 dark:text-zinc-400"> ({formatBytes(files.bytes)})</span> : null}
      {files.newest_path ? <> · newest <code>{files.newest_path}</code></> : null}
      {files.newest_batch_id ? <> · batch <Link className="hover:underline" href={`/runs/${files.newest_batch_id}`}>#{files.newest_batch_id}</Link></> : null}
      {files.newest_loaded_at ? <span className="text-zinc-500 dark:text-zinc-400"> · {formatTime(files.newest_loaded_at)}</span> : null}
    </p>
  );
}

// Where a watermark load stands: the next batch reads past this value (or cursor).
function WatermarkProgress({ source }: { source: SourceDetail }) {
  const w = source.watermark as { watermark_column?: string | null; high_value?: string | null; value_type?: string | null; cursor?: unknown; batch_id?: number | null; updated_at?: string | null } | null;
  if (w && (w.high_value !== null && w.high_value !== undefined || w.cursor)) {
    return (
      <p className="text-sm">
        <code>{w.watermark_column ?? source.watermark_column}</code> up to <code className="font-semibold">{w.high_value ?? JSON.stringify(w.cursor)}</code>
        {w.value_type ? <span className="text-zinc-500 dark:text-zinc-400"> ({w.value_type})</span> : null}
        {w.batch_id ? <> · set by <Link className="hover:underline" href={`/runs/${w.batch_id}`}>#{w.batch_id}</Link></> : null}
        {w.updated_at ? <span className="text-zinc-500 dark:text-zinc-400"> · {formatTime(w.updated_at)}</span> : null}
      </p>
    );
  }
  const column = source.watermark_column ?? "the watermark column";
  // A successful batch that read no row saves no watermark, so "the first batch" is past.
  if (source.last_runs.some((r) => r.status === "succeeded")) {
    return <p className="text-sm text-zinc-500 dark:text-zinc-400">No watermark yet: no successful batch has read a value of {column}, so the next one reads everything again.</p>;
  }
  return <p className="text-sm text-zinc-500 dark:text-zinc-400">No watermark yet: the first successful batch loads everything and remembers the highest {column}.</p>;
}

type RuleDraft = { name: string; expression: string; action: string; enabled: boolean };
const EMPTY_RULE: RuleDraft = { name: "", expression: "", action: "warn", enabled: true };

function Rules({ source, onChange }: { source: SourceDetail; onChange: () => Promise<void> }) {
  const me = useMe();
  const command = useCommand();
  const removal = useCommand();
  const [rule, setRule] = useState<RuleDraft>(EMPTY_RULE);
  // The rule being edited (its name is fixed), or null while adding a new one.
  const [editing, setEditing] = useState<DqRuleRow | null>(null);
  const [removing, setRemoving] = useState<DqRuleRow | null>(null);
  const canAdd = may(me, "add_dq_rule", source.group);
  const canEdit = may(me, "update_dq_rule", source.group);
  const canRemove = may(me, "remove_dq_rule", source.group);

  function startEdit(r: DqRuleRow) {
    setEditing(r);
    setRule({ name: r.name, expression: r.expression, action: r.action, enabled: r.enabled });
    command.reset();
    // Keyboard users land on what they came to change.
    window.requestAnimationFrame(() => document.getElementById("rule_expression")?.focus());
  }
  function stopEdit() {
    setEditing(null);
    setRule(EMPTY_RULE);
    command.reset();
  }
  async function submit(event: FormEvent) {
    event.preventDefault();
    const answer = editing
      ? await command.apply({ kind: "update_dq_rule", source: source.name, name: editing.name, expression: rule.expression, action: rule.action, enabled: rule.enabled, expected_revision: editing.revision })
      : await command.apply({ kind: "add_dq_rule", source: source.name, ...rule });
    if (answer?.status === "applied") {
      stopEdit();
      await onChange();
    }
  }
  const removeIntent = (r: DqRuleRow) => ({ kind: "remove_dq_rule", source: source.name, name: r.name });
  async function askRemove(r: DqRuleRow) {
    setRemoving(r);
    await removal.plan(removeIntent(r));
  }
  async function confirmRemove() {
    if (!removing) return;
    const answer = await removal.apply(removeIntent(removing), removal.result?.confirm_token);
    if (answer?.status === "applied") {
      if (editing?.name === removing.name) stopEdit();
      setRemoving(null);
      removal.reset();
      await onChange();
    }
  }
  const err = (f: string) => errorFor(command.problem, f);
  return (
    <Card title="Quality rules">
      {source.dq_rules.length ? (
        <table className="mb-4 w-full" data-testid="rules-table">
          <thead><tr><th className={th}>Rule</th><th className={th}>Expression</th><th className={th}>Action</th><th className={th}><span className="sr-only">Change</span></th></tr></thead>
          <tbody>
            {source.dq_rules.map((r) => (
              <tr key={r.name} className="border-t border-zinc-100 dark:border-zinc-800" data-rule={r.name}>
                <td className={td}>{r.name}{r.enabled ? null : <> <Badge value="disabled" /></>}</td><td className={`${td} font-mono text-xs`}>{r.expression}</td><td className={td}><Badge value={r.action} /></td>
                <td className={`${td} whitespace-nowrap text-right`}>
                  {canEdit ? <Button aria-label={`Edit rule ${r.name}`} onClick={() => startEdit(r)}>Edit</Button> : null}{" "}
                  {canRemove ? <Button aria-label={`Remove rule ${r.name}`} tone="danger" onClick={() => askRemove(r)}>Remove…</Button> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p className="mb-4 text-sm text-zinc-500 dark:text-zinc-400">No rules yet.</p>}
      {canAdd || (editing && canEdit) ? (
        <form onSubmit={submit} aria-label={editing ? `Edit rule ${editing.name}` : "Add rule"} className="space-y-2">
          <ProblemBanner problem={command.problem} extra={unclaimed(command.problem, ["name", "expression", "action"])} />
          <div className="grid gap-2 sm:grid-cols-[1fr_2fr_auto]">
            <Field label="Rule name" name="rule_name" error={err("name")}><input id="rule_name" className={inputClass} required readOnly={Boolean(editing)} value={rule.name} onChange={(e) => setRule({ ...rule, name: e.target.value })} aria-invalid={err("name") ? true : undefined} aria-describedby="rule_name-error" /></Field>
            <Field label="Expression (Spark SQL)" name="rule_expression" error={err("expression")}><input id="rule_expression" className={`${inputClass} font-mono`} required placeholder="amount >= 0" value={rule.expression} onChange={(e) => setRule({ ...rule, expression: e.target.value })} aria-invalid={err("expression") ? true : undefined} aria-describedby="rule_expression-error" /></Field>
            <Field label="Action" name="rule_action" error={err("action")}>
              <select id="rule_action" className={inputClass} value={rule.action} onChange={(e) => setRule({ ...rule, action: e.target.value })}>
                {["warn", "drop", "quarantine", "fail"].map((a) => <option key={a}>{a}</option>)}
              </select>
            </Field>
          </div>
          <label className="flex items-center gap-2 text-xs"><input type="checkbox" checked={rule.enabled} onChange={(e) => setRule({ ...rule, enabled: e.target.checked })} /> Enabled (checked on every batch)</label>
          <div className="flex gap-2">
            <Button type="submit" tone="primary" disabled={command.busy}>{editing ? "Save rule" : "Add rule"}</Button>
            {editing ? <Button type="button" onClick={stopEdit}>Cancel</Button> : null}
          </div>
        </form>
      ) : null}
      <Confirm open={removing !== null} title={`Remove rule ${removing?.name ?? ""} from ${source.name}?`} confirmLabel="Remove" busy={removal.busy || !removal.result?.confirm_token} onConfirm={confirmRemove} onCancel={() => { setRemoving(null); removal.reset(); }}>
        <ProblemBanner problem={removal.problem} />
        {removal.result ? <PlanView plan={removal.result.plan} /> : <p className="text-sm">Checking…</p>}
      </Confirm>
    </Card>
  );
}

function Revisions({ source, onChange }: { source: SourceDetail; onChange: () => Promise<void> }) {
  const me = useMe();
  const command = useCommand();
  const [target, setTarget] = useState<RevisionRow | null>(null);
  const current = source.revisions[0]?.after ?? null;
  const intent = (r: RevisionRow) => ({ kind: "restore_revision", entity: "source", name: source.name, revision: r.revision });

  async function ask(r: RevisionRow) {
    setTarget(r);
    await command.plan(intent(r));
  }
  async function confirm() {
    if (!target) return;
    const answer = await command.apply(intent(target), command.result?.confirm_token);
    if (answer?.status === "applied") {
      setTarget(null);
      command.reset();
      await onChange();
    }
  }
  return (
    <Card title="Revision history" className="xl:col-span-2">
      {source.revisions.length ? (
        <table className="w-full">
          <thead><tr><th className={th}>Revision</th><th className={th}>By</th><th className={th}>When</th><th className={th} /></tr></thead>
          <tbody>
            {source.revisions.map((r, i) => (
              <tr key={`${r.revision}-${r.created_at}`} className="border-t border-zinc-100 dark:border-zinc-800">
                <td className={td}>{r.revision}{i === 0 ? " (current)" : ""}</td>
                <td className={td}>{r.actor}</td>
                <td className={`${td} text-zinc-500 dark:text-zinc-400`}>{formatTime(r.created_at)}</td>
                <td className={`${td} text-right`}>{i > 0 && may(me, "restore_revision", source.group) ? <Button aria-label={`Restore revision ${r.revision}`} onClick={() => ask(r)}>Restore…</Button> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <Empty>No revisions recorded.</Empty>}
      <Confirm open={target !== null} title={`Restore ${source.name} to revision ${target?.revision ?? ""}?`} confirmLabel="Restore" busy={command.busy || !command.result?.confirm_token} onConfirm={confirm} onCancel={() => { setTarget(null); command.reset(); }}>
        <ProblemBanner problem={command.problem} />
        {command.result?.plan?.length ? <PlanView plan={command.result.plan} /> : <SnapshotDiff before={current} after={target?.after ?? null} />}
      </Confirm>
    </Card>
  );
}
