# rotator: one image, several roles (scheduler, worker, dashboard), chosen with `rotator run --role`.
# Build:  docker build -t rotator .
# Run:    see docker-compose.yml and README.md ("Running in a container").

# ---- build stage: compile TypeScript to dist/ ----------------------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime stage: production dependencies and compiled code only --------------------------------
FROM node:22-bookworm-slim AS runtime
# MALLOC_MMAP_THRESHOLD_: buffers of 64 KiB and more (HTTP bodies, Redis replies, vault journal
# records) are mapped and unmapped by glibc instead of coming from its main heap, which gives memory
# back only from its top; MALLOC_TRIM_THRESHOLD_: that top is given back once 64 KiB of it is free
# (glibc's defaults start at 128 KiB and climb, up to 32 MiB, as large buffers are freed). On the
# 100k-server bench (npm run bench starts the service with these; Node 20 on the bench host) the worker
# peaked about 50 MB lower with 262144 than without; 65536 for both then gave 326, 322, 329 MiB against
# 340, 337, 358 MiB with 262144 alone, at the same CPU time (README "Memory").
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=65536 \
    MALLOC_TRIM_THRESHOLD_=65536 \
    ROTATOR_CONFIG=/etc/rotator/config.yaml \
    ROTATOR_JOBS_DIR=/etc/rotator/jobs
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
COPY jobs ./jobs
# Defaults an operator replaces by mounting their own files over /etc/rotator.
RUN mkdir -p /etc/rotator/jobs /var/lib/rotator \
 && cp config/examples/container.yaml /etc/rotator/config.yaml \
 && cp jobs/*.yaml /etc/rotator/jobs/ \
 && chown -R node:node /var/lib/rotator
# The file vault and its key live here: mount a volume and BACK IT UP (losing the key loses every password).
VOLUME ["/var/lib/rotator"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form so that SIGTERM reaches node and the graceful shutdown runs.
ENTRYPOINT ["node", "bin/rotator.js"]
CMD ["run"]
