import type { Metadata } from "next";
import { connection } from "next/server";
import "./globals.css";

export const metadata: Metadata = {
  title: "LakeForge",
  description: "Register sources, author configs, review quality rules and monitor runs.",
};

// Applies the saved or system colour scheme before first paint, so dark mode never flashes.
const themeScript = `(() => { try {
  const saved = localStorage.getItem("lakeforge.theme");
  const dark = saved ? saved === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.classList.add(dark ? "dark" : "light");
} catch {} })();`;

// Where the browser sends API calls, read per request so one build serves any deployment:
// PANEL_BROWSER_API_URL (the API itself, which must allow this origin in LAKEFORGE_API_CORS_ORIGINS)
// or, when unset, the panel's own /api/v1 proxy to PANEL_API_URL.
async function browserApiBase(): Promise<string> {
  await connection();
  return (process.env.PANEL_BROWSER_API_URL ?? "").replace(/\/+$/, "");
}

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const apiBase = await browserApiBase();
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: `window.__LAKEFORGE_API__ = ${JSON.stringify(apiBase)};${themeScript}` }} />
      </head>
      <body className="min-h-screen bg-white font-sans text-sm text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
        {children}
      </body>
    </html>
  );
}
