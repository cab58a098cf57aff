"use client";
// Sync: the reconciler's plan (what would change in the Databricks workspace) and Apply, for admins.
import { useState } from "react";
import { api } from "@/lib/api/client";
import { toProblem, type Problem } from "@/lib/api/problem";
import { may, useMe } from "@/lib/me";
import { planChanges } from "@/lib/sync";
import { useApi } from "@/lib/use-api";
import { Confirm } from "@/components/confirm";
import { PlanView } from "@/components/plan-view";
import { Badge, Button, Card, Empty, Json, PageTitle, ProblemBanner } from "@/components/ui";

type Plan = Record<string, unknown>;

function entries(plan: Plan | undefined): Record<string, unknown>[] {
  if (!plan) return [];
  for (const key of ["actions", "changes", "items", "plan"]) if (Array.isArray(plan[key])) return plan[key] as Record<string, unknown>[];
  return ["create", "update", "delete"].flatMap((op) => (Array.isArray(plan[op]) ? (plan[op] as Record<string, unknown>[]).map((e) => ({ op, ...e })) : []));
}

export default function Sync() {
  const plan = useApi<Plan>(() => api.GET("/api/v1/sync/plan"), []);
  const me = useMe();
  const admin = may(me, "sync_jobs");
  const [asking, setAsking] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);

  async function apply() {
    setBusy(true);
    const { data, error, response } = await api.POST("/api/v1/sync/apply", {});
    setBusy(false);
    setAsking(false);
    if (error !== undefined) return setProblem(toProblem(error, response.status));
    setProblem(null);
    setMessage((data as { message?: string } | undefined)?.message ?? "Applied.");
    await plan.reload();
  }
  const list = entries(plan.data);
  const changes = planChanges(plan.data);
  return (
    <>
      <PageTitle title="Sync">
        {plan.data ? <Badge value={changes ? "pending changes" : "in sync"} /> : null}
        <Button onClick={() => plan.reload()}>Refresh</Button>
        {admin ? <Button tone="primary" disabled={!changes || busy} onClick={() => setAsking(true)}>Apply…</Button> : null}
      </PageTitle>
      <ProblemBanner problem={problem ?? plan.problem} />
      {me && !admin ? <p className="mb-4 text-sm text-zinc-600 dark:text-zinc-400" data-testid="sync-admin-only">Applying the plan needs the admin role; you can review it here.</p> : null}
      {message ? <p role="status" className="mb-4 text-sm text-emerald-700 dark:text-emerald-400">{message}</p> : null}
      <Card title="Plan">
        {plan.loading ? <Empty>Loading…</Empty> : list.length ? <PlanView plan={list} /> : plan.data ? <Json value={plan.data} /> : null}
      </Card>
      <Confirm open={asking} title="Apply the sync plan to the workspace?" confirmLabel="Apply" busy={busy} onConfirm={apply} onCancel={() => setAsking(false)}>
        <p className="mb-2 text-sm">{changes} change{changes === 1 ? "" : "s"}; needs the admin role.</p>
        <PlanView plan={list} />
      </Confirm>
    </>
  );
}
