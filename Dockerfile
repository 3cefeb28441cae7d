# A small image: the static-ish release binary on distroless (glibc, no shell, non-root).
#
#   docker build -t scim-appliance .
#   docker run -d --name scim -p 8080:8080 -v scim-data:/data \
#       -e SCIM_PUBLIC_URL=https://scim.example.com scim-appliance
#   docker logs scim            # the one-time admin setup link
#   docker exec scim scim-appliance backup
#
# Settings come from SCIM_* variables (see `scim-appliance config show`); secrets from files
# mounted as Docker secrets, e.g. -e SCIM_ADMIN_PASSWORD_FILE=/run/secrets/admin_password.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && strip target/release/scim-appliance \
 && mkdir -p /out/data \
 && target/release/scim-appliance completions bash > /out/scim-appliance.bash \
 && target/release/scim-appliance manpage > /out/scim-appliance.1

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/scim-appliance /usr/local/bin/scim-appliance
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/scim-appliance.1 /usr/local/share/man/man1/scim-appliance.1
ENV SCIM_DATA_DIR=/data \
    SCIM_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
# SIGTERM (docker stop) finishes in-flight requests and checkpoints the WAL.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/scim-appliance", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/scim-appliance"]
CMD ["serve"]
