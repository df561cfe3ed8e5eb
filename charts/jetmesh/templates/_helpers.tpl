{{/* Names, labels and the pieces every workload shares. */}}

{{- define "jetmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetmesh.fullname" -}}
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

{{/* Common labels; workloads add "jetmesh.selectorLabels" (name, instance) beside them. */}}
{{- define "jetmesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: jetmesh
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "order"). */}}
{{- define "jetmesh.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/* Image reference; call with (dict "ctx" $ "image" .Values.operator.image). */}}
{{- define "jetmesh.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s%s:%s" .ctx.Values.image.registry .image.repository $tag -}}
{{- end -}}

{{- define "jetmesh.natsUrl" -}}
{{- if .Values.natsConnection.url -}}
{{- .Values.natsConnection.url -}}
{{- else if .Values.nats.enabled -}}
{{- printf "nats://%s-nats.%s.svc:4222" .Release.Name .Release.Namespace -}}
{{- else -}}
{{- fail "natsConnection.url is required when nats.enabled is false" -}}
{{- end -}}
{{- end -}}

{{/* The NATS credential of one component: its own override (operator.natsAuth,
     services.<svc>.natsAuth) or the shared natsConnection.auth. Returns the values path it
     came from, so a missing Secret name is reported at the key the user must set. */}}
{{- define "jetmesh.natsAuthPath" -}}
{{- if .auth -}}{{ .path }}{{- else -}}natsConnection.auth{{- end -}}
{{- end -}}

{{/* NATS env (docs/contracts.md): URL, then credentials and TLS as mounted files.
     Call with (dict "ctx" $ "auth" <override or null> "path" "<values path of the override>"). */}}
{{- define "jetmesh.natsEnv" -}}
{{- $where := include "jetmesh.natsAuthPath" . }}
{{- $ctx := .ctx }}
- name: NATS_URL
  value: {{ include "jetmesh.natsUrl" $ctx | quote }}
{{- with (.auth | default $ctx.Values.natsConnection.auth) }}
{{- if eq .type "userPassword" }}
- name: NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "%s.secretName is required for userPassword auth" $where) .secretName }}
      key: {{ .userKey | default "user" }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .passwordKey | default "password" }}
{{- else if eq .type "creds" }}
- name: NATS_CREDS_FILE
  value: /etc/jetmesh/nats-auth/{{ .credsKey | default "nats.creds" }}
{{- else if eq .type "nkey" }}
- name: NATS_NKEY_SEED_FILE
  value: /etc/jetmesh/nats-auth/{{ .nkeySeedKey | default "nkey.seed" }}
{{- end }}
{{- end }}
{{- with $ctx.Values.natsConnection.tls }}
{{- if .enabled }}
- name: NATS_TLS_CA_FILE
  value: /etc/jetmesh/nats-tls/{{ .caKey }}
- name: NATS_TLS_CERT_FILE
  value: /etc/jetmesh/nats-tls/{{ .certKey }}
- name: NATS_TLS_KEY_FILE
  value: /etc/jetmesh/nats-tls/{{ .keyKey }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes every pod has: /tmp (the root filesystem is read-only) and NATS secrets.
     Same arguments as "jetmesh.natsEnv". */}}
{{- define "jetmesh.volumes" -}}
{{- $where := include "jetmesh.natsAuthPath" . }}
{{- $ctx := .ctx }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with (.auth | default $ctx.Values.natsConnection.auth) }}
{{- if or (eq .type "creds") (eq .type "nkey") }}
- name: nats-auth
  secret:
    secretName: {{ required (printf "%s.secretName is required for creds/nkey auth" $where) .secretName }}
    defaultMode: 0400
{{- end }}
{{- end }}
{{- with $ctx.Values.natsConnection.tls }}
{{- if .enabled }}
- name: nats-tls
  secret:
    secretName: {{ required "natsConnection.tls.secretName is required when TLS is enabled" .secretName }}
    defaultMode: 0400
{{- end }}
{{- end }}
{{- end -}}

{{- define "jetmesh.volumeMounts" -}}
{{- $ctx := .ctx }}
- name: tmp
  mountPath: /tmp
{{- with (.auth | default $ctx.Values.natsConnection.auth) }}
{{- if or (eq .type "creds") (eq .type "nkey") }}
- name: nats-auth
  mountPath: /etc/jetmesh/nats-auth
  readOnly: true
{{- end }}
{{- end }}
{{- if $ctx.Values.natsConnection.tls.enabled }}
- name: nats-tls
  mountPath: /etc/jetmesh/nats-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* HTTP probes on the component's port: liveness /healthz, readiness /readyz. */}}
{{- define "jetmesh.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}
