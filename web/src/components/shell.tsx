"use client";
// The frame around every signed-in screen: navigation, theme switch, sign-out.
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect, useState, useSyncExternalStore, type ReactNode } from "react";
import { clearToken, getToken, signInHref } from "@/lib/auth";
import { MeProvider, roleLabel, useMe } from "@/lib/me";

const NAV = [
  ["/", "Overview"],
  ["/sources", "Sources"],
  ["/groups", "Groups & schedules"],
  ["/dq", "Data quality"],
  ["/runs", "Runs"],
  ["/sync", "Sync"],
  ["/chat", "Chat console"],
  ["/audit", "Audit"],
] as const;

const subscribe = () => () => {};

export function Shell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const router = useRouter();
  const token = useSyncExternalStore(subscribe, getToken, () => null);
  const hydrated = useSyncExternalStore(subscribe, () => true, () => false);
  // Rendered only after hydration (see below), so reading the document here is safe.
  const [dark, setDark] = useState(() => typeof document !== "undefined" && document.documentElement.classList.contains("dark"));

  useEffect(() => {
    if (hydrated && !token) router.replace(signInHref());
  }, [hydrated, token, pathname, router]);

  const toggleTheme = () => {
    const next = !dark;
    document.documentElement.classList.toggle("dark", next);
    document.documentElement.classList.toggle("light", !next);
    localStorage.setItem("lakeforge.theme", next ? "dark" : "light");
    setDark(next);
  };

  if (!hydrated || !token) return null;
  const active = (href: string) => (href === "/" ? pathname === "/" : pathname.startsWith(href));
  return (
    <MeProvider>
      <div className="flex min-h-screen">
        <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:p-2">Skip to content</a>
        <nav aria-label="Main" className="w-52 shrink-0 border-r border-zinc-200 bg-zinc-50 p-3 dark:border-zinc-800 dark:bg-zinc-900">
          <div className="mb-4 px-2 text-base font-semibold tracking-tight">LakeForge</div>
          <ul className="space-y-0.5">
            {NAV.map(([href, label]) => (
              <li key={href}>
                <Link
                  href={href}
                  aria-current={active(href) ? "page" : undefined}
                  className="block rounded px-2 py-1.5 hover:bg-zinc-200 aria-[current=page]:bg-sky-100 aria-[current=page]:text-sky-900 dark:hover:bg-zinc-800 dark:aria-[current=page]:bg-sky-950 dark:aria-[current=page]:text-sky-200"
                >
                  {label}
                </Link>
              </li>
            ))}
          </ul>
          <div className="mt-6 space-y-1 border-t border-zinc-200 pt-3 text-xs dark:border-zinc-800">
            <button type="button" onClick={toggleTheme} className="block w-full rounded px-2 py-1 text-left hover:bg-zinc-200 dark:hover:bg-zinc-800">
              {dark ? "Light theme" : "Dark theme"}
            </button>
            <button
              type="button"
              onClick={() => {
                clearToken();
                router.replace("/signin");
              }}
              className="block w-full rounded px-2 py-1 text-left hover:bg-zinc-200 dark:hover:bg-zinc-800"
            >
              Sign out
            </button>
          </div>
        </nav>
        <div className="min-w-0 flex-1">
          <header className="flex justify-end border-b border-zinc-200 px-6 py-2 text-xs text-zinc-600 dark:border-zinc-800 dark:text-zinc-400">
            <WhoAmI />
          </header>
          <main id="main" className="p-6">{children}</main>
        </div>
      </div>
    </MeProvider>
  );
}

function WhoAmI() {
  const me = useMe();
  if (!me) return <span aria-hidden="true">&nbsp;</span>;
  return (
    <span data-testid="whoami">
      Signed in as <strong className="font-medium text-zinc-900 dark:text-zinc-100">{me.user}</strong> · {roleLabel(me)}
    </span>
  );
}
