import { defineConfig } from "vitest/config"

/** Shared vitest settings: resolve workspace packages to their TypeScript sources. */
export default defineConfig({
  resolve: { conditions: ["@speckit/source"] },
  ssr: { resolve: { conditions: ["@speckit/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
