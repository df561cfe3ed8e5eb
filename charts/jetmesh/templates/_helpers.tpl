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

{{/* Name of one component's objects (Deployment, Service, PDB, NetworkPolicy, ServiceMonitor):
     the release fullname, then the component, so two releases in one namespace, or another
     team's `order`, never collide. Call with (dict "ctx" $ "component" "order"). */}}
{{- define "jetmesh.componentName" -}}
{{- printf "%s-%s" (include "jetmesh.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
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

{{/* Image reference; call with (dict "ctx" $ "image" .Values.operator.image). A digest
     (sha256:...) pins the image and wins over any tag. */}}
{{- define "jetmesh.image" -}}
{{- if .image.digest -}}
{{- printf "%s%s@%s" .ctx.Values.image.registry .image.repository .image.digest -}}
{{- else -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s%s:%s" .ctx.Values.image.registry .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The operator's ServiceAccount: the chart's (<fullname>-operator unless named), or an
     existing one (serviceAccount.create false: `name`, else the namespace's `default`). */}}
{{- define "jetmesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (printf "%s-operator" (include "jetmesh.fullname" .)) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Pod scheduling fields a component shares: priorityClassName and topologySpreadConstraints,
     each constraint without a labelSelector spreading the component's own pods. Call with
     (dict "ctx" $ "component" <name> "priorityClassName" <string> "constraints" <list>). */}}
{{- define "jetmesh.podScheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- if .constraints }}
{{- $selector := include "jetmesh.selectorLabels" (dict "ctx" .ctx "component" .component) | fromYaml }}
{{- $list := list }}
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $selector) }}
{{- end }}
{{- $list = append $list $c }}
{{- end }}
topologySpreadConstraints:
  {{- toYaml $list | nindent 2 }}
{{- end }}
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

{{/* NATS env (docs/contracts.md): URL, then credentials and TLS as mounted files. Call with
     (dict "ctx" $ "component" <name> "auth" <override or null> "path" "<values path of the override>"). */}}
{{- define "jetmesh.natsEnv" -}}
{{- $where := include "jetmesh.natsAuthPath" . }}
{{- $ctx := .ctx }}
- name: NATS_URL
  value: {{ include "jetmesh.natsUrl" $ctx | quote }}
{{- with (include "jetmesh.effectiveNatsAuth" . | fromYaml) }}
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
{{- with (include "jetmesh.effectiveNatsAuth" . | fromYaml) }}
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
{{- with (include "jetmesh.effectiveNatsAuth" . | fromYaml) }}
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

{{/* The Secret holding the order API's bearer token (key services.order.apiToken.secretKey). */}}
{{- define "jetmesh.orderApiTokenSecret" -}}
{{- .Values.services.order.apiToken.existingSecret | default (printf "%s-order-api-token" (include "jetmesh.fullname" .)) -}}
{{- end -}}

{{/* Non-empty when the chart generates per-component NATS users for the bundled NATS. */}}
{{- define "jetmesh.generatedNatsAuth" -}}
{{- if and .Values.nats.enabled (.Values.nats.jetmeshAuth | default dict).enabled }}true{{ end -}}
{{- end -}}

{{/* The generated NATS users: one per component, `admin` for jetmesh verify / dlq, and the HTTP
     edge's declared under nats.jetmeshAuth (`ingress`, `dispatcher-<subscription>`). Call with
     (dict "auth" <nats.jetmeshAuth>): the subchart sees it as .Values.jetmeshAuth. */}}
{{- define "jetmesh.natsUsers" -}}
{{- $users := list "operator" "order" "inventory" "payment" "shipping" "admin" }}
{{- range (include "jetmesh.edgeNatsUsers" (dict "auth" .auth "namespace" "") | fromYamlArray) }}
{{- $users = append $users .user }}
{{- end }}
{{- toJson $users }}
{{- end -}}

{{/* The env variable of a generated user's password in the NATS server's config. */}}
{{- define "jetmesh.natsPasswordVar" -}}
{{- printf "NATS_PASSWORD_%s" (. | replace "-" "_" | replace "." "_" | upper) -}}
{{- end -}}

{{/* The HTTP edge's least-privilege NATS users (docs/http.md#nats-users), a list of {user,
     permissions}: `ingress` when nats.jetmeshAuth.ingress.types is set, and
     `dispatcher-<subscription>` per nats.jetmeshAuth.dispatchers entry. They are declared under
     nats.jetmeshAuth because the bundled NATS, a subchart, sees only its own values; the edge's
     templates refuse a Deployment whose user is missing or differs from its subscription.
     Call with (dict "auth" <nats.jetmeshAuth> "namespace" <release namespace>). */}}
{{- define "jetmesh.edgeNatsUsers" -}}
{{- $ns := .namespace }}
{{- $users := list }}
{{- with ((.auth | default dict).ingress | default dict).types }}
{{- $users = append $users (dict "user" "ingress" "permissions" (include "jetmesh.ingressNatsPermissions" (dict "types" .) | fromYaml)) }}
{{- end }}
{{- range $name, $d := (.auth | default dict).dispatchers | default dict }}
{{- $id := dict "produces" ($d.replyTypes | default list) "stream" (printf "%s_%s" $ns $d.stream) "consumer" (printf "%s_%s" $ns $name) "deadLetterSubject" (printf "jetmesh.dlq.%s.%s" $ns $name) "bucket" "" }}
{{- $users = append $users (dict "user" (printf "dispatcher-%s" $name) "permissions" (include "jetmesh.serviceNatsPermissions" $id | fromYaml)) }}
{{- end }}
{{- toYaml $users }}
{{- end -}}

{{/* Name of a generated NATS credential Secret; call with (dict "release" <name> "component" <c>).
     Only the release name: the NATS subchart's config refers to it from its own context. */}}
{{- define "jetmesh.generatedNatsSecret" -}}
{{- printf "%s-nats-auth-%s" .release .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The NATS credential a component uses: its own (natsAuth), else the shared one
     (natsConnection.auth), else the generated user when the bundled NATS has them. */}}
{{- define "jetmesh.effectiveNatsAuth" -}}
{{- $ctx := .ctx }}
{{- $auth := .auth | default $ctx.Values.natsConnection.auth }}
{{- if and (eq ($auth.type | default "none") "none") (include "jetmesh.generatedNatsAuth" $ctx) }}
{{- $auth = dict "type" "userPassword" "secretName" (include "jetmesh.generatedNatsSecret" (dict "release" $ctx.Release.Name "component" .component)) "userKey" "user" "passwordKey" "password" }}
{{- end }}
{{- toYaml $auth }}
{{- end -}}

{{- /* The NATS subchart's `authorization` block for the generated users, included from the
     subchart's own values (nats.config.merge, $tplYamlSpread) with (dict "enabled"
     <nats.jetmeshAuth.enabled> "auth" <nats.jetmeshAuth> "namespace" <release namespace>).
     Permissions as computed by services/shop-tools/src/nats-permissions.ts (servicePermissions,
     ingressPermissions; charts/jetmesh/test/edge-nats.test.ts compares them) and
     nats-authorization-cli.ts (operatorPermissions); passwords are the
     server's env variables (nats.container.env), never in the config. The shop's stream is
     <namespace>_events (shop.streams.events). */}}
{{- define "jetmesh.natsServerAuthorization" -}}
{{- if .enabled }}
{{- $ns := .namespace }}
{{- $users := list }}
{{- $users = append $users (dict "user" "operator" "password" "<< $NATS_PASSWORD_OPERATOR >>" "permissions" (include "jetmesh.operatorNatsPermissions" dict | fromYaml)) }}
{{- $produces := dict
      "order" (list "shop.order.placed.v1" "shop.order.confirmed.v1" "shop.order.cancelled.v1")
      "inventory" (list "shop.inventory.reserved.v1" "shop.inventory.rejected.v1")
      "payment" (list "shop.payment.authorized.v1" "shop.payment.declined.v1")
      "shipping" (list "shop.shipment.dispatched.v1") }}
{{- $buckets := dict "order" "shop_orders" "inventory" "shop_stock" "payment" "shop_payments" "shipping" "shop_shipments" }}
{{- range $svc := list "order" "inventory" "payment" "shipping" }}
{{- $id := dict "produces" (index $produces $svc) "stream" (printf "%s_events" $ns) "consumer" (printf "%s_%s" $ns $svc) "deadLetterSubject" (printf "jetmesh.dlq.%s.%s" $ns $svc) "bucket" (index $buckets $svc) }}
{{- $users = append $users (dict "user" $svc "password" (printf "<< $NATS_PASSWORD_%s >>" (upper $svc)) "permissions" (include "jetmesh.serviceNatsPermissions" $id | fromYaml)) }}
{{- end }}
{{- range (include "jetmesh.edgeNatsUsers" (dict "auth" .auth "namespace" $ns) | fromYamlArray) }}
{{- $users = append $users (dict "user" .user "password" (printf "<< $%s >>" (include "jetmesh.natsPasswordVar" .user)) "permissions" .permissions) }}
{{- end }}
{{- /* Full access for the people and tools that inspect everything (jetmesh verify, dlq). */}}
{{- $users = append $users (dict "user" "admin" "password" "<< $NATS_PASSWORD_ADMIN >>") }}
authorization:
  users:
    {{- toYaml $users | nindent 4 }}
{{- else -}}
{}
{{- end }}
{{- end -}}

{{/* The NATS server's env: each generated user's password from its Secret. Included from
     nats.container.env with (dict "enabled" <nats.jetmeshAuth.enabled> "auth" <nats.jetmeshAuth>
     "release" <release name>). */}}
{{- define "jetmesh.natsServerPasswordEnv" -}}
{{- if .enabled }}
{{- range $c := include "jetmesh.natsUsers" (dict "auth" .auth) | fromYamlArray }}
{{ include "jetmesh.natsPasswordVar" $c }}:
  valueFrom:
    secretKeyRef:
      name: {{ include "jetmesh.generatedNatsSecret" (dict "release" $.release "component" $c) }}
      key: password
{{- end }}
{{- else -}}
{}
{{- end }}
{{- end -}}

{{/* servicePermissions() of services/shop-tools/src/nats-permissions.ts for one mesh subscriber
     (a shop service, or a dispatcher: produces = its reply types, no bucket). Call with (dict
     "produces" <types> "stream" "consumer" "deadLetterSubject" "bucket" <its KV bucket or "">). */}}
{{- define "jetmesh.serviceNatsPermissions" -}}
{{- $pub := concat .produces (list .deadLetterSubject "$JS.API.INFO"
      (printf "$JS.API.CONSUMER.INFO.%s.%s" .stream .consumer)
      (printf "$JS.API.CONSUMER.MSG.NEXT.%s.%s" .stream .consumer)
      (printf "$JS.ACK.%s.%s.>" .stream .consumer)
      "$JS.API.STREAM.INFO.KV_jetmesh-circuits" "$JS.API.STREAM.CREATE.KV_jetmesh-circuits"
      (printf "$KV.jetmesh-circuits.%s.>" .consumer)
      "$JS.API.STREAM.INFO.KV_jetmesh-failures" "$JS.API.STREAM.CREATE.KV_jetmesh-failures"
      (printf "$KV.jetmesh-failures.%s.>" .consumer)) }}
{{- if .bucket }}
{{- $kv := printf "KV_%s" .bucket }}
{{- $pub = concat $pub (list
      (printf "$JS.API.STREAM.INFO.%s" $kv) (printf "$JS.API.STREAM.CREATE.%s" $kv)
      (printf "$JS.API.STREAM.UPDATE.%s" $kv) (printf "$JS.API.STREAM.MSG.GET.%s" $kv)
      (printf "$JS.API.DIRECT.GET.%s" $kv) (printf "$JS.API.DIRECT.GET.%s.>" $kv)
      (printf "$JS.API.CONSUMER.CREATE.%s" $kv) (printf "$JS.API.CONSUMER.CREATE.%s.>" $kv)
      (printf "$JS.API.CONSUMER.DELETE.%s.>" $kv)
      (printf "$KV.%s.>" .bucket)) }}
{{- end }}
publish:
  allow: {{ $pub | uniq | sortAlpha | toJson }}
subscribe:
  allow: ["_INBOX.>"]
{{- end -}}

{{/* ingressPermissions() of services/shop-tools/src/nats-permissions.ts: the jetmesh-ingress
     publishes the event types it accepts (JetStream publish: a request answered on its inbox),
     asks for the account info once, and the stream names when a publish fails (to tell "no
     stream captures the type" from "NATS unavailable"). Call with (dict "types" <list>). */}}
{{- define "jetmesh.ingressNatsPermissions" -}}
{{- $pub := concat .types (list "$JS.API.INFO" "$JS.API.STREAM.NAMES") }}
publish:
  allow: {{ $pub | uniq | sortAlpha | toJson }}
subscribe:
  allow: ["_INBOX.>"]
{{- end -}}

{{/* operatorPermissions() of testing/src/security/nats-authorization-cli.ts. */}}
{{- define "jetmesh.operatorNatsPermissions" -}}
publish:
  allow:
    - "$JS.API.INFO"
    - "$JS.API.STREAM.CREATE.*"
    - "$JS.API.STREAM.UPDATE.*"
    - "$JS.API.STREAM.INFO.*"
    - "$JS.API.STREAM.DELETE.*"
    - "$JS.API.STREAM.LIST"
    - "$JS.API.STREAM.NAMES"
    - "$JS.API.CONSUMER.CREATE.*"
    - "$JS.API.CONSUMER.CREATE.*.>"
    - "$JS.API.CONSUMER.DURABLE.CREATE.*.*"
    - "$JS.API.CONSUMER.INFO.*.*"
    - "$JS.API.CONSUMER.DELETE.*.*"
    - "$JS.API.CONSUMER.LIST.*"
    - "$JS.API.CONSUMER.NAMES.*"
    - "$JS.API.CONSUMER.PAUSE.*.*"
    - "$JS.API.STREAM.MSG.GET.*"
    - "jetmesh.dlq.>"
subscribe:
  allow: ["_INBOX.>", "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"]
{{- end -}}

{{/* OpenTelemetry env (docs/monitoring.md#traces), nothing without tracing.otlpEndpoint.
     Call with (dict "ctx" $ "component" <name>): the component is the span's service.name. */}}
{{- define "jetmesh.tracingEnv" -}}
{{- with .ctx.Values.tracing }}
{{- if .otlpEndpoint }}
{{- $attrs := list (printf "k8s.namespace.name=%s" $.ctx.Release.Namespace) (printf "service.namespace=%s" $.ctx.Release.Namespace) }}
{{- range $k, $v := .resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $k $v) }}
{{- end }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $.component | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerRatio | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The EventSubscriptions with subscriber.http, each pushed by a dispatcher (docs/http.md): the
     shop.subscriptions ones and, with notifications.enabled, the notifications subscription
     with the subscriber names that mean the chart's notifications service rewritten to its
     object name (<fullname>-notifications). A map name → spec. */}}
{{- define "jetmesh.edgeSubscriptions" -}}
{{- $subs := dict }}
{{- range $name, $spec := .Values.shop.subscriptions }}{{- if and $spec.subscriber $spec.subscriber.http }}{{- $_ := set $subs $name $spec }}{{- end }}{{- end }}
{{- if .Values.notifications.enabled }}
{{- $notifications := include "jetmesh.componentName" (dict "ctx" . "component" "notifications") }}
{{- $sub := deepCopy .Values.notifications.subscription }}
{{- if and $sub.subscriber (eq ($sub.subscriber.deployment | default "") "notifications") }}{{- $_ := set $sub.subscriber "deployment" $notifications }}{{- end }}
{{- if and $sub.subscriber $sub.subscriber.http (eq ($sub.subscriber.http.service | default "") "notifications") }}{{- $_ := set $sub.subscriber.http "service" $notifications }}{{- end }}
{{- $_ := set $subs "notifications" $sub }}
{{- end }}
{{- toYaml $subs }}
{{- end -}}

{{/* Non-empty when the edge connects as its generated least-privilege users (no edge.natsAuth,
     no natsConnection.auth, the bundled NATS's generated users on): templates/edge.yaml then
     checks that each Deployment's user is declared under nats.jetmeshAuth (jetmesh.edgeNatsUsers). */}}
{{- define "jetmesh.edgeUsesGeneratedUser" -}}
{{- $auth := .Values.edge.natsAuth | default .Values.natsConnection.auth }}
{{- if and (eq ($auth.type | default "none") "none") (include "jetmesh.generatedNatsAuth" .) }}true{{ end -}}
{{- end -}}
