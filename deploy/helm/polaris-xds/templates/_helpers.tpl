{{/* Names, labels and the rendered configuration file shared by every template. */}}

{{/* polaris-xds.name is the chart name, or nameOverride. */}}
{{- define "polaris-xds.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* polaris-xds.fullname names every object: the release name when it already contains the chart name. */}}
{{- define "polaris-xds.fullname" -}}
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

{{- define "polaris-xds.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* polaris-xds.selectorLabels must never change after install: Deployment selectors are immutable. */}}
{{- define "polaris-xds.selectorLabels" -}}
app.kubernetes.io/name: {{ include "polaris-xds.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "polaris-xds.labels" -}}
helm.sh/chart: {{ include "polaris-xds.chart" . }}
{{ include "polaris-xds.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: control-plane
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "polaris-xds.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "polaris-xds.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "polaris-xds.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the container finds its files. */}}
{{- define "polaris-xds.configDir" -}}/etc/polaris-xds/config{{- end }}
{{- define "polaris-xds.tokenDir" -}}/etc/polaris-xds/polaris-token{{- end }}
{{- define "polaris-xds.polarisTlsDir" -}}/etc/polaris-xds/polaris-tls{{- end }}
{{- define "polaris-xds.xdsTlsDir" -}}/etc/polaris-xds/xds-tls{{- end }}

{{/*
polaris-xds.checks stops rendering on values that would give a pod that cannot work, with a
message naming the value and the fix.
*/}}
{{- define "polaris-xds.checks" -}}
{{- $file := (.Values.config | default dict).file }}
{{- if and (not .Values.polaris.addresses) (not $file) }}
{{- fail "polaris.addresses: set at least one Polaris gRPC address (host:8091), or config.file for a mesh file" }}
{{- end }}
{{- if and .Values.polaris.addresses $file }}
{{- fail "polaris.addresses and config.file are both set; choose one source (set polaris.addresses to [] for a mesh file)" }}
{{- end }}
{{- if and .Values.polaris.tokenSecret.name (not .Values.polaris.tokenSecret.key) }}
{{- fail "polaris.tokenSecret.key: name the key of the Secret that holds the token" }}
{{- end }}
{{- if and .Values.xds.tls.clientAuth (not .Values.xds.tls.secretName) }}
{{- fail "xds.tls.clientAuth needs xds.tls.secretName (a Secret with tls.crt, tls.key and ca.crt)" }}
{{- end }}
{{- if and .Values.rateLimit.enabled .Values.xds.tls.clientAuth }}
{{- fail "rateLimit.enabled with xds.tls.clientAuth: the rate-limit service has no client certificate for polaris-xds; run it yourself with CONFIG_GRPC_XDS_CLIENT_TLS_CERT/KEY, or turn clientAuth off" }}
{{- end }}
{{- $drainMs := add (mul (int64 .Values.preStopSleepSeconds) 1000) (int64 .Values.xds.drainMs) }}
{{- if le (mul (int64 .Values.terminationGracePeriodSeconds) 1000) $drainMs }}
{{- fail (printf "terminationGracePeriodSeconds (%d s) must exceed preStopSleepSeconds + xds.drainMs (%d ms), or streams are killed mid-drain" (int64 .Values.terminationGracePeriodSeconds) $drainMs) }}
{{- end }}
{{- end }}

{{/*
polaris-xds.config renders the configuration file (docs/configuration.md): .Values.config with
the keys this chart derives from its values laid over it. --admin-address and --token-file are
passed as flags instead (see deployment.yaml).
*/}}
{{- define "polaris-xds.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $polaris := deepCopy (get $cfg "polaris" | default dict) }}
{{- if .Values.polaris.addresses }}
{{- $_ := set $polaris "addresses" .Values.polaris.addresses }}
{{- end }}
{{- if .Values.polaris.namespaces }}
{{- $_ := set $polaris "namespaces" .Values.polaris.namespaces }}
{{- end }}
{{- if .Values.polaris.tls.secretName }}
{{- $dir := include "polaris-xds.polarisTlsDir" . }}
{{- $tls := dict "ca" (printf "%s/ca.crt" $dir) }}
{{- if .Values.polaris.tls.clientCert }}
{{- $_ := set $tls "cert" (printf "%s/tls.crt" $dir) }}
{{- $_ := set $tls "key" (printf "%s/tls.key" $dir) }}
{{- end }}
{{- $_ := set $polaris "tls" $tls }}
{{- end }}
{{- if $polaris }}
{{- $_ := set $cfg "polaris" $polaris }}
{{- end }}
{{- $xds := deepCopy (get $cfg "xds" | default dict) }}
{{- $_ := set $xds "address" (printf "0.0.0.0:%d" (int64 .Values.xds.port)) }}
{{- $_ := set $xds "maxConnectionAgeMs" (int64 .Values.xds.maxConnectionAgeMs) }}
{{- $_ := set $xds "maxConnectionAgeGraceMs" (int64 .Values.xds.maxConnectionAgeGraceMs) }}
{{- $_ := set $xds "drainMs" (int64 .Values.xds.drainMs) }}
{{- range $key, $value := .Values.xds.limits }}
{{- $_ := set $xds $key (int64 $value) }}
{{- end }}
{{- if .Values.xds.tls.secretName }}
{{- $dir := include "polaris-xds.xdsTlsDir" . }}
{{- $tls := dict "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir) }}
{{- if .Values.xds.tls.clientAuth }}
{{- $_ := set $tls "clientCa" (printf "%s/ca.crt" $dir) }}
{{- end }}
{{- $_ := set $xds "tls" $tls }}
{{- end }}
{{- $_ := set $cfg "xds" $xds }}
{{- $_ := set $cfg "cacheDir" .Values.cacheDir.path }}
{{- toYaml $cfg }}
{{- end }}

{{/* polaris-xds.rateLimitName names the rate-limit service's objects; polaris-xds.redisName its Redis's. */}}
{{- define "polaris-xds.rateLimitName" -}}
{{- printf "%s-ratelimit" (include "polaris-xds.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "polaris-xds.redisName" -}}
{{- printf "%s-ratelimit-redis" (include "polaris-xds.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of the rate-limit service and its Redis: another name, so that the control plane's selectors never take their pods. */}}
{{- define "polaris-xds.rateLimitSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-ratelimit" (include "polaris-xds.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "polaris-xds.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-ratelimit-redis" (include "polaris-xds.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "polaris-xds.rateLimitLabels" -}}
helm.sh/chart: {{ include "polaris-xds.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: ratelimit
app.kubernetes.io/part-of: {{ include "polaris-xds.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
