import path from "node:path";
import { fileURLToPath } from "node:url";

/** @type {import("next").NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  // `next dev` would otherwise write an AGENTS.md into the example's folder.
  agentRules: false,
  experimental: { agentUpgrade: false },
  // This folder is the app's root, with its own lockfile, even inside the service's repository.
  turbopack: { root: path.dirname(fileURLToPath(import.meta.url)) },
  async headers() {
    return [
      {
        // Cache-Control is Next.js's own: it overwrites one set here. A page that reads the
        // session is dynamic, and Next.js sends it with `no-store`.
        source: "/:path*",
        headers: [
          { key: "Referrer-Policy", value: "same-origin" },
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "X-Frame-Options", value: "DENY" },
        ],
      },
    ];
  },
};

export default nextConfig;
