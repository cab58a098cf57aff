"use client";
// The newest rows a source's quarantine rules set aside, with the rules each row failed.
import { api } from "@/lib/api/client";
import type { components } from "@/lib/api/schema";
import { formatCount } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { Empty, td, th } from "@/components/ui";

type Sample = components["schemas"]["QuarantineSample"];
const SHOWN = 20;

function cell(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function QuarantineRows({ source }: { source: string }) {
  const sample = useApi<Sample>(
    () => api.GET("/api/v1/sources/{name}/quarantine", { params: { path: { name: source }, query: { limit: SHOWN } } }),
    [source],
  );
  if (sample.loading) return <Empty>Loading quarantined rows…</Empty>;
  if (sample.problem) {
    return (
      <p className="text-sm text-zinc-600 dark:text-zinc-400" data-testid={`quarantine-none-${source}`}>
        {sample.problem.status === 404
          ? "No quarantined rows yet: they appear after a run in which a quarantine rule fails."
          : sample.problem.detail}
      </p>
    );
  }
  const data = sample.data;
  if (!data) return null;
  const failed = data.failed_rules_column;
  const columns = [failed, ...data.columns.map((c) => c.name).filter((name) => name !== failed)];
  return (
    <div className="overflow-x-auto">
      <p className="mb-2 text-xs text-zinc-500 dark:text-zinc-400">
        {formatCount(data.total_rows)} row{data.total_rows === 1 ? "" : "s"} in <code>{data.table}</code>
        {data.version !== null ? ` (version ${data.version})` : ""}; newest batch first, first {Math.min(SHOWN, data.rows.length)} shown.
      </p>
      {Object.keys(data.by_rule ?? {}).length > 0 ? (
        <p className="mb-2 text-xs text-zinc-500 dark:text-zinc-400" data-testid={`quarantine-by-rule-${source}`}>
          By rule: {Object.entries(data.by_rule ?? {}).map(([rule, count]) => `${rule} ${formatCount(count)}`).join(" · ")}
        </p>
      ) : null}
      <table className="w-full text-xs" data-testid={`quarantine-${source}`}>
        <thead>
          <tr>{columns.map((c) => <th key={c} className={th}>{c === failed ? "Failed rules" : c}</th>)}</tr>
        </thead>
        <tbody>
          {data.rows.slice(0, SHOWN).map((row, index) => (
            <tr key={index} className="border-t border-zinc-100 dark:border-zinc-800">
              {columns.map((c) => (
                <td key={c} className={`${td} font-mono`}>{c === failed && Array.isArray(row[c]) ? (row[c] as unknown[]).join(", ") : cell(row[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
