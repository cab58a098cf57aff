"use client";
// Runs: newest first, filtered by status, group, source and time, paginated by cursor.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import type { RunStatus, RunsPage } from "@/lib/api/models";
import { FINAL_STATUSES, formatCount, formatDuration, formatTime, toLocalInput, viewerTimeZone } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { Badge, Button, Card, Empty, PageTitle, ProblemBanner, inputClass, td, th } from "@/components/ui";

const STATUSES: RunStatus[] = ["queued", "running", "succeeded", "failed", "cancelled", "skipped"];

export default function RunsPageScreen() {
  return <Suspense><Runs /></Suspense>;
}

function Runs() {
  const router = useRouter();
  const params = useSearchParams();
  const filters = {
    status: (params.get("status") || undefined) as RunStatus | undefined,
    group: params.get("group") || undefined,
    source: params.get("source") || undefined,
    since: params.get("since") || undefined,
    cursor: params.get("cursor") || undefined,
  };
  const key = params.toString();
  const filterKey = [filters.status, filters.group, filters.source, filters.since].join("|");
  const runs = useApi<RunsPage>(
    () => api.GET("/api/v1/runs", { params: { query: { ...filters, limit: 50 } } }),
    [key],
    (page) => (page?.items.some((r) => !FINAL_STATUSES.has(r.status)) ? 2000 : 10000),
  );

  useEffect(() => {
    // The benchmark and tests read this mark: first page of rows on screen.
    if (runs.data && !performance.getEntriesByName("runs-rendered").length) performance.mark("runs-rendered");
  }, [runs.data]);

  const page = (cursor: string | null) => {
    const next = new URLSearchParams(params.toString());
    if (cursor) next.set("cursor", cursor);
    else next.delete("cursor");
    router.push(`/runs?${next.toString()}`);
  };

  return (
    <>
      <PageTitle title="Runs" />
      {/* Keyed by the URL: Back and Forward show the filters of the page they return to. */}
      <Filters key={filterKey} filters={filters} />
      <ProblemBanner problem={runs.problem} />
      <Card>
        {runs.data?.items.length ? (
          <table className="w-full" data-testid="runs-table">
            <thead><tr><th className={th}>Batch</th><th className={th}>Group / source</th><th className={th}>Status</th><th className={th}>Trigger</th><th className={th}>Rows in → out</th><th className={th}>Created</th><th className={th}>Duration</th></tr></thead>
            <tbody>
              {runs.data.items.map((r) => (
                <tr key={r.batch_id} className="border-t border-zinc-100 dark:border-zinc-800" data-batch={r.batch_id}>
                  <td className={td}><Link href={`/runs/${r.batch_id}`} className="font-medium text-sky-700 hover:underline dark:text-sky-400">#{r.batch_id}</Link></td>
                  <td className={td}>{r.group}{r.source ? ` / ${r.source}` : ""}</td>
                  <td className={td}><Badge value={r.status} /></td>
                  <td className={td}>{r.trigger}</td>
                  <td className={td}>{formatCount(r.rows_in)} → {formatCount(r.rows_out)}</td>
                  <td className={`${td} text-zinc-500 dark:text-zinc-400`}>{formatTime(r.created_at)}</td>
                  <td className={td}>{formatDuration(r.started_at, r.ended_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <Empty>{runs.loading ? "Loading…" : runs.problem ? "Could not load the runs (see above)." : filterKey.replace(/\|/g, "") ? "No runs match these filters." : "No runs yet: a group's Run now or its schedule starts one."}</Empty>}
        <div className="mt-3 flex gap-2">
          {filters.cursor ? <Button onClick={() => page(null)}>Newest</Button> : null}
          {runs.data?.next_cursor ? <Button onClick={() => page(runs.data?.next_cursor ?? null)}>Older</Button> : null}
        </div>
      </Card>
    </>
  );
}

function Filters({ filters }: { filters: { status?: string; group?: string; source?: string; since?: string } }) {
  const router = useRouter();
  // "since" is an instant in the URL and wall-clock time in the field, both in the viewer's zone.
  const [form, setForm] = useState({ status: filters.status ?? "", group: filters.group ?? "", source: filters.source ?? "", since: toLocalInput(filters.since) });
  function apply(event: FormEvent) {
    event.preventDefault();
    const next = new URLSearchParams();
    if (form.status) next.set("status", form.status);
    if (form.group.trim()) next.set("group", form.group.trim());
    if (form.source.trim()) next.set("source", form.source.trim());
    if (form.since) next.set("since", new Date(form.since).toISOString());
    router.push(`/runs?${next.toString()}`);
  }
  return (
    <form onSubmit={apply} className="mb-4 flex flex-wrap items-end gap-2" aria-label="Filter runs">
      <label className="text-xs">Status<select className={inputClass} value={form.status} onChange={(e) => setForm({ ...form, status: e.target.value })}><option value="">any</option>{STATUSES.map((s) => <option key={s}>{s}</option>)}</select></label>
      <label className="text-xs">Group<input className={inputClass} value={form.group} onChange={(e) => setForm({ ...form, group: e.target.value })} /></label>
      <label className="text-xs">Source<input className={inputClass} value={form.source} onChange={(e) => setForm({ ...form, source: e.target.value })} /></label>
      <label className="text-xs">Since ({viewerTimeZone()})<input type="datetime-local" className={inputClass} value={form.since} onChange={(e) => setForm({ ...form, since: e.target.value })} /></label>
      <Button type="submit">Filter</Button>
    </form>
  );
}
