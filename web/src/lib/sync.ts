// GET /sync/plan answers the reconciler's summary (SyncPlan.to_json) and, as `lines`, the same plan
// lines POST /sync/apply?dry_run=true shows before an apply.
type Change = { action?: string; duplicates?: string[] };
export type SyncPlan = Record<string, unknown> & { changes?: Change[]; lines?: Record<string, unknown>[] };

// What an apply writes; "wait" (a dependency first) and "error" write nothing.
const WRITES = new Set(["create", "update", "adopt", "pause", "delete"]);

/** How many jobs and pipelines an apply would write. Each change is counted once, from `changes`:
 * the per-action lists (`create`, `update`…) name the same resources again. */
export function planChanges(plan?: SyncPlan): number {
  return (plan?.changes ?? []).reduce((n, c) => n + (WRITES.has(c.action ?? "") ? 1 : 0) + (c.duplicates?.length ?? 0), 0);
}
