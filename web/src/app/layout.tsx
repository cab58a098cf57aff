import type { Metadata } from "next";
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

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body className="min-h-screen bg-white font-sans text-sm text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
        {children}
      </body>
    </html>
  );
}
