"use client";
// Sync: the reconciler's plan (what would change in the Databricks workspace) and Apply, for admins.
import { useState } from "react";
import { api } from "@/lib/api/client";
import { toProblem, type Problem } from "@/lib/api/problem";
import { may, useMe } from "@/lib/me";
import { planNote, type CommandResponse } from "@/lib/command";
import { planChanges, type SyncPlan } from "@/lib/sync";
import { useApi } from "@/lib/use-api";
import { Confirm } from "@/components/confirm";
import { PlanView } from "@/components/plan-view";
import { Badge, Button, Card, Empty, Json, PageTitle, ProblemBanner } from "@/components/ui";

export default function Sync() {
  const plan = useApi<SyncPlan>(() => api.GET("/api/v1/sync/plan"), []);
  const me = useMe();
  const admin = may(me, "sync_jobs");
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  // The executor's plan of this apply (a dry run) and its confirm token: Apply applies exactly that
  // plan; if the workspace or the metadata moved in between, the API refuses the token.
  const [shown, setShown] = useState<CommandResponse | null>(null);
  const [askProblem, setAskProblem] = useState<Problem | null>(null);

  async function ask() {
    setAsking(true);
    setShown(null);
    setAskProblem(null);
    setBusy(true);
    const { data, error, response } = await api.POST("/api/v1/sync/apply", { params: { query: { dry_run: true } } });
    setBusy(false);
    if (error !== undefined) return setAskProblem(toProblem(error, response.status));
    setShown((data as CommandResponse | undefined) ?? null);
  }
  async function apply() {
    const token = shown?.confirm_token;
    if (!token) return;
    setBusy(true);
    const { data, error, response } = await api.POST("/api/v1/sync/apply", { params: { query: { confirm_token: token } } });
    setBusy(false);
    if (error !== undefined) return setAskProblem(toProblem(error, response.status));
    setAsking(false);
    setShown(null);
    setProblem(null);
    setMessage((data as { message?: string } | undefined)?.message ?? "Applied.");
    await plan.reload();
  }
  function close() {
    setAsking(false);
    setShown(null);
    setAskProblem(null);
  }
  // The same lines the Apply dialog confirms, not the reconciler's JSON.
  const list = plan.data?.lines ?? [];
  const changes = planChanges(plan.data);
  return (
    <>
      <PageTitle title="Sync">
        {plan.data ? <Badge value={changes ? "pending changes" : "in sync"} /> : null}
        <Button onClick={() => plan.reload()}>Refresh</Button>
        {admin ? <Button tone="primary" disabled={!changes || busy} onClick={ask}>Apply…</Button> : null}
      </PageTitle>
      <ProblemBanner problem={problem ?? plan.problem} />
      {me && !admin ? <p className="mb-4 text-sm text-zinc-600 dark:text-zinc-400" data-testid="sync-admin-only">Applying the plan needs the admin role; you can review it here.</p> : null}
      {message ? <p role="status" className="mb-4 text-sm text-emerald-700 dark:text-emerald-400">{message}</p> : null}
      <Card title="Plan">
        {plan.loading ? <Empty>Loading…</Empty> : list.length ? <PlanView plan={list} /> : plan.data ? <InSync plan={plan.data} /> : null}
      </Card>
      <Confirm open={asking} title="Apply the sync plan to the workspace?" confirmLabel="Apply" busy={busy || !shown?.confirm_token} onConfirm={apply} onCancel={close}>
        <ProblemBanner problem={askProblem} />
        {shown ? <><p className="mb-2 text-sm">{planNote(shown, "Apply")}</p><PlanView plan={shown.plan} /></> : askProblem ? null : <p className="text-sm">Checking…</p>}
      </Confirm>
    </>
  );
}

// Nothing to change: say so in words, with what was compared; the reconciler's answer stays one click away.
function InSync({ plan }: { plan: SyncPlan }) {
  const unchanged = Array.isArray(plan.unchanged) ? (plan.unchanged as string[]) : [];
  return (
    <div className="space-y-2 text-sm" data-testid="sync-in-sync">
      <p>The workspace matches the metadata: {unchanged.length} job{unchanged.length === 1 ? "" : "s"} and pipeline{unchanged.length === 1 ? "" : "s"} unchanged.</p>
      {unchanged.length ? <ul className="font-mono text-xs text-zinc-600 dark:text-zinc-400">{unchanged.map((r) => <li key={r}>{r}</li>)}</ul> : null}
      <details><summary className="cursor-pointer text-xs text-zinc-500 dark:text-zinc-400">Reconciler answer</summary><Json value={plan} /></details>
    </div>
  );
}
