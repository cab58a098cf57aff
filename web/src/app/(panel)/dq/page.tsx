"use client";
// Data quality: rules per table with their action, a pass/fail trend over recent batches and, for
// sources with quarantine rules, the newest quarantined rows.
import Link from "next/link";
import { useState } from "react";
import { api } from "@/lib/api/client";
import type { DqRuleRow } from "@/lib/api/models";
import { formatCount } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { QuarantineRows } from "@/components/quarantine";
import { Trend } from "@/components/trend";
import { Badge, Card, Empty, PageTitle, ProblemBanner, inputClass, td, th } from "@/components/ui";

export default function DataQuality() {
  const rules = useApi<DqRuleRow[]>(() => api.GET("/api/v1/dq-rules", { params: { query: { trend: 20 } } }), []);
  const [filter, setFilter] = useState("");
  const bySource = new Map<string, DqRuleRow[]>();
  for (const rule of rules.data ?? []) {
    const key = rule.source ?? "?";
    if (filter && !key.includes(filter) && !rule.name.includes(filter)) continue;
    bySource.set(key, [...(bySource.get(key) ?? []), rule]);
  }
  return (
    <>
      <PageTitle title="Data quality" />
      <ProblemBanner problem={rules.problem} />
      <label htmlFor="dq-filter" className="sr-only">Filter rules</label>
      <input id="dq-filter" type="search" placeholder="Filter by source or rule" value={filter} onChange={(e) => setFilter(e.target.value.toLowerCase())} className={`${inputClass} mb-4 max-w-sm`} />
      <div className="space-y-4">
        {[...bySource.entries()].map(([source, list]) => (
          <Card key={source} title={<Link href={`/sources/${source}`} className="hover:underline">{source}</Link>}>
            <table className="w-full" data-testid={`dq-${source}`}>
              <thead><tr><th className={th}>Rule</th><th className={th}>Expression</th><th className={th}>Action</th><th className={th}>Recent batches</th><th className={th}>Trend (oldest → newest)</th></tr></thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.name} className="border-t border-zinc-100 dark:border-zinc-800">
                    <td className={td}>{r.name}{r.enabled ? null : <> <Badge value="disabled" /></>}</td>
                    <td className={`${td} font-mono text-xs`}>{r.expression}</td>
                    <td className={td}><Badge value={r.action} /></td>
                    <td className={td}><span className="text-emerald-700 dark:text-emerald-400">{formatCount(r.passed ?? 0)} passed</span> · <span className="text-red-700 dark:text-red-400">{formatCount(r.failed ?? 0)} failed</span></td>
                    <td className={td}><Trend rule={r} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
            {list.some((r) => r.action === "quarantine") ? (
              <div className="mt-4 border-t border-zinc-100 pt-3 dark:border-zinc-800">
                <h3 className="mb-2 text-xs font-semibold text-zinc-700 dark:text-zinc-300">Quarantined rows</h3>
                <QuarantineRows source={source} />
              </div>
            ) : null}
          </Card>
        ))}
        {!bySource.size ? <Empty>{rules.loading ? "Loading…" : "No rules yet. Add one on a source's page."}</Empty> : null}
      </div>
    </>
  );
}
