"use client";
// The signed-in user (GET /me), read once by the shell and shared with every screen, so a screen
// can hide what the user's roles do not allow (the API still refuses it: this is only courtesy).
import { createContext, useContext, type ReactNode } from "react";
import { api } from "@/lib/api/client";
import type { components } from "@/lib/api/schema";
import { useApi } from "@/lib/use-api";

export type Me = components["schemas"]["Me"];

const MeContext = createContext<Me | undefined>(undefined);

export function MeProvider({ children }: { children: ReactNode }) {
  const me = useApi<Me>(() => api.GET("/api/v1/me"), []);
  return <MeContext.Provider value={me.data}>{children}</MeContext.Provider>;
}

export function useMe(): Me | undefined {
  return useContext(MeContext);
}

// With a group: whether the caller may run `kind` on that group (a global binding, or one on the
// group). Without: whether it may run it somewhere, for screens that pick the group later (a form).
export function may(me: Me | undefined, kind: string, group?: string | null): boolean {
  if (!me) return false;
  if (!group) return me.allowed_kinds.includes(kind);
  return me.global_kinds.includes(kind) || Boolean(me.group_kinds[group]?.includes(kind));
}

// "admin", or "editor on retail, viewer" for group bindings.
export function roleLabel(me: Me): string {
  if (!me.roles.length) return "viewer";
  return me.roles.map((r) => (r.group ? `${r.role} on ${r.group}` : r.role)).join(", ");
}
