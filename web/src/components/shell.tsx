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
  const [menuOpen, setMenuOpen] = useState(false);

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
      <div className="min-h-screen md:flex">
        <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:p-2">Skip to content</a>
        {/* A sidebar from md up; on a phone a bar on top whose Menu button opens the same links. */}
        <nav aria-label="Main" className="shrink-0 border-b border-zinc-200 bg-zinc-50 p-3 md:w-52 md:border-r md:border-b-0 dark:border-zinc-800 dark:bg-zinc-900">
          <div className="flex items-center justify-between md:mb-4">
            <div className="px-2 text-base font-semibold tracking-tight">LakeForge</div>
            <button type="button" onClick={() => setMenuOpen(!menuOpen)} aria-expanded={menuOpen} aria-controls="main-menu" className="rounded border border-zinc-300 px-2 py-1 text-xs font-medium md:hidden dark:border-zinc-700">
              Menu
            </button>
          </div>
          <div id="main-menu" className={`${menuOpen ? "block" : "hidden"} mt-3 md:mt-0 md:block`}>
            <ul className="space-y-0.5">
              {NAV.map(([href, label]) => (
                <li key={href}>
                  <Link
                    href={href}
                    onClick={() => setMenuOpen(false)}
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
          </div>
        </nav>
        <div className="min-w-0 flex-1">
          <header className="flex justify-end border-b border-zinc-200 px-4 py-2 md:px-6 text-xs text-zinc-600 dark:border-zinc-800 dark:text-zinc-400">
            <WhoAmI />
          </header>
          <main id="main" className="p-4 md:p-6">{children}</main>
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
