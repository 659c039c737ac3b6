# Tollgate container image.
#
# Node: the image's own Node 24 runs the service. The `node` devDependency (which pins the Node
# binary for development and CI) is a dev-only package whose install script downloads a Node
# build; it is neither needed nor wanted here, so dev dependencies are omitted and install
# scripts are skipped. --ignore-scripts is safe: no runtime dependency needs an install script
# (@node-rs/argon2 ships its binary as a per-platform optional dependency, PGlite is WebAssembly,
# pg is pure JavaScript). Node 24 strips erasable TypeScript natively, so there is no build step:
# the image runs `node src/main.ts`.
#
FROM node:24-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so editing the source does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Source (what .dockerignore leaves: src, migrations, policies, bin…), owned by root and read-only
# to the service user.
COPY . .

# The embedded database's template (node_modules/.cache/tollgate, readable by the service user):
# a new DATA_DIR is a copy of it, not an initdb (the install script that makes it was skipped).
RUN node bin/prepare-cache.js

# `tollgate` on PATH: `docker compose exec tollgate tollgate …` and the one-shot migrate
# service (command `tollgate migrate`). The link resolves to /app/bin, whose imports find /app/src.
RUN chmod 0755 /app/bin/tollgate.js && ln -s /app/bin/tollgate.js /usr/local/bin/tollgate

# DATA_DIR: admin.json and, without DATABASE_URL, the embedded database. Created here and owned
# by the service user, so a fresh named volume mounted on it inherits that owner. Absolute, so
# the command-line tool finds admin.json from any working directory of an exec.
ENV DATA_DIR=/app/data
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]

# The image's unprivileged `node` user (uid 1000).
USER node

EXPOSE 3000

# slim images carry neither curl nor wget; Node's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself; src/main.ts shuts down gracefully on it.
CMD ["node", "--max-semi-space-size=16", "src/main.ts"]
