{{/*
Names. fullname is the prefix of every object: the release name, and the chart name unless
the release name already holds it; at most 63 characters, as DNS labels allow. Component names
add a suffix, so keep the prefix under 52 characters.
*/}}
{{- define "doip-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "doip-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "doip-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of a component's objects: fullname-gateway, fullname-retrieve, fullname-invoke. */}}
{{- define "doip-gateway.component" -}}
{{- printf "%s-%s" (include "doip-gateway.fullname" .root) .component }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "doip-gateway.labels" -}}
helm.sh/chart: {{ include "doip-gateway.chart" .root }}
{{ include "doip-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: doip-gateway
{{- end }}

{{/* Selector labels of a component: they pick its pods, and nothing else. */}}
{{- define "doip-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "doip-gateway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "doip-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "doip-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image of a component: registry/repository:tag, the tag pinned (appVersion by default). */}}
{{- define "doip-gateway.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if eq $tag "latest" }}
{{- fail (printf "%s: image tag latest is not allowed; pin a version" .image.repository) }}
{{- end }}
{{- if .root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The gRPC targets the clients dial. invoke-svc is always headless and dialled as
dns:///name:port, so the gateway balances over every worker; retrieve-svc only when
retrieve.headless is set (else one connection through the ClusterIP at a time). */}}
{{- define "doip-gateway.retrieveAddr" -}}
{{- $host := include "doip-gateway.component" (dict "root" . "component" "retrieve") }}
{{- if .Values.retrieve.headless }}
{{- printf "dns:///%s:%v" $host .Values.retrieve.grpcPort }}
{{- else }}
{{- printf "%s:%v" $host .Values.retrieve.grpcPort }}
{{- end }}
{{- end }}

{{- define "doip-gateway.invokeAddr" -}}
{{- printf "dns:///%s:%v" (include "doip-gateway.component" (dict "root" . "component" "invoke")) .Values.invoke.grpcPort }}
{{- end }}

{{/* The Secret with the internal certificate. */}}
{{- define "doip-gateway.mtlsSecret" -}}
{{- if .Values.mtls.secretName }}
{{- .Values.mtls.secretName }}
{{- else if .Values.mtls.certManager.enabled }}
{{- printf "%s-grpc-tls" (include "doip-gateway.fullname" .) }}
{{- else }}
{{- fail "mtls.enabled needs mtls.secretName, or mtls.certManager.enabled to have one issued" }}
{{- end }}
{{- end }}

{{/* The internal TLS environment of every process: the mounted Secret's files. */}}
{{- define "doip-gateway.mtlsEnv" -}}
{{- if .Values.mtls.enabled -}}
- name: GRPC_TLS_CERT
  value: /etc/doip/grpc-tls/tls.crt
- name: GRPC_TLS_KEY
  value: /etc/doip/grpc-tls/tls.key
- name: GRPC_TLS_CA
  value: /etc/doip/grpc-tls/ca.crt
{{- end }}
{{- end }}

{{- define "doip-gateway.mtlsVolumeMount" -}}
{{- if .Values.mtls.enabled -}}
- name: grpc-tls
  mountPath: /etc/doip/grpc-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "doip-gateway.mtlsVolume" -}}
{{- if .Values.mtls.enabled -}}
- name: grpc-tls
  secret:
    secretName: {{ include "doip-gateway.mtlsSecret" . }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/* What every pod spec shares: service account, security context, pull secrets, a soft spread over nodes. */}}
{{- define "doip-gateway.podCommon" -}}
serviceAccountName: {{ include "doip-gateway.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: {{ .root.Values.topologySpread.topologyKey }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "doip-gateway.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end }}

{{/* Probes on the admin port: /healthz (the process runs) and /readyz (it takes traffic; not while it drains). */}}
{{- define "doip-gateway.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: admin
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 2
  timeoutSeconds: 5
  failureThreshold: 30
{{- end }}

{{/* A preStop sleep: the pod serves on while endpoints and load balancers let go of it. */}}
{{- define "doip-gateway.lifecycle" -}}
{{- if gt (int .preStopSleepSeconds) 0 -}}
lifecycle:
  preStop:
    sleep:
      seconds: {{ int .preStopSleepSeconds }}
{{- end }}
{{- end }}
