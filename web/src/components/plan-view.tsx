// Renders a command's plan: the field-by-field metadata diff and the Databricks resources it touches.
// Plan entries are open-ended objects; the common shapes (field/before/after, nested changes) get a
// diff table, anything else is shown as labelled JSON.
type Entry = Record<string, unknown>;

const show = (v: unknown): string => (v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));

// A value in a diff cell. An object (a batch to queue, a schedule) reads as "key: value" pairs,
// its empty keys left out, rather than as JSON.
const cell = (v: unknown): string =>
  v && typeof v === "object" && !Array.isArray(v)
    ? Object.entries(v as Entry).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => `${k}: ${show(x)}`).join(", ")
    : show(v);

function changesOf(entry: Entry): Entry[] {
  for (const key of ["changes", "fields", "diff"]) {
    const value = entry[key];
    if (Array.isArray(value)) return value as Entry[];
    if (value && typeof value === "object") {
      return Object.entries(value as Record<string, unknown>).map(([field, change]) =>
        change && typeof change === "object" && ("before" in change || "after" in change)
          ? { field, ...(change as Entry) }
          : { field, after: change },
      );
    }
  }
  return "field" in entry ? [entry] : [];
}

function heading(entry: Entry): string {
  const op = entry.op ?? entry.action ?? entry.change ?? entry.operation ?? "";
  const what = entry.entity ?? entry.entity_type ?? entry.resource ?? entry.resource_type ?? entry.target ?? "";
  const key = entry.key ?? entry.name ?? entry.entity_key ?? entry.lakeforge_key ?? "";
  return [op, what, key].map(show).filter(Boolean).join(" · ");
}

const OP_TONE: Record<string, string> = {
  create: "text-emerald-700 dark:text-emerald-400",
  delete: "text-red-700 dark:text-red-400",
  update: "text-amber-700 dark:text-amber-400",
};

// A field that had a value and will have none: said in words, not as an empty cell.
const cleared = (c: Entry): boolean =>
  c.op === "update" && c.field !== null && c.field !== undefined && c.before !== null && c.before !== undefined && c.before !== "" && (c.after === null || c.after === "") && !("new" in c) && !("value" in c);

/** Plan lines ({op, entity, key, field, before, after}) grouped per entity, one row per field. */
function LineTable({ lines }: { lines: Entry[] }) {
  const groups = new Map<string, Entry[]>();
  for (const line of lines) {
    const title = [line.entity, line.key].map(show).filter(Boolean).join(" ") || heading(line);
    groups.set(title, [...(groups.get(title) ?? []), line]);
  }
  return (
    <>
      {[...groups.entries()].map(([title, rows]) => (
        <div key={title} className="rounded-md border border-zinc-200 dark:border-zinc-800">
          <div className="border-b border-zinc-200 px-3 py-1.5 text-xs font-medium dark:border-zinc-800">{title}</div>
          <table className="w-full text-xs">
            <tbody>
              {rows.map((c, i) => (
                <tr key={i} className="border-t border-zinc-100 first:border-0 dark:border-zinc-800" data-op={show(c.op)}>
                  <td className={`w-16 px-3 py-1 font-medium ${OP_TONE[show(c.op)] ?? ""}`}>{show(c.op ?? c.action)}</td>
                  <td className="w-1/4 px-3 py-1 font-mono">{c.field === null || c.field === undefined ? (c.text ? show(c.text) : "") : show(c.field)}</td>
                  <td className="px-3 py-1 font-mono break-all text-red-700 line-through decoration-red-400/60 dark:text-red-400">{cell(c.before ?? c.old ?? undefined)}</td>
                  <td className="px-3 py-1 font-mono break-all text-emerald-700 dark:text-emerald-400">{cleared(c) ? <span className="font-sans text-zinc-500 dark:text-zinc-400 italic">(cleared)</span> : cell(c.after ?? c.new ?? c.value ?? undefined)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </>
  );
}

export function PlanView({ plan }: { plan: Entry[] | null | undefined }) {
  if (!plan || plan.length === 0) return <p className="text-sm text-zinc-500 dark:text-zinc-400">No changes.</p>;
  const flat = plan.every((e) => "field" in e || "text" in e);
  return (
    <div className="space-y-3" data-testid="plan">
      {flat ? <LineTable lines={plan} /> : plan.map((entry, index) => {
        const changes = changesOf(entry);
        return changes.length ? <LineTable key={index} lines={changes.map((c) => ({ entity: heading(entry), ...c }))} /> : (
          <pre key={index} className="overflow-x-auto rounded-md border border-zinc-200 p-3 font-mono text-xs dark:border-zinc-800">{JSON.stringify(entry, null, 2)}</pre>
        );
      })}
    </div>
  );
}

/** A before → after diff of two snapshots (revision restore). */
export function SnapshotDiff({ before, after }: { before: Entry | null; after: Entry | null }) {
  const keys = Array.from(new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])).sort();
  const changed = keys.filter((k) => show(before?.[k]) !== show(after?.[k]));
  if (!changed.length) return <p className="text-sm text-zinc-500 dark:text-zinc-400">Identical.</p>;
  return <PlanView plan={[{ changes: changed.map((field) => ({ field, before: before?.[field], after: after?.[field] })) }]} />;
}
