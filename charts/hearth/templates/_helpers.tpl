{{/* Names, labels, images and the Redis connection shared by every template. */}}

{{- define "hearth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object's name: the release name, plus the chart name unless it holds it. */}}
{{- define "hearth.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hearth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: include "hearth.selectorLabels" (list $ "gateway"). */}}
{{- define "hearth.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "hearth.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "hearth.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "hearth.chart" $root }}
{{ include "hearth.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: hearth
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image of Hearth's: include "hearth.image" (list $ "gateway"). */}}
{{- define "hearth.image" -}}
{{- $root := index . 0 -}}
{{- $img := $root.Values.image -}}
{{- $tag := default $root.Chart.AppVersion $img.tag -}}
{{- $parts := list -}}
{{- with $img.registry }}{{ $parts = append $parts . }}{{ end -}}
{{- with $img.repository }}{{ $parts = append $parts . }}{{ end -}}
{{- $parts = append $parts (index . 1) -}}
{{- printf "%s:%s" (join "/" $parts) $tag -}}
{{- end -}}

{{- define "hearth.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (printf "%s-controller" (include "hearth.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hearth.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (printf "%s-gateway" (include "hearth.fullname" .)) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hearth.gateway.serviceName" -}}
{{- printf "%s-gateway" (include "hearth.fullname" .) -}}
{{- end -}}

{{/*
The one namespace whose Functions this release serves: watchNamespace, or the
release's own. The controller reconciles there and the gateway serves there,
so every Function the controller builds has a gateway behind its status.url.
*/}}
{{- define "hearth.functionNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}

{{/* The Secret holding the gateway's package signing key (templates/gateway/packages-secret.yaml). */}}
{{- define "hearth.packages.secretName" -}}
{{- printf "%s-gateway-packages" (include "hearth.fullname" .) -}}
{{- end -}}

{{/* The Secret holding credentials.yaml for the gateway. */}}
{{- define "hearth.gateway.authSecretName" -}}
{{- default (printf "%s-gateway-auth" (include "hearth.fullname" .)) .Values.gateway.auth.existingSecret -}}
{{- end -}}

{{/* Pod anti-affinity preset: include "hearth.affinity" (list $ "gateway" .Values.gateway). */}}
{{- define "hearth.affinity" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $v := index . 2 -}}
{{- if $v.affinity -}}
{{ toYaml $v.affinity }}
{{- else if eq $v.podAntiAffinity "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "hearth.selectorLabels" (list $root $component) | nindent 12 }}
{{- else if eq $v.podAntiAffinity "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "hearth.selectorLabels" (list $root $component) | nindent 10 }}
{{- end -}}
{{- end -}}

{{/* ---------------- Redis ---------------- */}}

{{- define "hearth.redis.fullname" -}}
{{- printf "%s-redis" (include "hearth.fullname" .) -}}
{{- end -}}

{{/* Whether the processes get a Redis password (REDIS_PASSWORD). */}}
{{- define "hearth.redis.hasPassword" -}}
{{- $a := .Values.redis.auth -}}
{{- if or $a.existingSecret $a.password (and (eq .Values.redis.mode "bundled") $a.enabled) -}}true{{- end -}}
{{- end -}}

{{- define "hearth.redis.secretName" -}}
{{- default (include "hearth.redis.fullname" .) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{- define "hearth.redis.secretKey" -}}
{{- if .Values.redis.auth.existingSecret -}}
{{- .Values.redis.auth.existingSecretPasswordKey -}}
{{- else -}}
redis-password
{{- end -}}
{{- end -}}

{{/* The URL of a bundled or external Redis, without a password. */}}
{{- define "hearth.redis.url" -}}
{{- if eq .Values.redis.mode "bundled" -}}
{{- printf "redis://%s.%s.svc:6379" (include "hearth.redis.fullname" .) .Release.Namespace -}}
{{- else if eq .Values.redis.mode "external" -}}
{{- .Values.redis.external.url -}}
{{- end -}}
{{- end -}}

{{/*
The REDIS_* environment of the gateway and the controller, the same in every
redis.mode (see src/queue/index.ts redisConnectionFrom): the gateway queues
in that Redis and the controller's finalizer deletes a Function's keys there.
*/}}
{{- define "hearth.redis.env" -}}
{{- $r := .Values.redis -}}
{{- if include "hearth.redis.hasPassword" . }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "hearth.redis.secretName" . }}
      key: {{ include "hearth.redis.secretKey" . }}
{{- end }}
{{- if or (eq $r.mode "bundled") (eq $r.mode "external") }}
- name: REDIS_URL
  value: {{ include "hearth.redis.url" . | quote }}
{{- else if eq $r.mode "sentinel" }}
- name: REDIS_SENTINELS
  value: {{ join "," $r.sentinel.nodes | quote }}
- name: REDIS_SENTINEL_NAME
  value: {{ $r.sentinel.masterName | quote }}
{{- else if eq $r.mode "cluster" }}
- name: REDIS_CLUSTER_NODES
  value: {{ join "," $r.cluster.nodes | quote }}
{{- end }}
{{- if and $r.tls (ne $r.mode "bundled") }}
- name: REDIS_TLS
  value: "true"
{{- end }}
{{- end -}}

{{/* Checks the schema cannot express. */}}
{{- define "hearth.validate" -}}
{{- $r := .Values.redis -}}
{{- if and (eq $r.mode "external") (not $r.external.url) -}}
{{- fail "redis.mode external needs redis.external.url" -}}
{{- end -}}
{{- if and (eq $r.mode "sentinel") (not $r.sentinel.nodes) -}}
{{- fail "redis.mode sentinel needs redis.sentinel.nodes" -}}
{{- end -}}
{{- if and (eq $r.mode "cluster") (not $r.cluster.nodes) -}}
{{- fail "redis.mode cluster needs redis.cluster.nodes" -}}
{{- end -}}
{{- end -}}

{{/*
The API keys file the chart writes when it generates the key: one key,
sent by callers as `Authorization: Bearer KEY` (as `hearth invoke --api-key`
does), allowed every function and every Lambda action (invoking and, with
managementApi.enabled, managing them). The single place to change if
src/gateway/auth/credentials.ts settles on another shape.
*/}}
{{- define "hearth.gateway.generatedCredentials" -}}
# Generated by the hearth chart; replace with gateway.auth.existingSecret or gateway.auth.credentials.
# Format: see "Authentication" in Hearth's README.
callers:
  - name: default
    apiKey: {{ .key | quote }}
    functions: ["*"]
    actions: ["lambda:*"]
{{- end -}}


{{/* OpenTelemetry's variables for every Hearth process when tracing.otlpEndpoint is set (README: Tracing); the controller hands them on to the agents it runs. */}}
{{- define "hearth.tracing.env" -}}
{{- $t := .Values.tracing | default dict -}}
{{- if $t.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.otlpEndpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $t.sampler | default "parentbased_always_on" | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplerRatio | default "1" | quote }}
{{- end }}
{{- end -}}
