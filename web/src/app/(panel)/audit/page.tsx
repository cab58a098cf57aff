"use client";
// Audit: who did what, from which surface, with the plan that was applied.
import { useRouter, useSearchParams } from "next/navigation";
import { Fragment, Suspense, useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import type { AuditPage } from "@/lib/api/models";
import { formatTime } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { PlanView } from "@/components/plan-view";
import { Badge, Button, Card, Empty, Json, PageTitle, ProblemBanner, inputClass, td, th } from "@/components/ui";

const OUTCOMES = ["applied", "planned", "needs_confirmation", "rejected", "failed"] as const;
type Outcome = (typeof OUTCOMES)[number];

export default function AuditScreen() {
  return <Suspense><Audit /></Suspense>;
}

function Audit() {
  // Filters live in the URL (/audit?actor=ana&kind=update_source), so a link shows the same list.
  const params = useSearchParams();
  const filters = {
    actor: params.get("actor") || undefined,
    kind: params.get("kind") || undefined,
    outcome: (OUTCOMES as readonly string[]).includes(params.get("outcome") ?? "") ? (params.get("outcome") as Outcome) : undefined,
  };
  const key = [filters.actor, filters.kind, filters.outcome].join("|");
  return (
    <>
      <PageTitle title="Audit" />
      <Filters key={key} filters={filters} />
      <AuditList key={key} filters={filters} />
    </>
  );
}

function Filters({ filters }: { filters: { actor?: string; kind?: string; outcome?: string } }) {
  const router = useRouter();
  const [form, setForm] = useState({ actor: filters.actor ?? "", kind: filters.kind ?? "", outcome: filters.outcome ?? "" });
  function apply(event: FormEvent) {
    event.preventDefault();
    const next = new URLSearchParams();
    if (form.actor.trim()) next.set("actor", form.actor.trim());
    if (form.kind.trim()) next.set("kind", form.kind.trim());
    if (form.outcome) next.set("outcome", form.outcome);
    router.push(`/audit${next.size ? `?${next.toString()}` : ""}`);
  }
  return (
    <form onSubmit={apply} className="mb-4 flex flex-wrap items-end gap-2" aria-label="Filter audit">
      <label className="text-xs">Who<input className={inputClass} value={form.actor} onChange={(e) => setForm({ ...form, actor: e.target.value })} /></label>
      <label className="text-xs">Command<input className={`${inputClass} font-mono`} placeholder="e.g. update_source" value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value })} /></label>
      <label className="text-xs">Outcome<select className={inputClass} value={form.outcome} onChange={(e) => setForm({ ...form, outcome: e.target.value })}><option value="">any</option>{OUTCOMES.map((o) => <option key={o}>{o}</option>)}</select></label>
      <Button type="submit">Filter</Button>
    </form>
  );
}

function AuditList({ filters }: { filters: { actor?: string; kind?: string; outcome?: Outcome } }) {
  const [before, setBefore] = useState<string[]>([]);
  const cursor = before.at(-1);
  const audit = useApi<AuditPage>(() => api.GET("/api/v1/audit", { params: { query: { limit: 50, before: cursor, ...filters } } }), [cursor]);
  const [open, setOpen] = useState<string | null>(null);
  const filtered = Boolean(filters.actor || filters.kind || filters.outcome);
  return (
    <>
      <ProblemBanner problem={audit.problem} />
      <Card>
        {audit.data?.items.length ? (
          <table className="w-full" data-testid="audit-table">
            <thead><tr><th className={th}>When</th><th className={th}>Who</th><th className={th}>Surface</th><th className={th}>Command</th><th className={th}>Outcome</th><th className={th}>Message</th><th className={th} /></tr></thead>
            <tbody>
              {audit.data.items.map((a) => (
                <Fragment key={a.command_id}>
                  <tr className="border-t border-zinc-100 dark:border-zinc-800" data-kind={a.kind} data-outcome={a.outcome}>
                    <td className={`${td} whitespace-nowrap text-zinc-500 dark:text-zinc-400`}>{formatTime(a.created_at)}</td>
                    <td className={td}>{a.actor}</td>
                    <td className={td}>{a.surface}{a.channel ? <span className="text-xs text-zinc-500 dark:text-zinc-400"> {a.channel}</span> : null}</td>
                    <td className={td}><code className="text-xs">{a.kind}</code>{a.raw_text ? <span className="block text-xs text-zinc-500 dark:text-zinc-400">“{a.raw_text}”</span> : null}</td>
                    <td className={td}><Badge value={a.outcome} /></td>
                    <td className={`${td} max-w-sm text-xs`}>{a.message}</td>
                    <td className={td}><Button aria-expanded={open === a.command_id} onClick={() => setOpen(open === a.command_id ? null : a.command_id)}>{open === a.command_id ? "Hide" : "Plan"}</Button></td>
                  </tr>
                  {open === a.command_id ? (
                    <tr><td colSpan={7} className="p-3"><div className="grid gap-3 lg:grid-cols-2"><Json value={a.intent} /><PlanView plan={a.plan} /></div></td></tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        ) : <Empty>{audit.loading ? "Loading…" : audit.problem ? "Could not load the audit log (see above)." : filtered ? "No command matches." : "Nothing recorded yet."}</Empty>}
        <div className="mt-3 flex gap-2">
          {before.length ? <Button onClick={() => setBefore(before.slice(0, -1))}>Newer</Button> : null}
          {audit.data?.next_before ? <Button onClick={() => setBefore([...before, audit.data?.next_before ?? ""])}>Older</Button> : null}
        </div>
      </Card>
    </>
  );
}
