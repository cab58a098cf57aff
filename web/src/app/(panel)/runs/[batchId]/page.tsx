"use client";
// One batch: timeline of zones, tables and steps; row counts; DQ results; errors; Rerun and, while
// it is queued or running, Cancel (both confirmed). Polls every two seconds while the batch is not final.
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useState } from "react";
import { api } from "@/lib/api/client";
import type { BatchDetail } from "@/lib/api/models";
import { planNote, useCommand } from "@/lib/command";
import { FINAL_STATUSES, formatCount, formatDuration, formatTime } from "@/lib/format";
import { may, useMe } from "@/lib/me";
import { useApi } from "@/lib/use-api";
import { Confirm } from "@/components/confirm";
import { Gantt } from "@/components/gantt";
import { PlanView } from "@/components/plan-view";
import { ZONES, ZonePicker, zonesField, type Zone } from "@/components/zone-picker";
import { Badge, Button, Card, Empty, PageTitle, ProblemBanner, td, th } from "@/components/ui";

export default function BatchPage() {
  const { batchId } = useParams<{ batchId: string }>();
  const id = Number(batchId);
  const router = useRouter();
  const batch = useApi<BatchDetail>(
    () => api.GET("/api/v1/runs/{batch_id}", { params: { path: { batch_id: id } } }),
    [id],
    (b) => (b && FINAL_STATUSES.has(b.status) ? null : 2000),
  );
  const rerun = useCommand();
  const cancel = useCommand();
  const me = useMe();
  const [asking, setAsking] = useState(false);
  const [zones, setZones] = useState<Zone[]>([...ZONES]);
  const intent = { kind: "rerun_batch", batch_id: id, ...zonesField(zones) };
  const [stopping, setStopping] = useState(false);
  const cancelIntent = { kind: "cancel_run", batch_id: id };

  async function askCancel() {
    setStopping(true);
    await cancel.plan(cancelIntent);
  }
  async function confirmCancel() {
    if (!cancel.result?.confirm_token) return;
    const answer = await cancel.apply(cancelIntent, cancel.result.confirm_token);
    if (answer?.status === "applied") {
      // The page keeps polling: the batch shows cancelled once its runner has stopped.
      setStopping(false);
      batch.reload();
    }
  }

  async function ask() {
    setAsking(true);
    await rerun.plan(intent);
  }
  // The confirm token belongs to the plan shown: another choice of zones is planned again.
  async function choose(next: Zone[]) {
    setZones(next);
    rerun.reset();
    await rerun.plan({ kind: "rerun_batch", batch_id: id, ...zonesField(next) });
  }
  async function confirm() {
    // Only the plan that was shown is applied: no confirm token (the dry run failed), no rerun.
    if (!rerun.result?.confirm_token) return;
    const answer = await rerun.apply(intent, rerun.result?.confirm_token);
    const next = (answer?.result as { batch_id?: number } | null | undefined)?.batch_id;
    if (answer?.status === "applied") {
      setAsking(false);
      router.push(next ? `/runs/${next}` : "/runs");
    }
  }

  const b = batch.data;
  return (
    <>
      <PageTitle title={`Batch #${batchId}`}>
        {b ? <Badge value={b.status} /> : null}
        {may(me, "cancel_run", b?.group) && b && !FINAL_STATUSES.has(b.status) ? <Button onClick={askCancel} disabled={Boolean(b.cancel_requested_at)}>{b.cancel_requested_at ? "Cancelling…" : "Cancel…"}</Button> : null}
        {b && may(me, "rerun_batch", b.group) ? <Button onClick={ask} disabled={!b || !FINAL_STATUSES.has(b.status)}>Rerun…</Button> : null}
      </PageTitle>
      <ProblemBanner problem={batch.problem} />
      {!b ? <Empty>{batch.loading ? "Loading…" : batch.problem?.status === 404 ? <>No batch #{batchId}: <Link className="text-sky-700 hover:underline dark:text-sky-400" href="/runs">see the run list</Link>.</> : "Could not load this batch."}</Empty> : (
        <div className="space-y-4">
          <Card>
            <dl className="grid grid-cols-2 gap-3 text-sm md:grid-cols-4" data-testid="batch-summary">
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Group / source</dt><dd>{b.group}{b.source ? ` / ${b.source}` : ""}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Status</dt><dd data-testid="batch-status">{b.status}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Trigger</dt><dd>{b.trigger}{b.rerun_of ? <> of <Link className="hover:underline" href={`/runs/${b.rerun_of}`}>#{b.rerun_of}</Link></> : null}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Engine</dt><dd>{b.engine ?? "—"}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Created</dt><dd>{formatTime(b.created_at)}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Duration</dt><dd>{formatDuration(b.started_at, b.ended_at)}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Rows in → out</dt><dd>{formatCount(b.rows_in)} → {formatCount(b.rows_out)}</dd></div>
              <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Requested by</dt><dd>{b.requested_by ?? "—"}</dd></div>
              {b.status === "queued" && b.error ? <div className="col-span-2 md:col-span-4"><dt className="text-xs text-zinc-500 dark:text-zinc-400">Waiting</dt><dd data-testid="batch-waiting">{b.error}</dd></div> : null}
              {b.cancelled_by ? <div><dt className="text-xs text-zinc-500 dark:text-zinc-400">Cancelled by</dt><dd data-testid="batch-cancelled-by">{b.cancelled_by}</dd></div> : null}
            </dl>
          </Card>
          {b.errors.length ? (
            <Card title="Errors">
              <ul className="space-y-2">{b.errors.map((e, i) => <li key={i}><span className="text-xs text-zinc-500 dark:text-zinc-400">{e.level} {e.where}</span><pre className="whitespace-pre-wrap font-mono text-xs text-red-700 dark:text-red-400">{e.error}</pre></li>)}</ul>
            </Card>
          ) : null}
          <Card title="Timeline"><Gantt batch={b} /></Card>
          <Card title="Tables">
            {b.zones.some((z) => z.tables.length) ? (
              <table className="w-full">
                <thead><tr><th className={th}>Zone</th><th className={th}>Table</th><th className={th}>Status</th><th className={th}>Rows in</th><th className={th}>Rows out</th><th className={th}>Rejected</th><th className={th}>Delta version</th><th className={th}>Duration</th></tr></thead>
                <tbody>
                  {b.zones.flatMap((z) => z.tables.map((t) => (
                    <tr key={t.id} className="border-t border-zinc-100 dark:border-zinc-800">
                      <td className={td}>{z.zone}</td><td className={`${td} font-mono text-xs`}>{t.table_name}</td><td className={td}><Badge value={t.status} /></td>
                      <td className={td}>{formatCount(t.rows_in)}</td><td className={td}>{formatCount(t.rows_out)}</td><td className={td}>{formatCount(t.rows_rejected)}</td>
                      <td className={td}>{t.delta_version ?? "—"}</td><td className={td}>{formatDuration(t.started_at, t.ended_at)}</td>
                    </tr>
                  )))}
                </tbody>
              </table>
            ) : <Empty>No tables yet.</Empty>}
          </Card>
          <Card title="Data quality">
            {b.dq_results.length ? (
              <table className="w-full">
                <thead><tr><th className={th}>Rule</th><th className={th}>Table</th><th className={th}>Action</th><th className={th}>Checked</th><th className={th}>Failed</th><th className={th}>Result</th></tr></thead>
                <tbody>
                  {b.dq_results.map((d, i) => (
                    <tr key={i} className="border-t border-zinc-100 dark:border-zinc-800">
                      <td className={td}>{d.rule_name}</td><td className={`${td} font-mono text-xs`}>{d.table_name}</td><td className={td}>{d.action}</td>
                      <td className={td}>{formatCount(d.rows_checked)}</td><td className={td}>{formatCount(d.rows_failed)}</td><td className={td}><Badge value={d.status} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : <Empty>No quality checks ran.</Empty>}
          </Card>
        </div>
      )}
      <Confirm open={stopping} title={`Cancel batch #${batchId}?`} confirmLabel="Cancel batch" dismissLabel="Keep it running" busy={cancel.busy || !cancel.result?.confirm_token} onConfirm={confirmCancel} onCancel={() => { setStopping(false); cancel.reset(); }}>
        <ProblemBanner problem={cancel.problem} />
        {cancel.result ? <><p className="mb-2 text-sm">{planNote(cancel.result, "Cancel batch")}</p><PlanView plan={cancel.result.plan} /></> : <p className="text-sm">Checking…</p>}
      </Confirm>
      <Confirm open={asking} title={`Rerun batch #${batchId}?`} confirmLabel="Rerun" busy={rerun.busy || !rerun.result?.confirm_token} onConfirm={confirm} onCancel={() => { setAsking(false); setZones([...ZONES]); rerun.reset(); }}>
        <ZonePicker value={zones} onChange={choose} disabled={rerun.busy} />
        <ProblemBanner problem={rerun.problem} />
        {rerun.result ? <><p className="mb-2 text-sm">{planNote(rerun.result, "Rerun")}</p><PlanView plan={rerun.result.plan} /></> : <p className="text-sm">Checking…</p>}
      </Confirm>
    </>
  );
}
