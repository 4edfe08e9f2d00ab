# Prometheus from Debian's packages, for compose's "prometheus" profile (context: deploy/).
# Built from the same base image as mcrelay, so it needs no image registry either. (Grafana has
# no Debian package, so there is no Grafana image here: import deploy/grafana/mcrelay.json into
# a Grafana of your own.)
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
LABEL org.mcrelay.stage=prometheus
ENV DEBIAN_FRONTEND=noninteractive
# policy-rc.d: the package must not try to start its service while the image is built.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
 && install -d -o 65534 -g 65534 -m 0700 /prometheus
COPY prometheus/prometheus.yml prometheus/alerts.yml /etc/prometheus/
COPY prometheus-entrypoint.sh /usr/local/bin/prometheus-entrypoint.sh
# uid 65534: the API's generated token (api-data, 0600) belongs to it.
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/prometheus-entrypoint.sh"]
