"use client";
// Overview: failing groups first, the last runs, the next scheduled fires and sync status.
import Link from "next/link";
import { api } from "@/lib/api/client";
import type { GroupRow, RunsPage, ScheduleRow } from "@/lib/api/models";
import { formatTime } from "@/lib/format";
import { planChanges, type SyncPlan } from "@/lib/sync";
import { useApi } from "@/lib/use-api";
import { Badge, Card, Empty, PageTitle, ProblemBanner, td, th } from "@/components/ui";

const rank = (g: GroupRow) => (g.last_status === "failed" ? 0 : g.last_status === "running" ? 1 : 2);

export default function Overview() {
  // Groups refresh with the runs, so a group's last status never disagrees with the run list.
  const groups = useApi<GroupRow[]>(() => api.GET("/api/v1/groups"), [], () => 5000);
  const runs = useApi<RunsPage>(() => api.GET("/api/v1/runs", { params: { query: { limit: 10 } } }), [], () => 5000);
  const schedules = useApi<ScheduleRow[]>(() => api.GET("/api/v1/schedules", { params: { query: { upcoming: 1 } } }), []);
  const sync = useApi<SyncPlan>(() => api.GET("/api/v1/sync/plan"), []);

  const sorted = [...(groups.data ?? [])].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const fires = (schedules.data ?? [])
    .flatMap((s) => s.next_fire_times.slice(0, 1).map((t) => ({ group: s.group, at: t, description: s.description })))
    .sort((a, b) => a.at.localeCompare(b.at));
  return (
    <>
      <PageTitle title="Overview" />
      <ProblemBanner problem={groups.problem ?? runs.problem} />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Groups">
          {sorted.length ? (
            <table className="w-full">
              <thead><tr><th className={th}>Group</th><th className={th}>Last run</th><th className={th}>Sources</th><th className={th}>Schedule</th></tr></thead>
              <tbody>
                {sorted.map((g) => (
                  <tr key={g.name} className="border-t border-zinc-100 dark:border-zinc-800">
                    <td className={td}><Link className="font-medium hover:underline" href={`/groups#${g.name}`}>{g.name}</Link></td>
                    <td className={td} data-testid={`last-run-${g.name}`}>{g.last_batch_id ? <Link href={`/runs/${g.last_batch_id}`} aria-label={`Batch #${g.last_batch_id}: ${g.last_status ?? "unknown"}`}><Badge value={g.last_status} /></Link> : <span className="text-zinc-500 dark:text-zinc-400">never</span>}</td>
                    <td className={td}>{g.source_count}</td>
                    <td className={td}>{g.paused ? <Badge value="paused" /> : g.quartz_cron ? <><code className="text-xs">{g.quartz_cron}</code> <span className="text-xs text-zinc-500 dark:text-zinc-400">{g.timezone}</span></> : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <Empty>{groups.loading ? "Loading…" : groups.problem ? "Could not load the groups (see above)." : <>No groups yet: create one on <Link className="text-sky-700 hover:underline dark:text-sky-400" href="/groups">Groups &amp; schedules</Link>.</>}</Empty>}
        </Card>
        <Card title="Last runs">
          {runs.data?.items.length ? (
            <table className="w-full">
              <tbody>
                {runs.data.items.map((r) => (
                  <tr key={r.batch_id} className="border-t border-zinc-100 first:border-0 dark:border-zinc-800">
                    <td className={td}><Link className="hover:underline" href={`/runs/${r.batch_id}`}>#{r.batch_id}</Link></td>
                    <td className={td}>{r.group}{r.source ? ` / ${r.source}` : ""}</td>
                    <td className={td}><Badge value={r.status} /></td>
                    <td className={`${td} text-zinc-500 dark:text-zinc-400`}>{formatTime(r.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <Empty>{runs.loading ? "Loading…" : runs.problem ? "Could not load the runs (see above)." : "No runs yet: a group's Run now or its schedule starts one."}</Empty>}
        </Card>
        <Card title="Next scheduled fires">
          {fires.length ? (
            <ul className="space-y-1">
              {fires.map((f) => (
                <li key={f.group} className="flex justify-between gap-2"><span className="font-medium">{f.group}</span><span className="text-zinc-500 dark:text-zinc-400">{formatTime(f.at)}</span></li>
              ))}
            </ul>
          ) : <Empty>{schedules.loading ? "Loading…" : "Nothing scheduled."}</Empty>}
        </Card>
        <Card title="Sync status">
          <SyncStatus plan={sync.data} failed={sync.problem?.detail} loading={sync.loading} />
        </Card>
      </div>
    </>
  );
}

function SyncStatus({ plan, failed, loading }: { plan?: SyncPlan; failed?: string; loading: boolean }) {
  if (loading) return <Empty>Loading…</Empty>;
  if (failed) return <p className="text-sm text-zinc-500 dark:text-zinc-400">Unknown: {failed}</p>;
  const changes = planChanges(plan);
  return (
    <div className="flex items-center justify-between">
      {changes === 0 ? <Badge value="in sync" /> : <span><Badge value="pending changes" /> {changes} change{changes === 1 ? "" : "s"} to apply</span>}
      <Link href="/sync" className="text-sky-700 hover:underline dark:text-sky-400">Open sync</Link>
    </div>
  );
}
