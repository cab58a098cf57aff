import type { NextConfig } from "next";

// The panel talks to the REST API through its own /api/v1 route (src/app/api/v1/[...path]),
// so the browser stays same-origin and the API address is read at run time, not build time.
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typedRoutes: false,
};

export default config;
