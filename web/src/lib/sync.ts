/** Counts the create/update/delete actions of a reconciler plan, whatever its list is called. */
export function planChanges(plan?: Record<string, unknown>): number {
  if (!plan) return 0;
  const lists = ["actions", "changes", "items", "plan", "create", "update", "delete"]
    .map((k) => plan[k])
    .filter(Array.isArray) as unknown[][];
  const isNoop = (a: unknown) => {
    if (!a || typeof a !== "object") return false;
    const entry = a as Record<string, unknown>;
    return ["noop", "unchanged", "none"].includes(String(entry.action ?? entry.op ?? ""));
  };
  return lists.reduce((n, list) => n + list.filter((a) => !isNoop(a)).length, 0);
}
