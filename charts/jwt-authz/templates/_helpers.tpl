{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "jwt-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-scoped, at most 63 characters (the DNS label limit that
Service names must meet). A release name that already contains the chart
name is used as is.
*/}}
{{- define "jwt-authz.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "jwt-authz.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource.
*/}}
{{- define "jwt-authz.labels" -}}
helm.sh/chart: {{ include "jwt-authz.chart" . }}
{{ include "jwt-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: authorizer
app.kubernetes.io/part-of: jwt-authz
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: name and instance only, because a Deployment's selector
cannot change after it is created.
*/}}
{{- define "jwt-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jwt-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "jwt-authz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jwt-authz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository:tag, the tag defaulting to the chart's
appVersion, with @digest appended when a digest is set.
*/}}
{{- define "jwt-authz.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Paths inside the container.
*/}}
{{- define "jwt-authz.configDir" -}}/etc/jwt-authz{{- end }}
{{- define "jwt-authz.dataDir" -}}/var/lib/jwt-authz{{- end }}
{{- define "jwt-authz.adminTokenDir" -}}/var/run/secrets/jwt-authz/admin{{- end }}
{{- define "jwt-authz.signingKeyDir" -}}/var/run/secrets/jwt-authz/signing{{- end }}
{{- define "jwt-authz.redisPasswordDir" -}}/var/run/secrets/jwt-authz/redis{{- end }}
{{- define "jwt-authz.redisSentinelPasswordDir" -}}/var/run/secrets/jwt-authz/redis-sentinel{{- end }}

{{/*
Redis topologies set, as a list: "url" (redis.url or redis.existingSecret),
"sentinel" (config.revocation.redis_sentinel), "cluster"
(config.revocation.redis_cluster).
*/}}
{{- define "jwt-authz.redisTopologies" -}}
{{- $rev := .Values.config.revocation | default dict }}
{{- $set := list }}
{{- if or .Values.redis.url .Values.redis.existingSecret }}{{ $set = append $set "url" }}{{ end }}
{{- if $rev.redis_sentinel }}{{ $set = append $set "sentinel" }}{{ end }}
{{- if $rev.redis_cluster }}{{ $set = append $set "cluster" }}{{ end }}
{{- toJson $set }}
{{- end }}

{{/*
Secret ({name, key} as JSON) holding the data nodes' password of the Redis
Sentinel or Cluster topology in use, or "" when there is none.
*/}}
{{- define "jwt-authz.redisPasswordSecret" -}}
{{- $rev := .Values.config.revocation | default dict }}
{{- $ref := dict }}
{{- if $rev.redis_sentinel }}
{{- $ref = (.Values.redis.sentinel | default dict).passwordSecret | default dict }}
{{- else if $rev.redis_cluster }}
{{- $ref = (.Values.redis.cluster | default dict).passwordSecret | default dict }}
{{- end }}
{{- if $ref.name }}{{ toJson $ref }}{{ end }}
{{- end }}

{{/*
Secret ({name, key} as JSON) holding the sentinels' own password, or "".
*/}}
{{- define "jwt-authz.redisSentinelPasswordSecret" -}}
{{- $rev := .Values.config.revocation | default dict }}
{{- $ref := (.Values.redis.sentinel | default dict).sentinelPasswordSecret | default dict }}
{{- if and $rev.redis_sentinel $ref.name }}{{ toJson $ref }}{{ end }}
{{- end }}

{{/*
Name of the Secret with the admin token.
*/}}
{{- define "jwt-authz.adminTokenSecretName" -}}
{{- .Values.adminToken.existingSecret | default (printf "%s-admin-token" (include "jwt-authz.fullname" . | trunc 51 | trimSuffix "-")) }}
{{- end }}

{{/*
Name of the Secret with the signing key, or "" when each pod keeps its own
key in the data directory.
*/}}
{{- define "jwt-authz.signingKeySecretName" -}}
{{- if .Values.issuer.existingSecret }}
{{- .Values.issuer.existingSecret }}
{{- else if .Values.issuer.generateSigningKey }}
{{- printf "%s-signing-key" (include "jwt-authz.fullname" . | trunc 51 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{/*
Whether the signing key comes from a Secret ("true" or "").
*/}}
{{- define "jwt-authz.sharedSigningKey" -}}
{{- if and (include "jwt-authz.issuerEnabled" .) (include "jwt-authz.signingKeySecretName" .) }}true{{- end }}
{{- end }}

{{/*
Whether the built-in issuer runs ("true" or ""). It is on unless
config.issuer.enabled is explicitly false.
*/}}
{{- define "jwt-authz.issuerEnabled" -}}
{{- $issuer := .Values.config.issuer | default dict }}
{{- if or (not (hasKey $issuer "enabled")) $issuer.enabled }}true{{- end }}
{{- end }}

{{/*
Revocation store: bolt unless config.revocation.store says otherwise.
*/}}
{{- define "jwt-authz.store" -}}
{{- $rev := .Values.config.revocation | default dict }}
{{- $rev.store | default "bolt" }}
{{- end }}

{{/*
Whether the data directory is a PersistentVolumeClaim ("true" or ""): only
for bbolt, which keeps revocations there.
*/}}
{{- define "jwt-authz.usePVC" -}}
{{- if and .Values.persistence.enabled (eq (include "jwt-authz.store" .) "bolt") }}true{{- end }}
{{- end }}

{{/*
Name of the data PersistentVolumeClaim.
*/}}
{{- define "jwt-authz.pvcName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "jwt-authz.fullname" . | trunc 58 | trimSuffix "-")) }}
{{- end }}

{{/*
In-cluster URL of the Service's HTTP port: the default issuer.issuer, shared
by every replica.
*/}}
{{- define "jwt-authz.serviceURL" -}}
{{- printf "http://%s.%s.svc:%d" (include "jwt-authz.fullname" .) .Release.Namespace (int .Values.service.ports.http) }}
{{- end }}

{{/*
Algorithm of the built-in issuer and the genPrivateKey type that makes a
key for it.
*/}}
{{- define "jwt-authz.keyType" -}}
{{- $issuer := .Values.config.issuer | default dict }}
{{- $alg := $issuer.algorithm | default "EdDSA" }}
{{- if eq $alg "EdDSA" }}ed25519
{{- else if eq $alg "ES256" }}ecdsa
{{- else if eq $alg "RS256" }}rsa
{{- else }}{{ fail (printf "config.issuer.algorithm %q: must be EdDSA, ES256 or RS256" $alg) }}
{{- end }}
{{- end }}

{{/*
Settings that cannot work together. Rendering fails with the reason, so a
broken release is never applied.
*/}}
{{- define "jwt-authz.validate" -}}
{{- $store := include "jwt-authz.store" . }}
{{- $multi := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- if and $multi (ne $store "redis") }}
{{- fail (printf "config.revocation.store is %q, which keeps revocations in one pod: with replicaCount > 1 or autoscaling.enabled, set config.revocation.store: redis (and redis.url or redis.existingSecret, or config.revocation.redis_sentinel or redis_cluster)" $store) }}
{{- end }}
{{- if and $multi (include "jwt-authz.issuerEnabled" .) (not (include "jwt-authz.signingKeySecretName" .)) }}
{{- fail "with replicaCount > 1 or autoscaling.enabled, every replica must sign with one key: set issuer.existingSecret (or issuer.generateSigningKey: true), or config.issuer.enabled: false" }}
{{- end }}
{{- $redis := include "jwt-authz.redisTopologies" . | fromJsonArray }}
{{- if and (eq $store "redis") (not $redis) }}
{{- fail "config.revocation.store is redis: set redis.url or redis.existingSecret, config.revocation.redis_sentinel or config.revocation.redis_cluster" }}
{{- end }}
{{- if and (ne $store "redis") $redis }}
{{- fail (printf "a Redis server is set (redis.url, redis.existingSecret, config.revocation.redis_sentinel or config.revocation.redis_cluster) but config.revocation.store is %q: set config.revocation.store: redis" $store) }}
{{- end }}
{{- if gt (len $redis) 1 }}
{{- fail "set only one of redis.url / redis.existingSecret, config.revocation.redis_sentinel and config.revocation.redis_cluster" }}
{{- end }}
{{- if and .Values.redis.url .Values.redis.existingSecret }}
{{- fail "set only one of redis.url and redis.existingSecret" }}
{{- end }}
{{- $rev := .Values.config.revocation | default dict }}
{{- $sentinel := .Values.redis.sentinel | default dict }}
{{- $cluster := .Values.redis.cluster | default dict }}
{{- if and (or ($sentinel.passwordSecret | default dict).name ($sentinel.sentinelPasswordSecret | default dict).name) (not $rev.redis_sentinel) }}
{{- fail "redis.sentinel.passwordSecret / redis.sentinel.sentinelPasswordSecret need config.revocation.redis_sentinel" }}
{{- end }}
{{- if and ($cluster.passwordSecret | default dict).name (not $rev.redis_cluster) }}
{{- fail "redis.cluster.passwordSecret needs config.revocation.redis_cluster" }}
{{- end }}
{{- if and .Values.issuer.existingSecret .Values.issuer.generateSigningKey }}
{{- fail "set only one of issuer.existingSecret and issuer.generateSigningKey" }}
{{- end }}
{{- if and .Values.issuer.previousSecretKeys (not .Values.issuer.existingSecret) }}
{{- fail "issuer.previousSecretKeys needs issuer.existingSecret" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must not be below autoscaling.minReplicas" }}
{{- end }}
{{- $ports := list (int .Values.containerPorts.grpc) (int .Values.containerPorts.http) (int .Values.containerPorts.admin) (int .Values.containerPorts.metrics) }}
{{- if ne (len (uniq $ports)) 4 }}
{{- fail "containerPorts.grpc, containerPorts.http, containerPorts.admin and containerPorts.metrics must differ" }}
{{- end }}
{{- end }}

{{/*
The config file: .Values.config with the keys that depend on the pod set by
the chart. Listeners bind every interface inside the pod; the Service and an
optional NetworkPolicy decide who reaches them. Without the admin token the
admin listener binds 127.0.0.1 only: jwt-authz refuses to serve its admin
API on another address without a token.
*/}}
{{- define "jwt-authz.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $_ := set $cfg "grpc_addr" (printf "0.0.0.0:%d" (int .Values.containerPorts.grpc)) }}
{{- $_ := set $cfg "http_addr" (printf "0.0.0.0:%d" (int .Values.containerPorts.http)) }}
{{- $adminHost := ternary "0.0.0.0" "127.0.0.1" (.Values.adminToken.enabled | default false) }}
{{- $_ := set $cfg "admin_addr" (printf "%s:%d" $adminHost (int .Values.containerPorts.admin)) }}
{{- $_ := set $cfg "metrics_addr" (printf "0.0.0.0:%d" (int .Values.containerPorts.metrics)) }}
{{- $_ := set $cfg "data_dir" (include "jwt-authz.dataDir" .) }}
{{- if .Values.adminToken.enabled }}
{{- $_ := set $cfg "admin_token_file" (printf "%s/%s" (include "jwt-authz.adminTokenDir" .) .Values.adminToken.secretKey) }}
{{- end }}
{{- $rev := deepCopy ($cfg.revocation | default dict) }}
{{- if not $rev.store }}
{{- $_ := set $rev "store" "bolt" }}
{{- end }}
{{- if .Values.redis.url }}
{{- $_ := set $rev "redis_url" .Values.redis.url }}
{{- end }}
{{- with include "jwt-authz.redisPasswordSecret" . }}
{{- with fromJson . }}
{{- $file := printf "%s/%s" (include "jwt-authz.redisPasswordDir" $) .key }}
{{- if $rev.redis_sentinel }}
{{- $_ := set $rev "redis_sentinel" (merge (dict "password_file" $file) $rev.redis_sentinel) }}
{{- else }}
{{- $_ := set $rev "redis_cluster" (merge (dict "password_file" $file) $rev.redis_cluster) }}
{{- end }}
{{- end }}
{{- end }}
{{- with include "jwt-authz.redisSentinelPasswordSecret" . }}
{{- with fromJson . }}
{{- $file := printf "%s/%s" (include "jwt-authz.redisSentinelPasswordDir" $) .key }}
{{- $_ := set $rev "redis_sentinel" (merge (dict "sentinel_password_file" $file) $rev.redis_sentinel) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "revocation" $rev }}
{{- $issuer := deepCopy ($cfg.issuer | default dict) }}
{{- if include "jwt-authz.issuerEnabled" . }}
{{- if not $issuer.issuer }}
{{- $_ := set $issuer "issuer" (include "jwt-authz.serviceURL" .) }}
{{- end }}
{{- if include "jwt-authz.signingKeySecretName" . }}
{{- $dir := include "jwt-authz.signingKeyDir" . }}
{{- $_ := set $issuer "signing_key_file" (printf "%s/%s" $dir .Values.issuer.secretKey) }}
{{- $previous := list }}
{{- range .Values.issuer.previousSecretKeys }}
{{- $previous = append $previous (printf "%s/%s" $dir .) }}
{{- end }}
{{- if $previous }}
{{- $_ := set $issuer "previous_key_files" $previous }}
{{- end }}
{{- end }}
{{- else if not $issuer.issuer }}
{{- $_ := unset $issuer "issuer" }}
{{- end }}
{{- $_ := set $cfg "issuer" $issuer }}
{{- toYaml $cfg }}
{{- end }}
