// A batch's timeline: one bar per zone, table and step, placed by start and end time.
import type { BatchDetail, RunStatus } from "@/lib/api/models";
import { formatDuration } from "@/lib/format";

interface Bar {
  label: string;
  depth: number;
  status: RunStatus;
  start: number;
  end: number;
  title: string;
}

const COLOURS: Record<string, string> = {
  succeeded: "fill-emerald-500",
  failed: "fill-red-500",
  running: "fill-sky-500",
  queued: "fill-zinc-400",
  cancelled: "fill-zinc-400",
  skipped: "fill-zinc-300",
};

function bars(batch: BatchDetail, now: number): Bar[] {
  const t = (s: string | null | undefined, fallback: number) => (s ? new Date(s).getTime() : fallback);
  const out: Bar[] = [];
  for (const zone of batch.zones) {
    const zs = t(zone.started_at, now);
    out.push({ label: zone.zone, depth: 0, status: zone.status, start: zs, end: t(zone.ended_at, now), title: `${zone.zone}: ${zone.status}, ${formatDuration(zone.started_at, zone.ended_at)}` });
    for (const table of zone.tables) {
      out.push({ label: table.table_name, depth: 1, status: table.status, start: t(table.started_at, zs), end: t(table.ended_at, now), title: `${table.table_name}: ${table.status}, rows ${table.rows_out ?? "—"}` });
      for (const step of table.steps) {
        out.push({ label: step.step, depth: 2, status: step.status, start: t(step.started_at, zs), end: t(step.ended_at, now), title: `${step.step}: ${step.status}, ${formatDuration(step.started_at, step.ended_at)}` });
      }
    }
  }
  return out;
}

export function Gantt({ batch }: { batch: BatchDetail }) {
  // Bars still running end at the latest time the run log knows of (the page polls for more).
  const stamps = [batch.started_at, batch.ended_at, ...batch.zones.flatMap((z) => [z.started_at, z.ended_at, ...z.tables.flatMap((t) => [t.started_at, t.ended_at, ...t.steps.flatMap((s) => [s.started_at, s.ended_at])])])]
    .filter((v): v is string => Boolean(v))
    .map((v) => new Date(v).getTime());
  const rows = bars(batch, stamps.length ? Math.max(...stamps) : 0);
  if (!rows.length) return <p className="text-sm text-zinc-500 dark:text-zinc-400">No zones have started yet.</p>;
  const min = Math.min(...rows.map((r) => r.start));
  const max = Math.max(...rows.map((r) => r.end), min + 1);
  const labelWidth = 220;
  const width = 900;
  const rowHeight = 20;
  const scale = (width - labelWidth - 10) / (max - min);
  // At least 640 px wide: on a phone the timeline scrolls in its card instead of shrinking its labels.
  return (
    <svg role="img" aria-label="Batch timeline" viewBox={`0 0 ${width} ${rows.length * rowHeight + 20}`} className="w-full min-w-[640px]" data-testid="gantt">
      {rows.map((r, i) => {
        const x = labelWidth + (r.start - min) * scale;
        const w = Math.max((r.end - r.start) * scale, 2);
        return (
          <g key={i} transform={`translate(0 ${i * rowHeight})`}>
            <title>{r.title}</title>
            <text x={4 + r.depth * 14} y={14} className={`fill-current text-[11px] ${r.depth === 0 ? "font-semibold" : ""}`}>{r.label}</text>
            <rect x={x} y={4} width={w} height={12} rx={2} className={COLOURS[r.status] ?? "fill-zinc-400"} />
          </g>
        );
      })}
      <text x={labelWidth} y={rows.length * rowHeight + 14} className="fill-zinc-500 text-[10px]">0 s</text>
      <text x={width - 10} y={rows.length * rowHeight + 14} textAnchor="end" className="fill-zinc-500 text-[10px]">{formatDuration(new Date(min).toISOString(), new Date(max).toISOString())}</text>
    </svg>
  );
}
