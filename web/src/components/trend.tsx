// Pass/fail trend of one rule over its recent batches: one column per batch, height = failed share.
import type { DqRuleRow } from "@/lib/api/models";
import { formatCount } from "@/lib/format";

export function Trend({ rule }: { rule: DqRuleRow }) {
  const points = [...(rule.trend ?? [])].reverse(); // oldest first, left to right
  if (!points.length) return <span className="text-xs text-zinc-500 dark:text-zinc-400">no runs yet</span>;
  const w = 8;
  const h = 24;
  return (
    <svg role="img" aria-label={`${rule.name}: ${rule.passed ?? 0} passed, ${rule.failed ?? 0} failed`} width={points.length * (w + 2)} height={h} data-testid="trend">
      {points.map((p, i) => {
        const failedShare = p.rows_checked ? p.rows_failed / p.rows_checked : p.status === "failed" ? 1 : 0;
        const failedH = Math.max(p.status === "failed" ? 3 : 0, Math.round(failedShare * h));
        return (
          <g key={p.batch_id} transform={`translate(${i * (w + 2)} 0)`}>
            <title>{`batch ${p.batch_id}: ${p.status}, ${formatCount(p.rows_failed)} of ${formatCount(p.rows_checked)} rows failed`}</title>
            <rect y={0} width={w} height={h - failedH} className="fill-emerald-500" />
            <rect y={h - failedH} width={w} height={failedH} className="fill-red-500" />
          </g>
        );
      })}
    </svg>
  );
}
