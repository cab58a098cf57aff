"use client";
// Sources: a searchable list; each row opens the source's detail.
import Link from "next/link";
import { useState } from "react";
import { api } from "@/lib/api/client";
import type { SourceSummary } from "@/lib/api/models";
import { formatTime } from "@/lib/format";
import { may, useMe } from "@/lib/me";
import { useApi } from "@/lib/use-api";
import { Badge, Card, Empty, PageTitle, ProblemBanner, inputClass, td, th } from "@/components/ui";

export default function Sources() {
  const sources = useApi<SourceSummary[]>(() => api.GET("/api/v1/sources"), []);
  const [query, setQuery] = useState("");
  const me = useMe();
  const q = query.trim().toLowerCase();
  const shown = (sources.data ?? []).filter((s) =>
    !q || [s.name, s.group, s.system, s.format, s.location, s.description].some((v) => v?.toLowerCase().includes(q)),
  );
  return (
    <>
      <PageTitle title="Sources">
        {may(me, "register_source") ? <Link href="/sources/new" className="rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800">Register source</Link> : null}
      </PageTitle>
      <ProblemBanner problem={sources.problem} />
      <Card>
        <label htmlFor="search" className="sr-only">Search sources</label>
        <input id="search" type="search" placeholder="Search by name, group, format, location…" value={query} onChange={(e) => setQuery(e.target.value)} className={`${inputClass} mb-3 max-w-md`} />
        {shown.length ? (
          <table className="w-full" data-testid="sources-table">
            <thead><tr><th className={th}>Name</th><th className={th}>Group</th><th className={th}>Format</th><th className={th}>Location</th><th className={th}>Load</th><th className={th}>Rev</th><th className={th}>Updated</th></tr></thead>
            <tbody>
              {shown.map((s) => (
                <tr key={s.name} className="border-t border-zinc-100 dark:border-zinc-800">
                  <td className={td}><Link href={`/sources/${s.name}`} className="font-medium text-sky-700 hover:underline dark:text-sky-400">{s.name}</Link>{s.enabled ? null : <> <Badge value="disabled" /></>}</td>
                  <td className={td}>{s.group}</td>
                  <td className={td}>{s.format}</td>
                  <td className={`${td} max-w-xs truncate font-mono text-xs`} title={s.location}>{s.location}</td>
                  <td className={td}>{s.load_mode}</td>
                  <td className={td}>{s.revision}</td>
                  <td className={`${td} text-zinc-500 dark:text-zinc-400`}>{formatTime(s.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <Empty>{sources.loading ? "Loading…" : sources.problem ? "Could not load the sources (see above)." : q ? "No source matches." : may(me, "register_source") ? <>No sources yet: <Link className="text-sky-700 hover:underline dark:text-sky-400" href="/sources/new">register one</Link>.</> : "No sources yet."}</Empty>}
      </Card>
    </>
  );
}
