"use client";
// Audit: who did what, from which surface, with the plan that was applied.
import { Fragment, useState } from "react";
import { api } from "@/lib/api/client";
import type { AuditPage } from "@/lib/api/models";
import { formatTime } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { PlanView } from "@/components/plan-view";
import { Badge, Button, Card, Empty, Json, PageTitle, ProblemBanner, td, th } from "@/components/ui";

export default function Audit() {
  const [before, setBefore] = useState<string[]>([]);
  const cursor = before.at(-1);
  const audit = useApi<AuditPage>(() => api.GET("/api/v1/audit", { params: { query: { limit: 50, before: cursor } } }), [cursor]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <PageTitle title="Audit" />
      <ProblemBanner problem={audit.problem} />
      <Card>
        {audit.data?.items.length ? (
          <table className="w-full">
            <thead><tr><th className={th}>When</th><th className={th}>Who</th><th className={th}>Surface</th><th className={th}>Command</th><th className={th}>Outcome</th><th className={th}>Message</th><th className={th} /></tr></thead>
            <tbody>
              {audit.data.items.map((a) => (
                <Fragment key={a.command_id}>
                  <tr className="border-t border-zinc-100 dark:border-zinc-800">
                    <td className={`${td} whitespace-nowrap text-zinc-500`}>{formatTime(a.created_at)}</td>
                    <td className={td}>{a.actor}</td>
                    <td className={td}>{a.surface}{a.channel ? <span className="text-xs text-zinc-500"> {a.channel}</span> : null}</td>
                    <td className={td}><code className="text-xs">{a.kind}</code>{a.raw_text ? <span className="block text-xs text-zinc-500">“{a.raw_text}”</span> : null}</td>
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
        ) : <Empty>{audit.loading ? "Loading…" : "Nothing recorded yet."}</Empty>}
        <div className="mt-3 flex gap-2">
          {before.length ? <Button onClick={() => setBefore(before.slice(0, -1))}>Newer</Button> : null}
          {audit.data?.next_before ? <Button onClick={() => setBefore([...before, audit.data?.next_before ?? ""])}>Older</Button> : null}
        </div>
      </Card>
    </>
  );
}
